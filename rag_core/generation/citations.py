"""Retrieved chunks -> numbered citations shown beside the answer, and the prompt context.

The number a passage has in the prompt (``[1]``, ``[2]`` ...) is the number the user sees
beside the answer, so a citation in the answer always points at the listed source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.documents import Document

from rag_core.generation import claims

SECTION_DISPLAY_CHARS = 120
"""Characters of a heading path shown beside a page (the UI, the CLI)."""


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer.

    Attributes:
        number: 1-based number used in the prompt and in the answer ("[number]").
        source: display name of the file.
        page: 1-based physical page number in the file.
        page_label: the page's printed label (e.g. "xii", "15"); equals ``str(page)`` when
            the PDF has no labels.
        text: the passage (the chunk's text).
        score: the retriever's score for this chunk (mode dependent, see
            :mod:`rag_core.retrieval`).
        similarity: cosine similarity of the chunk to the question, in [-1, 1].
        chunk_id: the chunk's id in the collection.
        sha256: the document's content hash.
        start_index: character offset of the passage in its page's text (-1 if unknown).
        ocr: the passage was recognised by OCR from a page image (the sources say "OCR").
        section: the heading path of the passage ("Chapter > Section"), from the PDF's
            bookmarks or headings or the HWP's heading path; "" when unknown. Written by
            the document's author: printable and bounded, but to be escaped when shown.
        kind: the source's format when it has no fixed pages ("hwpx", "hwp": ``page`` is
            then a paragraph number and ``page_label`` the heading path); "" for PDFs and
            text files.
        table: the passage holds a Markdown table (the sources show it as a table).
    """

    number: int
    source: str
    page: int
    page_label: str
    text: str
    score: float = 0.0
    similarity: float = 0.0
    chunk_id: str = ""
    sha256: str = ""
    start_index: int = -1
    ocr: bool = False
    section: str = ""
    kind: str = ""
    table: bool = False

    @property
    def printed_label(self) -> str:
        """The printed page label when it differs from the page number, else ""."""
        return self.page_label if self.page_label not in ("", str(self.page)) else ""

    @property
    def page_display(self) -> str:
        """Return "p. 15", or "p. 17 (printed 15)" when the printed label differs."""
        if self.printed_label:
            return f"p. {self.page} (printed {self.printed_label})"
        return f"p. {self.page}"

    @property
    def section_display(self) -> str:
        """The heading path to show beside the page, at most 120 characters; "" if none.

        Empty when it only repeats the page label (an HWP page is labelled with its
        path); a longer path keeps its end (the deepest headings) after "…".
        """
        if not self.section or self.section == self.page_label:
            return ""
        if len(self.section) <= SECTION_DISPLAY_CHARS:
            return self.section
        return "…" + self.section[-(SECTION_DISPLAY_CHARS - 1) :]

    @property
    def location(self) -> str:
        """The page and the heading path: "p. 57 · Formulae > Single Equations" (CLI)."""
        section = self.section_display
        return f"{self.page_display} · {section}" if section else self.page_display

    def to_dict(self) -> dict[str, Any]:
        """Return the citation as a JSON-ready dict."""
        return asdict(self)


def build_citations(docs: list[Document]) -> list[Citation]:
    """Number retrieved chunks 1..n in retrieval order.

    Args:
        docs: chunks from a retriever, best first, with metadata ``source``, ``page``,
            ``page_label``, ``sha256`` (as written by :mod:`rag_core.ingestion.loaders`).

    Returns:
        One Citation per chunk, numbered from 1.
    """
    citations = []
    for number, doc in enumerate(docs, start=1):
        meta = doc.metadata
        page = int(meta.get("page", 0) or 0)
        citations.append(
            Citation(
                number=number,
                source=str(meta.get("source", "")),
                page=page,
                page_label=str(meta.get("page_label") or page),
                text=doc.page_content,
                score=float(meta.get("score", 0.0) or 0.0),
                similarity=float(meta.get("similarity", 0.0) or 0.0),
                chunk_id=str(doc.id or ""),
                sha256=str(meta.get("sha256", "")),
                start_index=int(meta.get("start_index", -1)),
                ocr=bool(meta.get("ocr", False)),
                section=str(meta.get("section") or ""),
                kind=str(meta.get("kind") or ""),
                table=bool(meta.get("table", False)),
            )
        )
    return citations


def format_context(docs: list[Document]) -> str:
    """Render chunks as the numbered context block of the prompt.

    Each passage starts on its own line as ``[n] (file, p. N) text`` so the model can cite
    it by number.

    Args:
        docs: the retrieved chunks, best first.

    Returns:
        The context text; "(no passages found)" when ``docs`` is empty.
    """
    if not docs:
        return "(no passages found)"
    blocks = []
    for citation in build_citations(docs):
        text = " ".join(citation.text.split())
        blocks.append(f"[{citation.number}] ({citation.source}, {citation.page_display}) {text}")
    return "\n\n".join(blocks)


def cited_numbers(answer: str) -> list[int]:
    """Return the source numbers an answer cites, in order of first appearance.

    Delegates to :func:`rag_core.generation.claims.cited_numbers`, which reads every
    common form (``[1]``, ``[1, 2]``, ``[1-3]``, ``[^2]``, ``【1】``, ``[Source 1]`` ...).

    Args:
        answer: the model's answer text.

    Returns:
        Distinct numbers, valid or not, e.g. ``[1, 3]``.
    """
    return claims.cited_numbers(answer)


__all__ = ["Citation", "build_citations", "cited_numbers", "format_context"]
