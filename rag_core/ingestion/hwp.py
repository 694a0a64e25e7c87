"""Hancom HWPX and HWP 5 documents -> numbered paragraphs grouped under their headings.

Read with python-hwpx (https://github.com/airmang/python-hwpx, Apache-2.0), which opens
HWPX packages (OWPML, KS X 6101) and converts HWP 5.0 binary files into the same model;
see docs/formats.md for why this library (hwp-hwpx-parser and helper-hwp were compared). This
module runs inside the limited parse worker (:mod:`rag_core.ingestion.hwp_worker`): the
archive is checked before the library reads a byte of it (:func:`check_archive`).

An HWP document has no fixed pages, so its unit is the paragraph: body paragraphs are
numbered 1, 2, ... in reading order across sections (a table counts as the paragraph it is
anchored in; its cells are not numbered). Headings give each paragraph a path: the
articles and chapters of Korean regulations are found by their numbering ("제3장 출장",
"제2절", "제7조(여비)", "부칙"), other headings by their outline level (개요 1-10). A
:class:`Block` is a run of paragraphs under one heading (an article with its clauses), cut
at :data:`MAX_BLOCK_CHARS`; the pipeline treats a block as a "page" whose number is its
first paragraph and whose label is the heading path ("제3장 출장 > 제7조(여비)").
Footnotes and endnotes follow their paragraph as ``[^1]: text`` lines, tables become
Markdown rows (:mod:`rag_core.ingestion.tables`).
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from rag_core.ingestion.tables import fill_spans, markdown_table

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
HWP3_MAGIC = b"HWP Document File V3"
MAX_MEMBERS = 2000
"""Members an HWPX archive may hold (python-hwpx allows 4096)."""
MAX_MEMBER_BYTES = 64 * 1024**2
"""Declared uncompressed size of one member (64 MiB)."""
MAX_TOTAL_BYTES = 256 * 1024**2
"""Declared uncompressed size of all members together (256 MiB)."""
MAX_RATIO = 200.0
"""Compression ratio allowed for a member larger than :data:`RATIO_FLOOR_BYTES`; OWPML
XML compresses 5-30:1, zip bombs 1000:1 and more."""
RATIO_FLOOR_BYTES = 1024**2
MAX_BLOCK_CHARS = 1000
"""A block is cut at a paragraph boundary once it holds this many characters."""
MAX_HEADING_CHARS = 60
"""A paragraph longer than this is never taken for a chapter or outline heading."""

_PART = re.compile(r"^제\s*\d+\s*(편|장|절|관)(?:\s|$)")
_ARTICLE = re.compile(r"^(제\s*\d+\s*조(?:\s*의\s*\d+)?)\s*(\([^()]{1,40}\))?")
_ADDENDA = re.compile(r"^(부\s*칙|별\s*표\s*\d*)(?:\s|$|\()")
_RANKS = {"편": 1, "장": 2, "절": 3, "관": 4}
ARTICLE_RANK = 10
"""Rank of an article (조): below every chapter and outline level."""


class HwpParseError(Exception):
    """A problem the worker reports by kind (see :mod:`rag_core.ingestion.hwp_worker`).

    Attributes:
        kind: "unsafe" (member names), "limit" (sizes, ratios: a bomb), "encrypted",
            "not_hwp", "hwp3", "damaged".
        detail: the specific reason, in English.
    """

    def __init__(self, kind: str, detail: str) -> None:
        """Keep the kind and detail."""
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class Paragraph:
    """One numbered body paragraph.

    Attributes:
        number: 1-based position among the document's body paragraphs.
        text: its text (with its tables as Markdown and its notes as ``[^n]:`` lines).
        rank: heading rank (1 = part/outline 1 ... :data:`ARTICLE_RANK` = article), or
            None for body text.
        title: the heading as shown in a path ("제7조(여비)"), "" for body text.
    """

    number: int
    text: str
    rank: int | None = None
    title: str = ""


@dataclass
class Block:
    """Paragraphs under one heading path, the pipeline's "page" for HWP documents.

    Attributes:
        first: number of its first paragraph (the page number).
        last: number of its last paragraph.
        path: the heading path, outermost first (["제3장 출장", "제7조(여비)"]).
        paragraphs: the paragraphs' texts, in order.
    """

    first: int
    last: int
    path: list[str]
    paragraphs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The heading path as one label: "제3장 출장 > 제7조(여비)"."""
        return " > ".join(self.path)

    @property
    def text(self) -> str:
        """The paragraphs joined by blank lines."""
        return "\n\n".join(self.paragraphs)


def sniff(data: bytes) -> str:
    """Name the container format of ``data``: "hwpx" (zip) or "hwp" (OLE compound file).

    Raises:
        HwpParseError: "hwp3" for an HWP 3.0 file, "not_hwp" for anything else.
    """
    if data.startswith(ZIP_MAGIC):
        return "hwpx"
    if data.startswith(OLE_MAGIC):
        return "hwp"
    if data.startswith(HWP3_MAGIC):
        raise HwpParseError("hwp3", "HWP 3.0 files are not supported; save it as HWPX")
    raise HwpParseError("not_hwp", "this is not an HWP or HWPX file; was it renamed?")


def check_archive(data: bytes) -> None:
    """Check an HWPX zip's directory before any member is decompressed (THREATS row 26).

    Member names must be relative paths without ``..``, drive letters, backslashes or
    control characters; sizes, count and compression ratios are bounded by the
    ``MAX_*`` constants; only stored and deflated members are accepted; zip-encrypted
    members and an encrypted OWPML package (``encryption-data`` in its manifest) are
    refused. python-hwpx reads members in bounded chunks as a second line of defence.

    Raises:
        HwpParseError: "damaged", "unsafe", "limit" or "encrypted".
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise HwpParseError("damaged", f"not a readable zip archive ({exc})") from exc
    if len(infos) > MAX_MEMBERS:
        raise HwpParseError("limit", f"{len(infos)} members (at most {MAX_MEMBERS})")
    total = 0
    for info in infos:
        _check_member(info)
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise HwpParseError("limit", f"{total} bytes uncompressed (at most {MAX_TOTAL_BYTES})")
    if "META-INF/manifest.xml" in archive.namelist():
        manifest = archive.read("META-INF/manifest.xml")  # sizes checked above
        if b"encryption-data" in manifest:
            raise HwpParseError("encrypted", "the HWPX package is encrypted")


def _check_member(info: zipfile.ZipInfo) -> None:
    """Check one member's name, method, flags, size and ratio (see check_archive)."""
    name = info.filename
    bad = any(ord(ch) < 32 or ch == "\\" for ch in name) or ":" in name.split("/")[0]
    parts = PurePosixPath(name).parts
    if bad or name.startswith("/") or ".." in parts:
        raise HwpParseError("unsafe", f"unsafe member name {name[:80]!r}")
    if info.flag_bits & 0x1:
        raise HwpParseError("encrypted", f"member {name[:80]!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise HwpParseError("limit", f"member {name[:80]!r} uses compression method "
                            f"{info.compress_type}")  # fmt: skip
    if info.file_size > MAX_MEMBER_BYTES:
        raise HwpParseError("limit", f"member {name[:80]!r} is {info.file_size} bytes")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
        raise HwpParseError("limit", f"member {name[:80]!r} expands {ratio:.0f}:1")


def open_document(data: bytes) -> Any:
    """Open HWPX or HWP 5 bytes with python-hwpx, errors turned into HwpParseError.

    Returns:
        A ``hwpx.HwpxDocument``.

    Raises:
        HwpParseError: see :func:`sniff` and :func:`check_archive`; "encrypted" for a
            password, distribution (배포용) or DRM-protected HWP; "limit" when the library's
            own limits trip; "damaged" for anything else it cannot read.
    """
    if sniff(data) == "hwpx":
        check_archive(data)
    from hwpx import HwpxDocument
    from hwpx.errors import HwpxError
    from hwpx.opc.security import HwpxSecurityError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return HwpxDocument.open(data)
    except HwpxSecurityError as exc:
        raise HwpParseError("limit", str(exc)[:200]) from exc
    except HwpxError as exc:
        code = str(getattr(exc, "code", ""))
        if code in ("hwp5-password", "hwp5-distribution", "hwp5-drm"):
            raise HwpParseError("encrypted", code.removeprefix("hwp5-")) from exc
        if code == "hwp5-limit-exceeded":
            raise HwpParseError("limit", str(exc)[:200]) from exc
        raise HwpParseError("damaged", f"{code or type(exc).__name__}: {str(exc)[:160]}") from exc


def heading_of(text: str, outline_level: int | None) -> tuple[int, str] | None:
    """The heading rank and title of a paragraph, or None for body text.

    Args:
        text: the paragraph's text.
        outline_level: its 0-based outline level (개요 1 = 0) when its paragraph shape is
            an outline heading, else None.

    Returns:
        ``(rank, title)``: an article "제7조(여비) ..." gives ``(ARTICLE_RANK,
        "제7조(여비)")``; "제3장 출장" gives ``(2, "제3장 출장")``; an outline paragraph
        of at most :data:`MAX_HEADING_CHARS` characters gives ``(level + 1, text)``.
    """
    line = " ".join(text.split())
    if not line:
        return None
    if article := _ARTICLE.match(line):
        number = "".join(article.group(1).split())
        return ARTICLE_RANK, number + (article.group(2) or "")
    if len(line) > MAX_HEADING_CHARS:
        return None
    if part := _PART.match(line):
        return _RANKS[part.group(1)], line
    if _ADDENDA.match(line):
        return _RANKS["장"], line
    if outline_level is not None:
        return min(outline_level + 1, ARTICLE_RANK - 1), line
    return None


def iter_paragraphs(document: Any) -> Iterator[Paragraph]:
    """Yield the document's body paragraphs, numbered, with their headings.

    Args:
        document: a ``hwpx.HwpxDocument``.

    Yields:
        Paragraphs with text (empty ones are skipped and not numbered).
    """
    number = 0
    notes = 0
    for section in document.sections:
        for paragraph in section.paragraphs:
            parts = [paragraph.text or "", *_text_boxes(paragraph)]
            parts.extend(_table_text(table) for table in paragraph.tables)
            for note in [*paragraph.footnotes, *paragraph.endnotes]:
                notes += 1
                if note_text := " ".join((note.text or "").split()):
                    parts.append(f"[^{notes}]: {note_text}")
            text = "\n".join(_no_blank_lines(part) for part in parts if part.strip())
            if not text:
                continue
            number += 1
            heading = heading_of(paragraph.text or "", _outline_level(document, paragraph))
            rank, title = heading if heading else (None, "")
            yield Paragraph(number, text, rank, title)


def _no_blank_lines(text: str) -> str:
    """``text`` without blank lines (a blank line separates paragraphs in a block)."""
    return "\n".join(line for line in text.split("\n") if line.strip())


def _text_boxes(paragraph: Any) -> list[str]:
    """The text of the text boxes (글상자: ``drawText``) anchored in a paragraph."""
    element = getattr(paragraph, "element", None)
    if element is None:
        return []
    boxes = []
    for node in element.iter():
        if str(node.tag).rsplit("}", 1)[-1] == "drawText":
            text = " ".join(
                (t.text or "") for t in node.iter() if str(t.tag).rsplit("}", 1)[-1] == "t"
            )
            if text.strip():
                boxes.append(" ".join(text.split()))
    return boxes


def _outline_level(document: Any, paragraph: Any) -> int | None:
    """0-based outline level of the paragraph's shape, or None if it is no outline heading."""
    try:
        shape = document.oxml.paragraph_property(paragraph.para_pr_id_ref)
        heading = getattr(shape, "heading", None)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    if heading is None or str(getattr(heading, "type", "")).upper() != "OUTLINE":
        return None
    return int(getattr(heading, "level", 0) or 0)


def _table_text(table: Any) -> str:
    """A python-hwpx table as Markdown rows (merged cells repeated, see fill_spans)."""
    cells = []
    for row in table.rows:
        for cell in row.cells:
            r, c = cell.address
            row_span, col_span = cell.span
            cells.append((r, c, row_span, col_span, cell.text or ""))
    return markdown_table(fill_spans(cells, table.row_count, table.column_count))


def group_blocks(paragraphs: Iterable[Paragraph]) -> Iterator[Block]:
    """Group numbered paragraphs into blocks under their heading paths.

    A heading starts a block, unless the open block holds only headings of a higher
    rank ("제3장 출장" then "제7조(여비) ..." make one block labelled "제3장 출장 >
    제7조(여비)"). A block is also closed before it would exceed :data:`MAX_BLOCK_CHARS`.

    Args:
        paragraphs: from :func:`iter_paragraphs`.

    Yields:
        Blocks in document order; their paragraph ranges do not overlap.
    """
    path: list[tuple[int, str]] = []
    block: Block | None = None
    heading_only_rank = 0  # rank of the last heading of a block holding only headings
    for paragraph in paragraphs:
        rank = paragraph.rank
        if rank is not None:
            while path and path[-1][0] >= rank:
                path.pop()
            path.append((rank, paragraph.title))
        joins = block is not None and (
            (rank is not None and 0 < heading_only_rank < rank)
            or (rank is None and len(block.text) + len(paragraph.text) <= MAX_BLOCK_CHARS)
        )
        if block is None or not joins:
            if block is not None:
                yield block
            block = Block(paragraph.number, paragraph.number, [])
        block.path = [title for _, title in path]
        block.paragraphs.append(paragraph.text)
        block.last = paragraph.number
        bare = rank is not None and rank < ARTICLE_RANK
        bare = bare and " ".join(paragraph.text.split()) == paragraph.title
        heading_only_rank = rank if bare and rank is not None else 0
    if block is not None:
        yield block


def read_blocks(data: bytes) -> tuple[int, list[Block]]:
    """Read an HWPX or HWP 5 file into blocks.

    Args:
        data: the file's bytes.

    Returns:
        ``(number of body paragraphs, blocks)``.

    Raises:
        HwpParseError: see :func:`open_document`.
    """
    document = open_document(data)
    paragraphs = list(iter_paragraphs(document))
    return len(paragraphs), list(group_blocks(paragraphs))


__all__ = [
    "ARTICLE_RANK",
    "Block",
    "HwpParseError",
    "Paragraph",
    "check_archive",
    "group_blocks",
    "heading_of",
    "iter_paragraphs",
    "open_document",
    "read_blocks",
    "sniff",
]
