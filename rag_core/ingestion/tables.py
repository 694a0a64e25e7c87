"""Tables as Markdown rows, and a splitting step that keeps every row whole.

A table reaches the pipeline as GitHub-flavoured Markdown
(https://github.github.com/gfm/#tables-extension-): a header row, a ``| --- |`` separator
and one line per row, from the HWP/HWPX document structure (:mod:`rag_core.ingestion.hwp`)
or from pdfplumber's table finder on PDF pages (:mod:`rag_core.ingestion.pdf_tables`).
:func:`split_page_with_tables` cuts a page that holds such tables: the prose around them
goes through the usual text splitter, and each table is cut between rows only, every
chunk starting with the table's caption (the short line above it, if any), header row and
separator. So a chunk of a table always says what its numbers are and holds each row's
label with its values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: the parse worker imports this module
    from langchain_core.documents import Document
    from langchain_text_splitters import TextSplitter

TABLE_KEY = "table"
"""Chunk metadata flag: True on a chunk cut from a table (its text is a Markdown table)."""
SEPARATOR_LINE = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+\s*$")
MAX_CAPTION_CHARS = 120
"""The line just above a table, if at most this long, is its caption: repeated in every
chunk of the table with the header ("Table 2. Busan office", "<별표 1> 직급별 여비")."""
MAX_TABLE_CELLS = 20_000
"""Cells kept per table (rows x columns); a larger table is cut (a crafted row or column
span must not make a grid of millions of cells)."""


@dataclass(frozen=True)
class Piece:
    """A chunk's text with its character offsets in the page text.

    Attributes:
        text: the chunk text.
        start: offset of the chunk's first character in the page (for a table chunk: of
            its first row; the repeated header is not part of that span).
        end: offset just past its last character in the page.
        table: True when the chunk was cut from a table.
    """

    text: str
    start: int
    end: int
    table: bool = False


def clean_cell(text: str) -> str:
    """One cell as Markdown: whitespace (line breaks too) collapsed, ``|`` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def markdown_row(cells: Sequence[str]) -> str:
    """``| a | b |`` from cells that are already clean (see :func:`clean_cell`)."""
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str:
    """Write a table as Markdown: ``rows[0]`` is the header, then one line per row.

    Args:
        rows: the cells row by row (``None`` = empty cell); rows may differ in length and
            are padded to the widest.

    Returns:
        The header line, a separator line and the body lines, joined by newlines; rows
        whose cells are all empty are left out. ``""`` when no cell has text.
    """
    cleaned = [[clean_cell(cell or "") for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return ""
    width = max(len(row) for row in cleaned)
    padded = [row + [""] * (width - len(row)) for row in cleaned]
    lines = [markdown_row(padded[0]), markdown_row(["---"] * width)]
    lines.extend(markdown_row(row) for row in padded[1:])
    return "\n".join(lines)


def fill_spans(
    cells: Iterable[tuple[int, int, int, int, str]], n_rows: int, n_cols: int
) -> list[list[str]]:
    """Lay merged cells out on a grid, repeating a merged cell's text in every slot.

    Repeating it keeps each row's label beside its values when the label cell spans
    several rows (common in Korean forms: "국내 | 일비 | ...", "국내 | 숙박비 | ...").

    Args:
        cells: ``(row, column, row span, column span, text)`` with 0-based addresses.
        n_rows: rows of the table.
        n_cols: columns of the table.

    Returns:
        ``n_rows`` lists of ``n_cols`` strings (at most :data:`MAX_TABLE_CELLS` cells).
    """
    n_rows = max(0, min(n_rows, MAX_TABLE_CELLS // max(n_cols, 1)))
    grid = [[""] * n_cols for _ in range(n_rows)]
    for row, col, row_span, col_span, text in cells:
        for r in range(max(row, 0), min(row + max(row_span, 1), n_rows)):
            for c in range(max(col, 0), min(col + max(col_span, 1), n_cols)):
                grid[r][c] = text
    return grid


def table_spans(text: str) -> list[tuple[int, int]]:
    """Find the Markdown tables in ``text``.

    Args:
        text: a page's text.

    Returns:
        ``(start, end)`` character offsets of each table: from its header line to the end
        of its last row line (without the final newline), in order.
    """
    spans: list[tuple[int, int]] = []
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    index = 0
    while index < len(lines) - 1:
        header, separator = lines[index].strip(), lines[index + 1].strip()
        if header.startswith("|") and header.endswith("|") and SEPARATOR_LINE.match(separator):
            last = index + 1
            while last + 1 < len(lines) and lines[last + 1].strip().startswith("|"):
                last += 1
            spans.append((offsets[index], offsets[last] + len(lines[last].rstrip("\r\n"))))
            index = last + 1
        else:
            index += 1
    return spans


def has_table(text: str) -> bool:
    """True when ``text`` holds a Markdown table (see :func:`table_spans`)."""
    return "|" in text and bool(table_spans(text))


def split_table(text: str, start: int, chunk_size: int, caption: str = "") -> list[Piece]:
    """Cut one Markdown table between rows, repeating its caption and header in every chunk.

    Args:
        text: the table (header line, separator line, row lines).
        start: the table's offset in its page.
        chunk_size: the most characters a chunk should have; a single row longer than
            that still makes one chunk (with the header): a row is never cut.
        caption: a line put above the header in every chunk ("" for none).

    Returns:
        The table's chunks in order (one when it fits).
    """
    lines = text.split("\n")
    head = "\n".join(lines[:2])
    rows: list[tuple[str, int]] = []
    offset = start + len(head) + 1
    head = f"{caption}\n{head}" if caption else head
    for line in lines[2:]:
        rows.append((line, offset))
        offset += len(line) + 1
    if not rows:
        return [Piece(head, start, start + len(text), table=True)]
    pieces: list[Piece] = []
    batch: list[tuple[str, int]] = []
    for row in rows:
        size = len(head) + sum(len(r) + 1 for r, _ in batch) + len(row[0]) + 1
        if batch and size > chunk_size:
            pieces.append(_table_piece(head, batch, start if not pieces else None))
            batch = []
        batch.append(row)
    pieces.append(_table_piece(head, batch, start if not pieces else None))
    return pieces


def _table_piece(head: str, rows: list[tuple[str, int]], start: int | None) -> Piece:
    """A chunk of the header plus ``rows``; ``start`` overrides the span's start."""
    body = "\n".join(line for line, _ in rows)
    last_line, last_start = rows[-1]
    first = rows[0][1] if start is None else start
    return Piece(head + "\n" + body, first, last_start + len(last_line), table=True)


def split_text_with_tables(text: str, splitter: TextSplitter, chunk_size: int) -> list[Piece]:
    """Split a page's text: prose with ``splitter``, tables row-wise with their header.

    Args:
        text: the page's text.
        splitter: the prose splitter (:func:`rag_core.ingestion.splitting.build_splitter`).
        chunk_size: the splitter's chunk size, in characters.

    Returns:
        The chunks in page order with their offsets.
    """
    pieces: list[Piece] = []
    cursor = 0
    for start, end in [*table_spans(text), (len(text), len(text))]:
        pieces.extend(_prose_pieces(text[cursor:start], cursor, splitter))
        if end > start:
            pieces.extend(split_table(text[start:end], start, chunk_size, caption_of(text, start)))
        cursor = end
    return pieces


def caption_of(text: str, start: int) -> str:
    """The line just above offset ``start`` when it is short enough to be a caption.

    Returns:
        The line (stripped), or ``""`` when it is longer than :data:`MAX_CAPTION_CHARS`,
        empty, or a table row.
    """
    before = text[:start].rstrip()
    line = before[before.rfind("\n") + 1 :].strip()
    if not line or len(line) > MAX_CAPTION_CHARS or line.startswith("|"):
        return ""
    return line


def _prose_pieces(prose: str, offset: int, splitter: TextSplitter) -> list[Piece]:
    """The splitter's chunks of ``prose`` (found at ``offset`` of the page), located."""
    pieces = []
    search = 0
    for chunk in splitter.split_text(prose):
        if not chunk.strip():
            continue
        found = prose.find(chunk, search)
        where = found if found >= 0 else search
        pieces.append(Piece(chunk, offset + where, offset + where + len(chunk)))
        search = where + 1
    return pieces


def split_page_with_tables(page: Document, splitter: TextSplitter) -> list[Document]:
    """Split a page Document that holds Markdown tables (see :func:`split_text_with_tables`).

    Args:
        page: a page with metadata (copied into every chunk).
        splitter: the prose splitter; its chunk size also bounds the table chunks.

    Returns:
        Chunk Documents with the page's metadata plus ``start_index``, ``end_index`` and,
        on chunks cut from a table, :data:`TABLE_KEY` = True.
    """
    from langchain_core.documents import Document

    # TextSplitter keeps its size in a private attribute; 500 is the project's default.
    chunk_size = int(getattr(splitter, "_chunk_size", 500))
    chunks = []
    for piece in split_text_with_tables(page.page_content, splitter, chunk_size):
        metadata = {**page.metadata, "start_index": piece.start, "end_index": piece.end}
        if piece.table:
            metadata[TABLE_KEY] = True
        chunks.append(Document(page_content=piece.text, metadata=metadata))
    return chunks


def parse_markdown_table(text: str) -> tuple[list[str], list[list[str]]] | None:
    r"""Read a chunk's Markdown table back into cells (for showing it as a table).

    Args:
        text: a chunk's text.

    Returns:
        ``(header cells, body rows)`` of the first table in ``text``, each row padded or
        cut to the header's width with ``\|`` unescaped; None when there is no table.
    """
    spans = table_spans(text)
    if not spans:
        return None
    start, end = spans[0]
    lines = text[start:end].split("\n")
    rows = [_cells(line) for line in lines if line.strip() and not SEPARATOR_LINE.match(line)]
    header, body = rows[0], rows[1:]
    width = len(header)
    return header, [(row + [""] * width)[:width] for row in body]


def _cells(line: str) -> list[str]:
    r"""The cells of one Markdown row line, ``\|`` unescaped."""
    inner = line.strip()[1:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


__all__ = [
    "TABLE_KEY",
    "Piece",
    "caption_of",
    "clean_cell",
    "fill_spans",
    "has_table",
    "markdown_table",
    "parse_markdown_table",
    "split_page_with_tables",
    "split_table",
    "split_text_with_tables",
    "table_spans",
]
