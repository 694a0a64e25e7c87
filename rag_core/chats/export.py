"""A chat as Markdown: each question, each answer with its notices and numbered sources.

Labels come in the UI language (:class:`ExportLabels`) and everything from a document or a
model goes through the ``escape`` / ``sanitize`` functions the caller gives, so an exported
file opened in a Markdown viewer renders nothing from a document as Markdown. The reasoning
of an answer is never exported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rag_core.chats.history import ChatMessage
from rag_core.generation.citations import Citation
from rag_core.generation.claims import canonical_citations
from rag_core.generation.report import LANGUAGE_NAMES, NOTICE_TEXTS, Notice
from rag_core.generation.types import AnswerCheck


def _same(text: str) -> str:
    return text


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

    def page_of(self, citation: Citation, escape: Callable[[str], str] = _same) -> str:
        """The page of ``citation`` ("p. 17 (printed 15)"), the printed label escaped."""
        if citation.printed_label:
            return self.page_printed.format(
                page=citation.page, label=escape(citation.printed_label)
            )
        return self.page.format(page=citation.page)


def _export_answer(
    message: ChatMessage,
    labels: ExportLabels,
    escape: Callable[[str], str],
    sanitize: Callable[[str], str],
) -> list[str]:
    """The Markdown lines of one answer: query, text, error, notices, marks, sources."""
    lines = []
    if message.query:
        lines += [f"_{labels.searched_for.format(query=escape(message.query))}_", ""]
    content = canonical_citations(message.content)
    lines += [sanitize(content) if content else labels.no_answer, ""]
    if message.error:
        lines += [f"> {escape(' '.join(message.error.split()))}", ""]
    marks = []
    if message.retry_language:
        language = labels.languages.get(message.retry_language, message.retry_language)
        marks.append(labels.retried.format(language=language))
    if message.check is not None:
        marks += [labels.note.format(text=labels.notice(n, message.check))
                  for n in message.notices()]  # fmt: skip
        for claim in message.check.unsupported:
            sentence = escape(" ".join(claim.text.split()))
            marks.append(labels.unsupported.format(n=claim.source, sentence=sentence))
    if marks:
        lines += [f"> {mark}  " for mark in marks] + [""]
    return lines + _export_sources(message, labels, escape)


def _export_sources(
    message: ChatMessage, labels: ExportLabels, escape: Callable[[str], str]
) -> list[str]:
    """The sources of an answer: Cited, then Also retrieved (or Closest matches)."""
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
            passage = escape(" ".join(c.text.split()))
            lines.append(
                f'- [{c.number}] {escape(c.source)}, {labels.page_of(c, escape)}: "{passage}"'
            )
        lines.append("")
    return lines


def chat_to_markdown(
    title: str,
    messages: Sequence[ChatMessage],
    *,
    labels: ExportLabels | None = None,
    escape: Callable[[str], str] = _same,
    sanitize: Callable[[str], str] = _same,
) -> str:
    """Render a chat as Markdown: each question, each answer with its marks and sources.

    An answer carries what the app shows under it: the query it searched for, the note
    that it was asked for again in the question's language, the notices (no citation,
    invalid numbers, unsupported statements, truncation, language), each unsupported
    sentence, and its sources split into "Cited" and "Also retrieved" ("Closest matches"
    when nothing was relevant, "Sources" when the answer cites none). The model's
    reasoning is never exported.

    Args:
        title: the chat's title (first line, as a heading).
        messages: the chat's messages in order.
        labels: headings and labels in the reader's language (English if None).
        escape: applied to everything from a document or a person (title, questions, file
            names, page labels, passages, the query, unsupported sentences, errors), e.g.
            the UI's Markdown escaper, so a Markdown viewer renders none of it as Markdown.
        sanitize: applied to each answer's text (model output), e.g. one that defuses
            links, images and HTML but keeps the answer's own Markdown.

    Returns:
        Markdown text; every source is listed as ``- [n] file, p. N: "passage"``.
    """
    labels = labels or ExportLabels()
    lines = [f"# {escape(title)}", ""]
    for message in messages:
        if message.role == "user":
            question = escape(" ".join(message.content.split()))
            lines += [f"## {labels.question.format(question=question)}", ""]
        else:
            lines += _export_answer(message, labels, escape, sanitize)
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["ExportLabels", "chat_to_markdown"]
