"""Tables on PDF pages: a cheap ruling test on the content stream, pdfplumber where it passes.

pdfplumber (https://github.com/jsvine/pdfplumber, MIT; no models) finds tables from the
ruling lines of a page ("lines" strategy), but it lays out every character of the page
with pdfminer first (about 0.15 s a page here) and walks the whole page tree once (0.6 s
for 311 pages). So it only runs when ``RAG_PDF_TABLES=auto`` (off by default: see the
docs/formats.md's measurements) and then only on pages whose decoded content stream, already read
by pypdf, draws rulings at :data:`MIN_HORIZONTAL` distinct heights and
:data:`MIN_VERTICAL` distinct x positions (:func:`ruling_counts`, a regular-expression
scan of about 0.5 ms a page). Text-only pages, framed single columns and tables drawn
with horizontal rules only (LaTeX's booktabs) never reach pdfplumber. On a page where it
finds a table of at least 2 x 2 cells, the page text becomes pdfplumber's text outside
the tables with each table as Markdown rows
(:func:`rag_core.ingestion.tables.markdown_table`) at its place, top to bottom.

This module runs inside the parse worker (:mod:`rag_core.ingestion.worker`).
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from rag_core.ingestion.tables import markdown_table

logger = logging.getLogger(__name__)

MIN_RULING_PT = 12.0
"""Shortest segment counted as a ruling, in points (tick marks of plots are shorter)."""
MIN_HORIZONTAL = 3
MIN_VERTICAL = 3
"""A table of two columns has rulings at three x positions (left, between, right)."""
THIN_PT = 2.0
"""A rectangle thinner than this (points) is a ruling line, not a box."""


_NUMBER = rb"(-?[\d.]+)"
_PATH_OPERATOR = re.compile(rb"\s(?:re|l)\s")
_RECT = re.compile(rb"%s\s+%s\s+%s\s+%s\s+re(?![A-Za-z])" % ((_NUMBER,) * 4))
_LINE = re.compile(rb"%s\s+%s\s+m\s+%s\s+%s\s+l(?![A-Za-z])" % ((_NUMBER,) * 4))


def ruling_counts(content: bytes) -> tuple[int, int]:
    """Count the distinct positions of horizontal and vertical rulings a page draws.

    Rulings are ``x y w h re`` rectangles thinner than :data:`THIN_PT` (a larger box
    counts its four edges) and ``x y m x y l`` segments, at least :data:`MIN_RULING_PT`
    long; positions are rounded to whole points. A grid of two columns has three distinct
    vertical positions, a boxed single column (a framed code listing) only two.
    Coordinates are read as written (a scaling ``cm`` is ignored): this only decides
    whether pdfplumber looks at the page.

    Args:
        content: the page's decoded content stream.

    Returns:
        ``(distinct y of horizontal rulings, distinct x of vertical rulings)``.
    """
    if len(_PATH_OPERATOR.findall(content)) < MIN_HORIZONTAL + MIN_VERTICAL:
        return 0, 0
    boxes = [tuple(float(v) for v in m.groups()) for m in _RECT.finditer(content)]
    for m in _LINE.finditer(content):
        x0, y0, x1, y1 = (float(v) for v in m.groups())
        if abs(y1 - y0) < THIN_PT / 4 or abs(x1 - x0) < THIN_PT / 4:
            boxes.append((min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)))
    rows: set[int] = set()
    columns: set[int] = set()
    for x, y, width, height in boxes:
        width, height = abs(width), abs(height)
        if height < THIN_PT and width >= MIN_RULING_PT:
            rows.add(round(y))
        elif width < THIN_PT and height >= MIN_RULING_PT:
            columns.add(round(x))
        elif width >= MIN_RULING_PT and height >= MIN_RULING_PT:
            rows.update((round(y), round(y + height)))
            columns.update((round(x), round(x + width)))
    return len(rows), len(columns)


def may_hold_table(page: Any) -> bool:
    """True when a pypdf page draws enough rulings for a ruled table (see ruling_counts).

    Args:
        page: a ``pypdf.PageObject`` whose text was just extracted (its decoded content
            is cached by pypdf, so this costs a regular-expression scan).
    """
    try:
        # the raw stream objects: get_contents() would merge and re-parse them
        contents = page.get("/Contents")
        contents = contents.get_object() if contents is not None else None
        streams = contents if isinstance(contents, list) else [contents] if contents else []
        data = b"\n".join(stream.get_object().get_data() for stream in streams)
    except Exception:  # a content stream pypdf could read for text but not here
        return False
    rows, columns = ruling_counts(data)
    return rows >= MIN_HORIZONTAL and columns >= MIN_VERTICAL


class PlumberPages:
    """pdfplumber over the same PDF bytes, opened on first use (within the worker).

    Args:
        data: the PDF's bytes.
        password: its password, if encrypted.
    """

    def __init__(self, data: bytes, password: str | None = None) -> None:
        """Keep the bytes; pdfplumber opens them when a page needs it."""
        self._data = data
        self._password = password
        self._pdf: Any = None

    def page_text(self, index: int) -> str | None:
        """The text of page ``index`` (0-based) with its tables as Markdown, or None.

        Returns:
            None when pdfplumber finds no table of at least 2 x 2 cells on the page (or
            cannot read it): the caller keeps pypdf's text.
        """
        try:
            if self._pdf is None:
                import pdfplumber

                self._pdf = pdfplumber.open(io.BytesIO(self._data), password=self._password or "")
            return _text_with_tables(self._pdf.pages[index])
        except MemoryError:
            raise
        except Exception as exc:  # pdfminer raises many types on odd pages
            logger.info("pdfplumber could not read page %d: %s", index + 1, exc)
            return None

    def close(self) -> None:
        """Close pdfplumber's document."""
        if self._pdf is not None:
            self._pdf.close()


def _text_with_tables(page: Any) -> str | None:
    """The text of a pdfplumber ``page`` outside its tables, with the tables as Markdown."""
    tables = []
    for table in page.find_tables():
        rows = table.extract()
        big_enough = len(rows) >= 2 and max(len(row) for row in rows) >= 2
        if big_enough and (markdown := markdown_table(rows)):
            tables.append((table.bbox, markdown))
    if not tables:
        return None
    boxes = [bbox for bbox, _ in tables]

    def outside(obj: dict[str, Any]) -> bool:
        middle_x = (obj["x0"] + obj["x1"]) / 2
        middle_y = (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= middle_x <= x1 and y0 <= middle_y <= y1 for x0, y0, x1, y1 in boxes)

    lines = page.filter(outside).extract_text_lines()
    blocks = [(line["top"], line["text"]) for line in lines]
    blocks.extend((bbox[1], "\n" + markdown + "\n") for bbox, markdown in tables)
    blocks.sort(key=lambda block: block[0])
    return "\n".join(text for _, text in blocks).strip()


__all__ = ["PlumberPages", "may_hold_table", "ruling_counts"]
