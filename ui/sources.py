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
from rag_core.generation.respond import AnswerCheck
from rag_core.index.files import SourceFiles, SourceFileSet
from ui.i18n import t
from ui.resources import get_page_image
from ui.text import escape_markdown

PASSAGE_PREVIEW_CHARS = 1200


def page_label(citation: Citation) -> str:
    """The page as shown to the user: "p. 17 (printed 15)" / "17쪽 (인쇄 쪽번호 15)"."""
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
    with st.expander(label, expanded=False):
        text = citation.text
        if len(text) > PASSAGE_PREVIEW_CHARS:
            text = text[:PASSAGE_PREVIEW_CHARS] + " ..."
        st.text(text)
        for sentence in sentences:
            quoted = escape_markdown(" ".join(sentence.split()))
            st.caption(t("chat.supporting", sentence=quoted))
        st.caption(t("chat.score", score=citation.score, similarity=citation.similarity))
        stored = files.find(citation.sha256) if files is not None and citation.sha256 else None
        is_pdf = stored is not None and stored.suffix == ".pdf"
        if is_pdf and st.toggle(t("chat.show_page"), key=f"{key}_page_{citation.number}"):
            render_page(stored, citation, sentences)  # type: ignore[arg-type]


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
