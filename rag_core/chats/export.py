r"""A chat as Markdown: each question, each answer with its notices and numbered sources.

The file is read in two ways: as plain text, and in a Markdown viewer (GitHub, VS Code's
preview with linkify, Obsidian). It must read well in both, and stay inert in the viewer:
nothing from a document, a model or a person may become a link, an image or HTML
(THREATS.md rows 23-24). The page escapes every punctuation character and breaks autolinks
with invisible word joiners (:mod:`ui.text`); a file made that way reads badly
("하나요\?", "asvs5\-ko\.pdf") and its copied links break (issue 21). So the export
escapes by place instead, only what would become markup, and never adds an invisible
character:

- **Passages** (document text) go into fenced code blocks, one per source, with their own
  line breaks; the fence is a run of backticks longer than any run inside the passage
  (CommonMark 0.31, "Fenced code blocks"), so nothing in it is interpreted.
- **Short untrusted text** (the chat title, questions, the searched-for query, file names,
  printed page labels, unsupported sentences) is written as it is when it holds nothing a
  viewer would interpret (:func:`plain_inline`); otherwise the whole text goes into an
  inline code span (backticks longer than any run inside), which viewers show literally.
- **Answers, notices and error messages** keep their Markdown (lists, bold, an error's
  `` `ollama serve` ``) but are defused by :func:`inert_prose`: link and image openings
  (``](``, ``![``) and reference definitions (``[1]: ...``) get one backslash, a ``<``
  that would open a tag or an autolink gets one, and anything a viewer would autolink
  (``http://...``, ``www.x``, ``a@b.c``, ``//host``, and bare domains such as
  ``example.com`` that linkify-it links, https://github.com/markdown-it/linkify-it) is
  shown as inline code. Existing code spans are left alone.
- **Headings and labels** come from the app (:class:`ExportLabels`).
- **Invisible characters** (Unicode format characters: zero-width spaces and joiners, word
  joiners, soft hyphens, bidirectional controls) are removed from everything exported.

So ordinary prose ("비밀번호는 최소 몇 자 이상이어야 하나요?", "asvs5-ko.pdf") appears
literally, and the rendered file shows the same characters as the source. The reasoning of
an answer is never exported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rag_core.chats.history import ChatMessage
from rag_core.generation.citations import Citation
from rag_core.generation.claims import canonical_citations
from rag_core.generation.report import LANGUAGE_NAMES, NOTICE_TEXTS, Notice
from rag_core.generation.types import AnswerCheck

_TLDS = (
    "com|net|org|edu|gov|mil|int|info|biz|name|pro|aero|asia|coop|museum|shop|xxx|web|"
    "app|dev|io|ai|[a-z]{2}"
)
"""Top-level domains a bare ``name.tld`` is autolinked for: linkify-it's defaults (the
generic ones and every two-letter country code) and a few common new ones."""
_AUTOLINK = re.compile(
    r"(?:\b(?:https?|ftp|file|mailto|xmpp|javascript|data|vbscript):|(?<![\w/:])//(?=\w)"
    r"|\bwww\.)[!#-;=?-~]*"
    r"|\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    r"|(?<![A-Za-z0-9.@/_-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:" + _TLDS + r")"
    r"(?![A-Za-z0-9-])(?::\d+)?(?:[/?#][!#-;=?-~]*)?",
    re.IGNORECASE,
)
"""What a Markdown viewer may turn into a link by itself: URLs with a scheme (GFM's
extended autolinks, linkify-it's schemas), ``www.`` and ``//host`` links, e-mail addresses,
and bare domains (linkify-it's fuzzy links). Printable ASCII but ``<``, ``>`` and ``"``
(where GFM and linkify-it end a link): a Korean particle after a URL ("https://x.kr에서")
stays outside."""
_TRAILING = ".,:;!?'\")]}>*_~"
"""Trailing characters that end a sentence rather than a link (GFM's autolink rule)."""
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
"""A code span or a backtick-fenced block (left as the model wrote it)."""
_ACTIVE = re.compile(
    r"!\[|\]\(|<(?=[A-Za-z/!?])|^ {0,3}\[[^\]\n]+\]:|\\(?=[!-/:-@\[-`{-~])|[`*~]"
    r"|&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\s#+\s*$"
    r"|^\s*(?:[#>+=-]|\d+[.)])",
    re.IGNORECASE,
)
"""What makes short text more than text in a viewer: images, inline links, tags and
autolinks in ``<>``, reference definitions, backslash escapes, code, emphasis and
strikethrough, entities, underscores outside words, a closing ``#`` run of a heading, and
block markers at the start."""
_DEFUSE = re.compile(r"(?<=!)(?=\[)|(?<=\])(?=\()|(?=<[A-Za-z/!?])")
"""Where an answer gets one backslash: before the ``[`` of ``![``, the ``(`` of ``](`` and
a ``<`` that opens a tag or an autolink."""
_DEFINITION = re.compile(r"^([ \t>*+\-\d.)]*\[[^\]]+\]):", re.MULTILINE)
"""A line that would be a link reference definition (``[1]: http://...``), also inside
a list item or a block quote, its label possibly over several lines."""


def _visible(text: str) -> str:
    """``text`` without Unicode format characters (zero-width, joiners, bidi controls)."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def code_span(text: str) -> str:
    """``text`` as an inline code span that shows it literally (CommonMark 6.1).

    The backtick string is one longer than the longest run of backticks in ``text``; a
    space pads a text that starts or ends with a backtick (the viewer strips it).
    """
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def plain_inline(text: str) -> str:
    """Short untrusted text for a line of the export: as it is when inert, else code.

    Whitespace is collapsed to single spaces and invisible characters dropped. The text is
    kept as it is unless it holds something a Markdown viewer would interpret
    (:data:`_ACTIVE`) or autolink (:data:`_AUTOLINK`); then all of it is an inline code
    span (:func:`code_span`).

    Args:
        text: a title, question, query, file name, page label, error or sentence.

    Returns:
        Markdown that a viewer shows as exactly the collapsed text.
    """
    flat = " ".join(_visible(text).split())
    if _ACTIVE.search(flat) or _AUTOLINK.search(flat):
        return code_span(flat)
    return flat


def _defuse_links(text: str) -> str:
    """Autolinkable text as code spans; definitions, link and tag openings escaped."""
    text = _DEFINITION.sub(r"\1\\:", text)
    out, last = [], 0
    for match in _AUTOLINK.finditer(text):
        link = match.group(0)
        kept = link.rstrip(_TRAILING)
        if not kept:
            continue
        out += [_DEFUSE.sub(r"\\", text[last : match.start()]), code_span(kept)]
        last = match.start() + len(kept)
    out.append(_DEFUSE.sub(r"\\", text[last:]))
    return "".join(out)


def inert_prose(text: str) -> str:
    r"""Model output (or a notice) made inert for a Markdown viewer, its Markdown kept.

    Outside code spans and backtick-fenced blocks: ``![`` -> ``!\[`` (no image),
    ``](`` -> ``]\(`` (no inline link), ``]:`` -> ``]\:`` (no reference definition, so
    no ``[1]`` can resolve to a link), ``<`` before a letter, ``/``, ``!`` or ``?`` gets a
    backslash (no raw HTML, no ``<http://...>`` autolink), and whatever a viewer would
    autolink (:data:`_AUTOLINK`) becomes an inline code span, without the sentence's
    trailing punctuation. Nothing else changes; invisible characters are dropped.

    Args:
        text: Markdown from a model, or a notice naming an error.

    Returns:
        Markdown that renders the same text with no link, image or HTML element.
    """
    text = _visible(text)
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out += [_defuse_links(text[last : match.start()]), match.group(0)]
        last = match.end()
    out.append(_defuse_links(text[last:]))
    return "".join(out)


def fenced(text: str, indent: str = "") -> list[str]:
    """``text`` as a fenced code block: its lines, blank runs squeezed, nothing interpreted.

    Args:
        text: a passage (any characters).
        indent: put before every line (to nest the block in a list item).

    Returns:
        The block's lines; the fence is a backtick run longer than any inside ``text``.
    """
    lines = [line.rstrip() for line in _visible(text).strip().splitlines()]
    kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return [f"{indent}{fence}", *(f"{indent}{line}" if line else "" for line in kept),
            f"{indent}{fence}"]  # fmt: skip


@dataclass(frozen=True)
class ExportLabels:
    """The headings and labels of a Markdown export, in one language (English by default).

    Each is a :meth:`str.format` template; the UI passes its translations.

    Attributes:
        question: heading of a question (``{question}``).
        searched_for: the rewritten query (``{query}``).
        no_answer: written when an answer has no text.
        cited: heading of the sources the answer cites.
        also_retrieved: heading of the other sources the model was given.
        sources: heading of the sources of an answer that cites none.
        closest: heading when no passage was relevant enough (closest matches).
        page: a page (``{page}``).
        page_printed: a page whose printed label differs (``{page}``, ``{label}``).
        note: a notice line (``{text}``).
        unsupported: an unsupported sentence (``{n}`` the cited number, ``{sentence}``).
        retried: the answer was asked for again (``{language}``).
        notices: the notice texts by code (see
            :data:`~rag_core.generation.report.NOTICE_TEXTS`; a code missing here is
            written in English).
        languages: language names by code ("ko" -> "Korean").
    """

    question: str = "Q: {question}"
    searched_for: str = "Searched for: {query}"
    no_answer: str = "(no answer)"
    cited: str = "Cited"
    also_retrieved: str = "Also retrieved"
    sources: str = "Sources"
    closest: str = "Closest matches"
    page: str = "p. {page}"
    page_printed: str = "p. {page} (printed {label})"
    note: str = "Note: {text}"
    unsupported: str = "Not supported by [{n}]: {sentence}"
    retried: str = "Asked again for an answer in {language}."
    notices: Mapping[str, str] = field(default_factory=lambda: dict(NOTICE_TEXTS))
    languages: Mapping[str, str] = field(default_factory=lambda: dict(LANGUAGE_NAMES))

    def notice(self, notice: Notice, check: AnswerCheck) -> str:
        """One notice in these labels' language (the answer's language named in it)."""
        params = dict(notice.params)
        if notice.code == "language":
            code = check.answer_language
            params["answer_language"] = self.languages.get(code, code or "?")
        template = self.notices.get(notice.code, NOTICE_TEXTS[notice.code])  # English if new
        return template.format(**params)

    def page_of(self, citation: Citation, escape: Callable[[str], str] = plain_inline) -> str:
        """The page of ``citation`` ("p. 17 (printed 15)"), the printed label escaped."""
        if citation.printed_label:
            return self.page_printed.format(
                page=citation.page, label=escape(citation.printed_label)
            )
        return self.page.format(page=citation.page)


def _export_answer(message: ChatMessage, labels: ExportLabels) -> list[str]:
    """The Markdown lines of one answer: query, text, error, notices, marks, sources."""
    lines = []
    if message.query:
        lines += [f"_{labels.searched_for.format(query=plain_inline(message.query))}_", ""]
    content = canonical_citations(message.content)
    lines += [inert_prose(content).strip() if content else labels.no_answer, ""]
    if message.error:
        lines += [f"> {' '.join(inert_prose(message.error).split())}", ""]
    marks = []
    if message.retry_language:
        language = labels.languages.get(message.retry_language, message.retry_language)
        marks.append(labels.retried.format(language=language))
    if message.check is not None:
        for notice in message.notices():
            text = labels.note.format(text=labels.notice(notice, message.check))
            marks.append(" ".join(inert_prose(text).split()))
        for claim in message.check.unsupported:
            sentence = plain_inline(claim.text)
            marks.append(labels.unsupported.format(n=claim.source, sentence=sentence))
    if marks:
        lines += [f"> {mark}  " for mark in marks] + [""]
    return lines + _export_sources(message, labels)


def _export_sources(message: ChatMessage, labels: ExportLabels) -> list[str]:
    """The sources of an answer: Cited, then Also retrieved (or Closest matches).

    Each source is a list item ``- [n] file, p. N:`` with its passage in a fenced code
    block inside the item.
    """
    if not message.citations:
        return []
    by_number = {c.number: c for c in message.citations}
    cited = [by_number[n] for n in message.cited if n in by_number]
    if not message.relevant:
        groups = [(labels.closest, message.citations)]
    elif not cited:
        groups = [(labels.sources, message.citations)]
    else:
        rest = [c for c in message.citations if c not in cited]
        groups = [(labels.cited, cited), (labels.also_retrieved, rest)]
    lines = []
    for heading, citations in groups:
        if not citations:
            continue
        lines += [f"**{heading}**", ""]
        for c in citations:
            lines += [f"- [{c.number}] {plain_inline(c.source)}, {labels.page_of(c)}:", ""]
            lines += [*fenced(c.text, indent="  "), ""]
    return lines


def chat_to_markdown(
    title: str, messages: Sequence[ChatMessage], *, labels: ExportLabels | None = None
) -> str:
    """Render a chat as Markdown: each question, each answer with its marks and sources.

    An answer carries what the app shows under it: the query it searched for, the note
    that it was asked for again in the question's language, the notices (no citation,
    invalid numbers, unsupported statements, truncation, language), each unsupported
    sentence, and its sources split into "Cited" and "Also retrieved" ("Closest matches"
    when nothing was relevant, "Sources" when the answer cites none). The model's
    reasoning is never exported. What comes from a document, a model or a person is
    written as the module docstring says: inert in a Markdown viewer, literal as text.

    Args:
        title: the chat's title (first line, as a heading).
        messages: the chat's messages in order.
        labels: headings and labels in the reader's language (English if None).

    Returns:
        Markdown text; every source is listed as ``- [n] file, p. N:`` followed by its
        passage in a fenced code block.
    """
    labels = labels or ExportLabels()
    lines = [f"# {plain_inline(title)}", ""]
    for message in messages:
        if message.role == "user":
            question = plain_inline(message.content)
            lines += [f"## {labels.question.format(question=question)}", ""]
        else:
            lines += _export_answer(message, labels)
    return "\n".join(lines).rstrip() + "\n"


__all__ = [
    "ExportLabels",
    "chat_to_markdown",
    "code_span",
    "fenced",
    "inert_prose",
    "plain_inline",
]
