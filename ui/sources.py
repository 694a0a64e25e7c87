"""The sources under an answer: "Cited" and "Also retrieved", each passage and its page.

A passage is shown as plain text (``st.text``, never Markdown or HTML); the sentence(s)
of it that support the answer are quoted under it (escaped) and highlighted on the page
image, which falls back to the whole passage when a sentence cannot be located.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from rag_core.errors import DocumentError
from rag_core.generation.citations import Citation
from rag_core.generation.types import AnswerCheck
from rag_core.index.files import SourceFiles, SourceFileSet
from rag_core.ingestion.tables import parse_markdown_table
from ui.i18n import t
from ui.resources import get_page_image, get_paragraph_view
from ui.text import escape_markdown

PASSAGE_PREVIEW_CHARS = 1200
HWP_KINDS = ("hwpx", "hwp")


def page_label(citation: Citation) -> str:
    """The page as shown to the user: "p. 17 (printed 15)" / "17쪽 (인쇄 쪽번호 15)".

    An HWP / HWPX source has no pages: its heading path and paragraph number instead
    ("제3장 출장 > 제7조, ¶ 12").
    """
    if citation.kind in HWP_KINDS:
        paragraph = t("chat.paragraph", paragraph=citation.page)
        if citation.printed_label:
            return f"{escape_markdown(citation.printed_label)}, {paragraph}"
        return paragraph
    if citation.printed_label:
        # the label is written by the PDF's author (/PageLabels): escaped like a file name
        label = escape_markdown(citation.printed_label)
        return t("chat.page_printed", page=citation.page, label=label)
    return t("chat.page", page=citation.page)


def supporting_sentences(citation: Citation, check: AnswerCheck | None) -> list[str]:
    """The sentences of ``citation``'s passage that support a claim of the answer.

    Args:
        citation: one numbered source.
        check: the answer's check (None: nothing is known to be supported).

    Returns:
        Distinct sentences in the order the claims name them (the ``spans`` of the
        supported claims whose best source is this citation).
    """
    if check is None:
        return []
    found: list[str] = []
    for claim in check.claims:
        if claim.supported and claim.source == citation.number:
            for start, end in claim.spans:
                sentence = citation.text[start:end].strip()
                if sentence and sentence not in found:
                    found.append(sentence)
    return found


def render_sources(
    citations: list[Citation],
    *,
    cited: Sequence[int] = (),
    relevant: bool = True,
    check: AnswerCheck | None = None,
    files: SourceFiles | SourceFileSet | None = None,
    key: str = "sources",
) -> None:
    """Show the numbered sources under an answer, the cited ones first.

    Titles: "Cited" (the numbers in ``cited``, in that order) and "Also retrieved" (the
    rest); "Sources" when the answer cites none, "Closest matches" when nothing was
    relevant enough.

    Args:
        citations: the answer's numbered sources.
        cited: the valid numbers the answer cites, in order.
        relevant: False when the sources are only the closest matches.
        check: the answer's check (for the supporting sentences); None if unknown.
        files: the stored original files (for the page view); None hides it.
        key: a prefix making widget keys unique per answer.
    """
    if not citations:
        st.caption(t("chat.no_passages"))
        return
    by_number = {c.number: c for c in citations}
    first = [by_number[n] for n in cited if n in by_number] if relevant else []
    rest = [c for c in citations if c not in first]
    if not relevant:
        groups = [(t("chat.closest"), citations)]
    elif not first:
        groups = [(t("chat.sources"), citations)]
    else:
        groups = [(t("chat.cited"), first), (t("chat.also_retrieved"), rest)]
    for title, group in groups:
        if group:
            st.markdown(f"**{title}** ({len(group)})")
        for citation in group:
            render_source(citation, supporting_sentences(citation, check), files=files, key=key)


def render_source(
    citation: Citation,
    sentences: list[str],
    *,
    files: SourceFiles | SourceFileSet | None,
    key: str,
) -> None:
    """One source in an expander: file, page, passage, supporting sentences, score, page."""
    label = f"[{citation.number}] {escape_markdown(citation.source)}, {page_label(citation)}"
    if citation.section_display:  # the heading path, written by the document's author
        label += f" · {escape_markdown(citation.section_display)}"
    if citation.ocr:
        label += f" · {t('chat.ocr')}"
    with st.expander(label, expanded=False):
        render_passage(citation.text, table=citation.table)
        for sentence in sentences:
            quoted = escape_markdown(" ".join(sentence.split()))
            st.caption(t("chat.supporting", sentence=quoted))
        st.caption(t("chat.score", score=citation.score, similarity=citation.similarity))
        stored = files.find(citation.sha256) if files is not None and citation.sha256 else None
        is_pdf = stored is not None and stored.suffix == ".pdf"
        if is_pdf and st.toggle(t("chat.show_page"), key=f"{key}_page_{citation.number}"):
            render_page(stored, citation, sentences)  # type: ignore[arg-type]
        is_hwp = stored is not None and stored.suffix in (".hwpx", ".hwp")
        if is_hwp and st.toggle(t("chat.show_document"), key=f"{key}_doc_{citation.number}"):
            render_paragraphs(stored, citation)  # type: ignore[arg-type]
        if stored is None and files is not None and citation.sha256:
            st.caption(t("chat.source_gone"))  # deleted since the answer: say why no page


def render_passage(text: str, *, table: bool = False) -> None:
    """A passage as plain text, or a Markdown table passage as a table (cells are text)."""
    parsed = parse_markdown_table(text) if table else None
    if parsed:
        header, rows = parsed
        st.dataframe(
            [dict(zip(_unique(header), row, strict=False)) for row in rows],
            hide_index=True,
            width="stretch",
        )
        return
    if len(text) > PASSAGE_PREVIEW_CHARS:
        text = text[:PASSAGE_PREVIEW_CHARS] + " ..."
    st.text(text)


def _unique(header: list[str]) -> list[str]:
    """Column names made unique (a table may repeat a header cell; dicts would merge them)."""
    seen: dict[str, int] = {}
    names = []
    for cell in header:
        seen[cell] = seen.get(cell, 0) + 1
        names.append(cell if seen[cell] == 1 else f"{cell} ({seen[cell]})")
    return names


def render_paragraphs(path: Path, citation: Citation) -> None:
    """An HWP / HWPX source in its document: the cited paragraphs and their neighbours."""
    try:
        view = get_paragraph_view(str(path), citation.page, citation.text)
    except DocumentError as exc:
        st.error(escape_markdown(str(exc)))
        return
    for paragraph in view.paragraphs:
        heading = t("chat.paragraph", paragraph=paragraph.number)
        if paragraph.label:
            heading += f" · {escape_markdown(paragraph.label)}"
        st.caption(heading)
        with st.container(border=paragraph.highlighted):
            render_passage(paragraph.text, table=paragraph.table)
    if not view.found:
        st.caption(t("chat.not_located"))


def render_page(path: Path, citation: Citation, sentences: Sequence[str] = ()) -> None:
    """Show the cited PDF page with the supporting sentences (else the passage) highlighted."""
    try:
        png, highlighted = get_page_image(str(path), citation.page, citation.text, sentences)
    except DocumentError as exc:
        st.error(escape_markdown(str(exc)))
        return
    caption = f"{escape_markdown(citation.source)}, {page_label(citation)}"
    if not highlighted:
        caption += " " + t("chat.not_located")
    elif highlighted == "sentences":
        caption += " " + t("chat.sentence_highlighted")
    st.image(png, caption=caption, width="stretch")


__all__ = ["page_label", "render_page", "render_source", "render_sources", "supporting_sentences"]
