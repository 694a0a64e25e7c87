"""Render a cited PDF page as an image with the cited passage highlighted in place.

Rendering and character boxes come from PDFium through ``pypdfium2``
(https://pypdfium2.readthedocs.io/). The passage is the chunk text recorded at ingest (its
page and character offsets in the pypdf text); PDFium extracts the page text on its own, so
the passage is located in PDFium's characters by matching their non-space characters
(whitespace and line breaks differ between the two extractors), falling back to the
passage's opening and closing words when ligatures or hyphenation differ. Given the
sentences of the passage that support an answer, only those are highlighted (looked up
within the passage first), with the whole passage as the fallback when none is found.
Matching non-space characters also makes respaced Korean text
(:mod:`rag_core.ingestion.spacing`, which only inserts spaces) land on the same glyphs. A
page read by OCR has no usable text layer: there the passage is located in Tesseract's
words, stored beside the file at ingest (:func:`rag_core.index.files.page_words`), and
highlighted with their boxes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

from rag_core.errors import DocumentError
from rag_core.index.files import page_words

logger = logging.getLogger(__name__)

HIGHLIGHT_RGBA = (255, 214, 0, 96)
"""Translucent yellow drawn over the passage."""
OUTLINE_RGBA = (230, 160, 0, 255)
ANCHOR_CHARS = (80, 40, 20)
"""Lengths (non-space characters) of the opening/closing anchors tried when the whole
passage does not match."""


@dataclass(frozen=True)
class Box:
    """A rectangle in PDF user space (points, origin bottom-left)."""

    left: float
    bottom: float
    right: float
    top: float


@dataclass
class PageView:
    """A rendered page with the passage's boxes.

    Attributes:
        image: the page as an RGB image, ``scale`` pixels per point.
        boxes: one box per line of the passage, in PDF points.
        found: False when the passage could not be located (the page is shown without a
            highlight).
        highlighted: what the boxes cover: "sentences" (the supporting sentences asked
            for), "passage" (the whole passage) or "" (nothing located).
    """

    image: Image.Image
    boxes: list[Box]
    found: bool
    highlighted: str = ""


def _page_chars(textpage: pdfium.PdfTextPage) -> list[tuple[int, str]]:
    """Return ``(char index, char)`` for every non-space character of the page."""
    out = []
    for index in range(textpage.count_chars()):
        char = chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index))
        if not char.isspace() and char != "\x00":
            out.append((index, char))
    return out


def locate_passage(chars: list[tuple[int, str]], passage: str) -> tuple[int, int] | None:
    """Find the passage in the page's characters.

    Args:
        chars: ``(char index, char)`` pairs of the page's non-space characters.
        passage: the chunk text.

    Returns:
        ``(first, last)`` PDFium char indices (inclusive), or None when not found.
    """
    haystack = "".join(c for _, c in chars)
    needle = "".join(passage.split())
    if not needle:
        return None
    start = haystack.find(needle)
    if start >= 0:
        return chars[start][0], chars[start + len(needle) - 1][0]
    for size in ANCHOR_CHARS:
        head, tail = needle[:size], needle[-size:]
        first = haystack.find(head)
        if first < 0:
            continue
        last = haystack.find(tail, first)
        if last >= 0:
            return chars[first][0], chars[last + len(tail) - 1][0]
        return chars[first][0], chars[min(first + len(needle), len(chars)) - 1][0]
    return None


def locate_sentences(
    chars: list[tuple[int, str]], passage: str, sentences: Sequence[str]
) -> list[tuple[int, int]]:
    """Find sentences of the passage on the page, within the passage when it is located.

    Args:
        chars: ``(char index, char)`` pairs of the page's non-space characters.
        passage: the chunk text the sentences come from.
        sentences: the sentences to find (e.g. those supporting an answer's claim).

    Returns:
        ``(first, last)`` PDFium char indices (inclusive) of each sentence found, in the
        order given; empty when none is found.
    """
    region = chars
    span = locate_passage(chars, passage)
    if span is not None:
        indices = [index for index, _ in chars]
        region = chars[indices.index(span[0]) : indices.index(span[1]) + 1]
    found = []
    for sentence in sentences:
        located = locate_passage(region, sentence) or locate_passage(chars, sentence)
        if located is not None:
            found.append(located)
    return found


def _line_boxes(textpage: pdfium.PdfTextPage, first: int, last: int) -> list[Box]:
    """Merge the char boxes of ``first..last`` into one box per text line."""
    boxes: list[Box] = []
    for index in range(first, last + 1):
        left, bottom, right, top = textpage.get_charbox(index)
        if right <= left or top <= bottom:
            continue  # generated characters (line breaks) have empty boxes
        if boxes:
            line = boxes[-1]
            same_line = bottom < line.top and top > line.bottom and left >= line.left - 2
            if same_line:
                boxes[-1] = Box(line.left, min(line.bottom, bottom), max(line.right, right),
                                max(line.top, top))  # fmt: skip
                continue
        boxes.append(Box(left, bottom, right, top))
    return boxes


def _spans(
    chars: list[tuple[int, str]], passage: str, sentences: Sequence[str]
) -> tuple[list[tuple[int, int]], str]:
    """The spans to highlight (supporting sentences, else the passage) and which they are."""
    spans = locate_sentences(chars, passage, sentences) if sentences else []
    if spans:
        return spans, "sentences"
    span = locate_passage(chars, passage)
    return ([span], "passage") if span is not None else ([], "")


def ocr_boxes(
    words: list[list[Any]], first: int, last: int, width: float, height: float
) -> list[Box]:
    """Merge the boxes of OCR words ``first..last`` into one box per line, in PDF points.

    Args:
        words: ``[text, left, top, right, bottom]`` per word, fractions of the page
            (origin top-left), in reading order (:class:`rag_core.ingestion.ocr.OcrPage`).
        first: index of the first word.
        last: index of the last word (inclusive).
        width: page width in points.
        height: page height in points.
    """
    boxes: list[Box] = []
    for _, left, top, right, bottom in words[first : last + 1]:
        box = Box(left * width, (1 - bottom) * height, right * width, (1 - top) * height)
        if boxes:
            line = boxes[-1]
            if box.bottom < line.top and box.top > line.bottom and box.left >= line.left - 2:
                boxes[-1] = Box(line.left, min(line.bottom, box.bottom),
                                max(line.right, box.right), max(line.top, box.top))  # fmt: skip
                continue
        boxes.append(box)
    return boxes


def _ocr_highlight(
    path: Path, page: int, passage: str, sentences: Sequence[str], size: tuple[float, float]
) -> tuple[list[Box], str]:
    """Boxes of the passage among the page's stored OCR words ([] when not OCR'd)."""
    words = page_words(path, page)
    if not words:
        return [], ""
    chars = [(i, c) for i, word in enumerate(words) for c in str(word[0]) if not c.isspace()]
    spans, highlighted = _spans(chars, passage, sentences)
    boxes = [box for first, last in spans for box in ocr_boxes(words, first, last, *size)]
    return boxes, highlighted


def render_cited_page(
    path: Path,
    page: int,
    passage: str,
    *,
    sentences: Sequence[str] = (),
    scale: float = 1.5,
) -> PageView:
    """Render page ``page`` of the PDF at ``path`` with ``passage`` highlighted.

    Args:
        path: the stored PDF.
        page: 1-based physical page number.
        passage: the cited chunk text.
        sentences: sentences of the passage to highlight instead of all of it (the ones
            supporting an answer); the whole passage is highlighted when none is found.
        scale: pixels per PDF point (1.5 = 108 dpi).

    Returns:
        The page image and the highlight boxes: from the text layer, or from the page's
        OCR words when the text layer does not hold the passage.

    Raises:
        DocumentError: the file cannot be opened or has no such page.
    """
    try:
        pdf = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as exc:
        raise DocumentError(path.name, f"cannot open the stored PDF ({exc})") from exc
    try:
        if not 1 <= page <= len(pdf):
            raise DocumentError(path.name, f"has no page {page}")
        pdf_page = pdf[page - 1]
        textpage = pdf_page.get_textpage()
        spans, highlighted = _spans(_page_chars(textpage), passage, sentences)
        boxes = [box for first, last in spans for box in _line_boxes(textpage, first, last)]
        width, height = pdf_page.get_size()
        if not boxes:
            boxes, highlighted = _ocr_highlight(path, page, passage, sentences, (width, height))
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
    finally:
        pdf.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            rect = (
                box.left * scale - 2,
                (height - box.top) * scale - 2,
                box.right * scale + 2,
                (height - box.bottom) * scale + 2,
            )
            draw.rectangle(rect, fill=HIGHLIGHT_RGBA, outline=OUTLINE_RGBA, width=1)
        image = Image.alpha_composite(image, overlay)
    else:
        logger.info("passage not located on %s page %d", path.name, page)
    found = bool(boxes)
    return PageView(image.convert("RGB"), boxes, found, highlighted if found else "")


__all__ = [
    "Box",
    "PageView",
    "locate_passage",
    "locate_sentences",
    "ocr_boxes",
    "render_cited_page",
]
