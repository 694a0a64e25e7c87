"""Section-aware chunks: each chunk's heading path and its document's title.

A PDF's bookmarks (or, without any, the lines its worker found set large or bold; see
:mod:`rag_core.ingestion.pdf_headings`) become heading paths such as
``"Typesetting Mathematical Formulae > Single Equations"``. :class:`Sections` finds where
each heading starts in its page's text and records the starts on the page Document;
:func:`section_parts` cuts the page there before the recursive splitter runs, so a chunk
never spans a section start, and every chunk gets metadata ``section`` (its heading path)
and ``doc_title`` (``/Title``, else the first top-level bookmark, else the file name).

The path is part of the text that is embedded (:func:`embedded_text`), path and title of
the text that is keyword-indexed (:func:`keyword_text`), never of the passage shown:
Chroma keeps the chunk's own text as its document. HWPX/HWP pages carry their heading
path in the same ``section`` field.

Headings are written by the document's author: they are made printable and bounded like
page labels (:func:`rag_core.ingestion.loaders.printable`), and the UI escapes them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import Any

from langchain_core.documents import Document

from rag_core.index.chunks import PATH_SEPARATOR, SECTION_KEY, STARTS_KEY

MAX_HEADING_CHARS = 200
"""A heading longer than this is cut (with "…")."""
MAX_SECTION_CHARS = 400
"""A heading path longer than this keeps its last headings (the deepest are the most
specific)."""
MIN_PART_CHARS = 40
"""A piece before a heading with fewer non-space characters (a running header, a
"Chapter 3" line) joins the section after it rather than becoming a chunk of its own."""
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
NUMBERING = re.compile(
    r"\s*(?:(?:chapter|part|appendix|section|제)\s*)?"
    r"(?:[0-9]+(?:\.[0-9]+)*|[IVXLC]+|[A-Z])?\.?\s*(?:장|절|부|편)?\s*[.:)]?\s*",
    re.IGNORECASE,
)
"""What may stand before a heading on its line: "3.3", "Chapter 3", "제 3 장", "A.", "IV"."""
PLACEHOLDER_TITLES = frozenset({"", "untitled", "(anonymous)", "anonymous", "title", "unknown"})
"""``/Title`` values that name nothing (ReportLab writes "untitled" by default)."""
WORD_PREFIXES = ("Microsoft Word - ", "Microsoft PowerPoint - ", "Microsoft Excel - ")
MAX_TRAILER_CHARS = 8
"""Non-space characters allowed after a heading on its line (a page number, a mark)."""


def clean_heading(raw: str) -> str:
    """A heading made safe to show and index: printable, one line, at most 200 characters."""
    text = "".join(ch for ch in raw if ch.isprintable() and ch not in BIDI_CONTROLS)
    text = " ".join(text.split())
    return text if len(text) <= MAX_HEADING_CHARS else text[: MAX_HEADING_CHARS - 1] + "…"


def usable_title(raw: str) -> str:
    """A ``/Title`` worth indexing: cleaned; "" for a producer's placeholder ("untitled").

    Word's "Microsoft Word - report.docx" keeps "report.docx".
    """
    title = clean_heading(raw)
    for prefix in WORD_PREFIXES:
        title = title.removeprefix(prefix)
    return "" if title.lower() in PLACEHOLDER_TITLES else title


def join_path(path: Sequence[str]) -> str:
    """``["3 Formulae", "3.3 Fractions"]`` -> ``"3 Formulae > 3.3 Fractions"``, bounded."""
    parts = [p for p in path if p]
    while len(parts) > 1 and len(PATH_SEPARATOR.join(parts)) > MAX_SECTION_CHARS:
        parts = parts[1:]
    return PATH_SEPARATOR.join(parts)[:MAX_SECTION_CHARS]


def _key(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits of ``text`` and the offset of each in ``text``."""
    chars: list[str] = []
    where: list[int] = []
    for index, ch in enumerate(text):
        if ch.isalnum():
            low = ch.lower()
            chars.append(low if len(low) == 1 else ch)
            where.append(index)
    return "".join(chars), where


def find_heading(text: str, title: str, key: tuple[str, list[int]], after: int = 0) -> int | None:
    """Where ``title`` starts a line of ``text``: the offset of that line, or None.

    Letters and digits are compared case-insensitively and everything else is ignored, so
    "LaTeX Input Files" finds "1.3 LATEX Input Files" and a title broken over two lines.
    The line may start with a number ("3.3", "Chapter 3", "제 3 장") and end with a page
    number. A match in the page's first or last line (a running header or footer) is
    taken only when there is no other.

    Args:
        text: the page's text.
        title: the heading as written in the outline (or detected).
        key: ``_key(text)``.
        after: search from this offset of ``text`` on.

    Returns:
        The offset in ``text`` of the start of the heading's line, or None.
    """
    wanted, _ = _key(title)
    chars, where = key
    if not wanted:
        return None
    fallback = None
    position = bisect.bisect_left(where, after)
    while (found := chars.find(wanted, position)) >= 0:
        position = found + 1
        start, end = where[found], where[found + len(wanted) - 1] + 1
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        trailer = "".join(text[end:line_end].split())
        if not NUMBERING.fullmatch(text[line_start:start]) or len(trailer) > MAX_TRAILER_CHARS:
            continue
        if text[:line_start].strip() and text[line_end:].strip():
            return line_start
        if fallback is None:  # the first or last line: a running header, or the heading
            fallback = line_start
    return fallback


class Sections:
    """A document's headings by page, and where each starts in its page's text.

    Args:
        name: the document's display name (the title of last resort).
        title: its ``/Title`` ("" when none).
        outline: bookmarks ``[depth, title, page]`` in outline order (page 0: none).
    """

    def __init__(self, name: str, title: str = "", outline: Sequence[Sequence[Any]] = ()) -> None:
        """Build the heading paths of the bookmarks."""
        self._name = name
        self._title = usable_title(title)
        self._pages: list[int] = []
        self._paths: list[tuple[int, str, str]] = []  # (page, heading, path), by page
        self._stack: list[tuple[tuple[float, bool], str]] = []
        path: list[str] = []
        entries = []
        for depth, raw, page in outline:
            heading = clean_heading(str(raw))
            path = [*path[: max(int(depth), 0)], heading]
            if heading and int(page) > 0:
                entries.append((int(page), heading, join_path(path)))
            if not self._title and int(depth) == 0 and heading:
                self._title = heading
        for page, heading, joined in sorted(entries, key=lambda e: e[0]):  # stable
            self._add(page, heading, joined)

    def _add(self, page: int, heading: str, path: str) -> None:
        index = bisect.bisect_right(self._pages, page)
        self._pages.insert(index, page)
        self._paths.insert(index, (page, heading, path))

    @property
    def doc_title(self) -> str:
        """``/Title``, else the first top-level heading, else the file name without suffix."""
        return self._title or clean_heading(PurePath(self._name).stem) or self._name

    def add_detected(self, page: int, headings: Sequence[Sequence[Any]]) -> None:
        """Add the headings the worker found by font on ``page`` (pages in order).

        A heading closes every open heading set at its size and weight or smaller; the
        rest form its path.

        Args:
            page: the 1-based page number.
            headings: ``[size, bold, text]`` lists, in page order.
        """
        for size, bold, raw in headings:
            heading = clean_heading(str(raw))
            if not heading:
                continue
            rank = (float(size), bool(bold))
            while self._stack and self._stack[-1][0] <= rank:
                self._stack.pop()
            self._stack.append((rank, heading))
            if not self._title and page == 1:
                self._title = heading
            self._add(page, heading, join_path([h for _, h in self._stack]))

    def page_starts(self, page: int, text: str) -> list[tuple[int, str]]:
        """The sections of a page: ``(offset in text, heading path)``, the first at 0.

        The first is the section carried over from earlier pages ("" before the first
        heading). A heading not found in the text starts where the one before it did.

        Args:
            page: the 1-based page number.
            text: the page's text as it will be split.

        Returns:
            Starts in increasing offset order; one start per offset (the deepest).
        """
        first = bisect.bisect_left(self._pages, page)
        last = bisect.bisect_right(self._pages, page)
        starts = [(0, self._paths[first - 1][2] if first > 0 else "")]
        if first == last:
            return starts
        key = _key(text)
        offset = 0
        for _, heading, path in self._paths[first:last]:
            found = find_heading(text, heading, key, offset)
            offset = found if found is not None else offset
            if starts[-1][0] == offset:
                starts[-1] = (offset, path)
            else:
                starts.append((offset, path))
        return starts


def section_metadata(starts: list[tuple[int, str]]) -> dict[str, Any]:
    """The page metadata that records ``starts`` (see :func:`section_parts`)."""
    if len(starts) > 1:
        return {STARTS_KEY: [[o, p] for o, p in starts]}
    return {SECTION_KEY: starts[0][1]} if starts and starts[0][1] else {}


def section_parts(page: Document) -> Iterator[tuple[int, Document]]:
    """Cut a page at its section starts: ``(offset of the part in the page, part)``.

    Each part gets the page's metadata without the starts (:data:`STARTS_KEY`) and with
    its heading path as :data:`SECTION_KEY`; the page itself is left as it is. A part
    with fewer than :data:`MIN_PART_CHARS` non-space characters joins the next one.

    Args:
        page: a page Document, with or without recorded starts.

    Yields:
        The parts in page order; the page itself (offset 0) when it has no starts.
    """
    starts = page.metadata.get(STARTS_KEY)
    if not starts:
        yield 0, page
        return
    text = page.page_content
    shared = {k: v for k, v in page.metadata.items() if k != STARTS_KEY}
    bounds = [int(o) for o, _ in starts[1:]] + [len(text)]
    begin = 0
    for (_, path), end in zip(starts, bounds, strict=True):
        part = text[begin:end]
        if end < len(text) and len("".join(part.split())) < MIN_PART_CHARS:
            continue  # joins the next part (which keeps ``begin``)
        metadata = dict(shared)
        if path:
            metadata[SECTION_KEY] = path
        yield begin, Document(page_content=part, metadata=metadata)
        begin = end
