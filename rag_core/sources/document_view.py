"""Show a cited passage of an HWP/HWPX document: its paragraph with its neighbours.

An HWP document has no fixed pages (see :mod:`rag_core.ingestion.hwp`), so a source is
cited by its heading path and paragraph number, and "Show in the document" shows the
paragraphs around it with the ones holding the passage marked. The stored original is
parsed again in the limited worker (:func:`rag_core.ingestion.hwp_worker.iter_hwp_blocks`),
so the view sees exactly the paragraphs the chunks were cut from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rag_core.ingestion.hwp_worker import HwpMeta, iter_hwp_blocks
from rag_core.ingestion.tables import has_table

MIN_LINE_CHARS = 4
"""A passage line shorter than this (without spaces) is not looked up on its own."""


@dataclass(frozen=True)
class ViewParagraph:
    """One paragraph of the view.

    Attributes:
        number: its 1-based paragraph number in the document.
        label: the heading path it is under ("제3장 출장 > 제7조(여비)"; "" at the top).
        text: its text (a table as Markdown rows, notes as ``[^n]:`` lines).
        highlighted: True when it holds (part of) the cited passage.
        table: True when it holds a Markdown table.
    """

    number: int
    label: str
    text: str
    highlighted: bool = False
    table: bool = False


@dataclass
class DocumentView:
    """The paragraphs around a cited passage.

    Attributes:
        paragraphs: the cited paragraph(s) and up to ``neighbours`` on each side, in order.
        found: False when the passage was not located (the cited paragraph is shown,
            unmarked).
        n_paragraphs: paragraphs in the whole document.
    """

    paragraphs: list[ViewParagraph] = field(default_factory=list)
    found: bool = False
    n_paragraphs: int = 0


def document_paragraphs(path: Path, *, timeout_s: float = 60.0) -> list[ViewParagraph]:
    """Every body paragraph of a stored HWP/HWPX file, numbered, with its heading path.

    Args:
        path: the stored original (``.hwpx`` or ``.hwp``).
        timeout_s: wall-clock limit of the parse worker, in seconds.

    Returns:
        The paragraphs in document order (``number`` 1, 2, ...).

    Raises:
        DocumentError: the file cannot be read (see :func:`iter_hwp_blocks`).
    """
    paragraphs = []
    for item in iter_hwp_blocks(path.name, path.read_bytes(), timeout_s=timeout_s):
        if isinstance(item, HwpMeta):
            continue
        first, _last, label, text = item
        for offset, paragraph in enumerate(text.split("\n\n")):
            paragraphs.append(
                ViewParagraph(first + offset, label, paragraph, False, has_table(paragraph))
            )
    return paragraphs


def locate_paragraphs(paragraphs: list[ViewParagraph], passage: str, start: int) -> list[int]:
    """The indices of the paragraphs holding lines of ``passage``, from paragraph ``start``.

    Whitespace is ignored (as in :func:`rag_core.sources.page_view.locate_passage`); each line of
    the passage of at least :data:`MIN_LINE_CHARS` characters is looked up on its own, so
    a passage spanning paragraphs, or a table chunk whose header row was repeated, is
    found too.

    Args:
        paragraphs: from :func:`document_paragraphs`.
        passage: the chunk text.
        start: the chunk's page (its block's first paragraph number).

    Returns:
        Indices into ``paragraphs``, in order; empty when nothing matched.
    """
    lines = ["".join(line.split()) for line in passage.split("\n")]
    lines = [line for line in lines if len(line) >= MIN_LINE_CHARS]
    hits = []
    for index, paragraph in enumerate(paragraphs):
        if paragraph.number < start:
            continue
        squeezed = "".join(paragraph.text.split())
        if any(line in squeezed for line in lines):
            hits.append(index)
        elif hits:
            break  # the passage's paragraphs are consecutive
    return hits


def paragraph_view(
    path: Path, paragraph: int, passage: str, *, neighbours: int = 2, timeout_s: float = 60.0
) -> DocumentView:
    """The cited paragraph(s) of a stored HWP/HWPX file with ``neighbours`` on each side.

    Args:
        path: the stored original.
        paragraph: the chunk's ``page`` metadata (the first paragraph of its block).
        passage: the chunk text.
        neighbours: paragraphs shown before the first and after the last cited one.
        timeout_s: wall-clock limit of the parse worker, in seconds.

    Returns:
        The view; paragraphs holding the passage have ``highlighted`` True.

    Raises:
        DocumentError: the file cannot be read.
    """
    paragraphs = document_paragraphs(path, timeout_s=timeout_s)
    hits = locate_paragraphs(paragraphs, passage, paragraph)
    if hits:
        first, last = hits[0], hits[-1]
    else:
        numbers = [p.number for p in paragraphs]
        first = last = numbers.index(paragraph) if paragraph in numbers else 0
    lo, hi = max(first - neighbours, 0), min(last + neighbours + 1, len(paragraphs))
    shown = [
        ViewParagraph(p.number, p.label, p.text, index in hits, p.table)
        for index, p in enumerate(paragraphs[lo:hi], start=lo)
    ]
    return DocumentView(shown, bool(hits), len(paragraphs))


__all__ = [
    "DocumentView",
    "ViewParagraph",
    "document_paragraphs",
    "locate_paragraphs",
    "paragraph_view",
]
