"""What a PDF page without text draws: nothing (blank), images (a scan?) or only vector ink.

Run in the parse worker (:mod:`rag_core.ingestion.worker`) on pages whose extracted text is
empty, so a blank page is not reported as a possible scan, and is not sent to OCR. Only
the page's content stream operators and its resources are read (pypdf's
``ContentStream``, the same parse ``extract_text`` makes); no image is decoded.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

logger = logging.getLogger(__name__)

InkKind = Literal["blank", "image", "drawing"]

PAINT_OPERATORS = frozenset(
    {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"S", b"s", b"sh", b"Tj", b"TJ", b"'", b'"'}
)
"""Operators that put ink on the page (PDF 32000-1, 8.5.3 path painting, 8.7.4.2
shadings, 9.4.3 text showing; text whose extraction is empty still draws glyphs)."""
MAX_FORM_DEPTH = 4
"""Form XObjects nested deeper than this are counted as ink without being read."""


def ink_kind(page: Any) -> InkKind:
    """Classify a page without extractable text by what it draws.

    Args:
        page: a ``pypdf.PageObject``.

    Returns:
        ``"image"`` when it draws an image (an image XObject, also inside a form, or an
        inline image): a scanned page?; ``"drawing"`` when it paints paths, shadings,
        glyphs without text or has annotations with an appearance, or when what it draws
        cannot be told (then OCR looks); ``"blank"`` when it has no content stream or one
        that paints nothing.

    Raises:
        MemoryError, pypdf.errors.LimitReachedError: a stream inflates past the limits
            (the parse worker reports the file as too large or a decompression bomb).
    """
    from pypdf.errors import LimitReachedError

    try:
        kind = _stream_kind(page.get_contents(), page.get("/Resources"), page.pdf, 0)
    except (MemoryError, LimitReachedError):
        raise
    except Exception as exc:  # a damaged form or resource: let OCR look at the page
        logger.info("cannot tell what a page without text draws: %s", exc)
        return "drawing"
    if kind == "blank" and _has_appearances(page):
        return "drawing"
    return kind


def _stream_kind(content: Any, resources: Any, pdf: Any, depth: int) -> InkKind:
    """What one content stream draws (``resources``: its resource dictionary or None)."""
    from pypdf.generic import ContentStream

    if content is None:
        return "blank"
    if depth > MAX_FORM_DEPTH:
        return "drawing"
    if not isinstance(content, ContentStream):
        content = ContentStream(content, pdf)
    resources = resources.get_object() if resources is not None else {}
    xobjects = resources.get("/XObject")
    xobjects = xobjects.get_object() if xobjects is not None else {}
    kind: InkKind = "blank"
    for operands, operator in content.operations:
        if operator == b"INLINE IMAGE":
            return "image"
        if operator == b"Do" and operands:
            xobject = xobjects.get(operands[0])
            if xobject is None:
                continue
            xobject = xobject.get_object()
            subtype = xobject.get("/Subtype")
            if subtype == "/Image":
                return "image"
            if subtype == "/Form":
                inner = _stream_kind(xobject, xobject.get("/Resources"), pdf, depth + 1)
                if inner == "image":
                    return "image"
                if inner == "drawing":
                    kind = "drawing"
        elif operator in PAINT_OPERATORS:
            kind = "drawing"
    return kind


def _has_appearances(page: Any) -> bool:
    """Whether the page has an annotation with an appearance stream (a stamp, ink, a form)."""
    annotations = page.get("/Annots")
    if annotations is None:
        return False
    for annotation in annotations.get_object():
        annotation = annotation.get_object()
        if hasattr(annotation, "get") and annotation.get("/AP") is not None:
            return True
    return False
