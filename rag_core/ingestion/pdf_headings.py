"""A PDF's structure as the parse worker reads it: title, outline and large or bold lines.

Runs inside the parse worker (:mod:`rag_core.ingestion.worker`), on the same
``pypdf.PdfReader``:

* :func:`read_outline`: the bookmarks (``reader.outline``, PDF 1.7 section 12.3.3), each as
  ``[depth, title, page]`` with the page from ``reader.get_destination_page_number``.
  pypdf itself refuses cyclic, too deep or too long outlines; a broken one reads as none.
* :func:`read_title`: the document information dictionary's ``/Title``.
* :class:`LineFonts`: for PDFs without bookmarks, a ``visitor_text`` for pypdf's
  ``extract_text`` that records the font size and weight of every text run, so the page's
  lines set larger than the body text (or bold at its size) become heading candidates in
  the same pass that extracts the text (no second parser: pdfplumber or pypdfium2 would
  read every page again).

Titles are untrusted text written by the PDF's author: they are cut here to bound the
messages, and made printable and bounded again by :mod:`rag_core.ingestion.sections`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

MAX_OUTLINE_ENTRIES = 5000
"""Bookmarks read at most (pypdf's own limit is larger); the rest are ignored."""
MAX_RAW_TITLE_CHARS = 1000
"""Characters of a title sent to the parent (which cuts it further for display)."""
HEADING_SIZE_RATIO = 1.15
"""A line at least this many times the body text's font size is a heading candidate."""
MAX_HEADING_LINE_CHARS = 120
"""Longer lines are text set large (a pull quote, a title page blurb), not headings."""
MAX_BOLD_HEADING_CHARS = 80
"""A bold line at the body size must be shorter than this to count as a heading."""
MAX_PAGE_HEADINGS = 12
"""Heading candidates kept per page (the first ones)."""
BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
"""Font names of bold faces (``/BaseFont`` such as ``Helvetica-Bold``, ``NanumGothicBold``)."""


def read_outline(reader: Any) -> list[list[Any]]:
    """Return the PDF's bookmarks in outline order; ``[]`` when it has none or they are broken.

    Args:
        reader: an open (and decrypted) ``pypdf.PdfReader``.

    Returns:
        ``[depth, title, page]`` lists: depth 0 for top-level bookmarks, the title cut to
        :data:`MAX_RAW_TITLE_CHARS`, the 1-based page number of its destination (0 when it
        has none). At most :data:`MAX_OUTLINE_ENTRIES`.
    """
    try:
        items = reader.outline
    except Exception:  # a damaged outline must not cost the document its text
        return []
    entries: list[list[Any]] = []
    stack: list[tuple[Any, int]] = [(iter(items), 0)]
    while stack and len(entries) < MAX_OUTLINE_ENTRIES:
        children, depth = stack[-1]
        item = next(children, None)
        if item is None:
            stack.pop()
        elif isinstance(item, list):
            stack.append((iter(item), depth + 1))
        else:
            try:
                page = reader.get_destination_page_number(item)
            except Exception:
                page = None
            title = str(getattr(item, "title", "") or "")[:MAX_RAW_TITLE_CHARS]
            entries.append([depth, title, page + 1 if isinstance(page, int) and page >= 0 else 0])
    return entries


def read_title(reader: Any) -> str:
    """Return the document information dictionary's ``/Title`` (cut), or ``""``."""
    try:
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception:
        return ""
    return str(title or "")[:MAX_RAW_TITLE_CHARS]


class LineFonts:
    """Collects text runs with their font size and weight while pypdf extracts a page.

    Pass :meth:`visit` as ``visitor_text`` to ``PageObject.extract_text``, then call
    :meth:`headings`. The body size is the size that sets the most characters of the
    document so far (a title page alone would make its big type the body).
    """

    def __init__(self) -> None:
        """Start with no characters seen."""
        self.body_sizes: Counter[float] = Counter()
        self._lines: list[list[tuple[str, float, bool]]] = [[]]

    def visit(self, text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        """``visitor_text`` callback: record a run's text, effective size (pt) and weight."""
        if not text:
            return
        try:  # text space -> device space: the vertical scale of Tm x CTM
            scale = math.hypot(float(tm[2]), float(tm[3])) * math.hypot(float(cm[2]), float(cm[3]))
            effective = round(float(size) * (scale or 1.0) * 2) / 2
            name = str(font.get("/BaseFont", "")) if font is not None else ""
        except (TypeError, ValueError, IndexError, AttributeError):
            effective, name = 0.0, ""
        bold = bool(BOLD_NAME.search(name))
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if index:
                self._lines.append([])
            if part:
                self._lines[-1].append((part, effective, bold))

    def headings(self) -> list[list[Any]]:
        """Return the heading candidates of the page visited since the last call.

        Returns:
            ``[size, bold, text]`` lists in page order: ``size`` the line's font size in
            points (rounded to 0.5), ``bold`` whether its face is bold, ``text`` the line.
            At most :data:`MAX_PAGE_HEADINGS`.
        """
        lines = []
        for runs in self._lines:
            text = "".join(part for part, _, _ in runs).strip()
            weights: Counter[tuple[float, bool]] = Counter()
            for part, size, bold in runs:
                weights[(size, bold)] += len(part.strip())
            if text and weights:
                (size, bold), _ = weights.most_common(1)[0]
                lines.append((text, size, bold))
                self.body_sizes[size] += len(text)
        self._lines = [[]]
        if not self.body_sizes:
            return []
        body = self.body_sizes.most_common(1)[0][0]
        found: list[list[Any]] = []
        for text, size, bold in lines:
            if not any(ch.isalpha() for ch in text) or size <= 0:
                continue
            large = size >= body * HEADING_SIZE_RATIO and len(text) <= MAX_HEADING_LINE_CHARS
            strong = (
                bold
                and size >= body
                and len(text) <= MAX_BOLD_HEADING_CHARS
                and not text.endswith((".", ",", ":", ";"))
            )
            if large or strong:
                found.append([size, bold, text[:MAX_RAW_TITLE_CHARS]])
        return found[:MAX_PAGE_HEADINGS]
