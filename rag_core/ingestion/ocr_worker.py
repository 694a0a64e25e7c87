"""The OCR worker process: render PDF pages with pypdfium2 and read them with Tesseract.

Started by :func:`rag_core.ingestion.ocr.iter_ocr` as ``python -m
rag_core.ingestion.ocr_worker MEMORY_LIMIT``, with its address space capped like the parse
worker's (the Tesseract processes it starts inherit the cap). Reads a JSON header line
(``password``, ``pages``, ``options``) and then the PDF's bytes from stdin; writes JSON lines:
``("render", number)`` (before a page is rendered, so a worker killed while rendering
names its page), ``("page", number, text, words)``, ``("blank", number)`` (no ink: nothing
to recognise), ``("skip", number, reason, detail)``, ``("error", kind, detail)``, ``("done",)``.

PDFium is not thread-safe, so pages are rendered one after the other on the main thread
while up to ``workers`` Tesseract processes (pytesseract, https://pypi.org/project/pytesseract/)
read the pages rendered before; at most ``workers + 1`` page images are held at once.
Before a page is rendered, the pixel size of every image drawn on it is checked, so a
50,000 x 50,000 pixel scan is reported instead of decoded (THREATS row 27).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from rag_core.ingestion.worker import MEMORY_LIMIT_BYTES, limit_memory
from rag_core.language import hangul_share

logger = logging.getLogger(__name__)

BLANK_LEVEL = 224
"""Grey levels at least this light are paper, not ink."""
MAX_BLANK_INK_SHARE = 5e-5
"""A rendered page whose share of ink pixels (darker than :data:`BLANK_LEVEL`) is at most
this is blank: Tesseract is not run on it (blank pages of text PDFs, such as lshort.pdf's
pages 12, 56 and 102, have none; a scanned blank sheet has a few specks of dust). At 300
dpi an A4 page has 8.7 million pixels, so this allows about 430 ink pixels: less than one
10-point character."""


def _put(message: tuple[Any, ...]) -> None:
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def render_page(page: Any, options: dict[str, Any]) -> tuple[Any | None, dict[str, Any]]:
    """Render one pypdfium2 page in grey for OCR, within the pixel limits.

    Args:
        page: a ``pypdfium2.PdfPage``.
        options: :class:`rag_core.ingestion.ocr.OcrOptions` as a dict (``dpi``,
            ``max_pixels``, ``min_dpi``, ``max_image_pixels``).

    Returns:
        ``(PIL image in mode "L", {})``, or ``(None, detail)`` when an image on the page
        has more than ``max_image_pixels`` pixels (``detail``: ``what="image"``, its
        ``width`` and ``height`` in pixels, ``limit`` = ``max_image_pixels``) or the page
        would have to be rendered below ``min_dpi`` to stay within ``max_pixels``
        (``what="page"``, its size in pixels at ``dpi`` = ``min_dpi``, ``limit`` =
        ``max_pixels``).
    """
    import pypdfium2.raw as pdfium_c

    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
        width, height = image.get_px_size()
        if width * height > options["max_image_pixels"]:
            limit = options["max_image_pixels"]
            return None, {"what": "image", "width": width, "height": height, "limit": limit}
    points_w, points_h = page.get_size()
    scale = options["dpi"] / 72
    area = max(points_w * points_h, 1.0)
    if area * scale * scale > options["max_pixels"]:
        scale = math.sqrt(options["max_pixels"] / area)
        if scale * 72 < options["min_dpi"]:
            low = options["min_dpi"] / 72
            return None, {
                "what": "page",
                "width": round(points_w * low),
                "height": round(points_h * low),
                "dpi": options["min_dpi"],
                "limit": options["max_pixels"],
            }
    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    return bitmap.to_pil().convert("L"), {}


def is_blank(image: Any) -> bool:
    """Whether a rendered grey page has no ink (see :data:`MAX_BLANK_INK_SHARE`).

    Args:
        image: PIL image in mode "L".

    Returns:
        True when at most :data:`MAX_BLANK_INK_SHARE` of its pixels are darker than
        :data:`BLANK_LEVEL`.
    """
    if image.getextrema()[0] >= BLANK_LEVEL:  # nothing darker than paper
        return True
    ink = sum(image.histogram()[:BLANK_LEVEL])
    return ink <= MAX_BLANK_INK_SHARE * image.width * image.height


def recognise(image: Any, options: dict[str, Any]) -> tuple[str, list[list[Any]]]:
    """Read a page image with Tesseract; return its text and word boxes.

    The page is read with ``options["languages"]``; when those are Korean and more (e.g.
    "kor+eng") and at least ``hangul_only_share`` of the letters read are Hangul, the
    page is read again with "kor" alone, which misreads fewer Hangul words as Latin
    (``benchmarks/ocr_cer.py``: CER 0.085 -> 0.024 on a page of Hangul only; docs/formats.md).

    Args:
        image: PIL image of the page.
        options: ``languages``, ``psm`` (page segmentation mode), ``hangul_only_share``,
            ``tesseract_cmd``, ``page_timeout_s``.

    Returns:
        ``(text, words)``: words of a line joined by spaces, lines by newlines and blocks
        or paragraphs by blank lines; each word as ``[text, left, top, right, bottom]``
        with the box in fractions of the image's width and height.

    Raises:
        RuntimeError: Tesseract ran past ``page_timeout_s`` (pytesseract's timeout).
        pytesseract.TesseractError: Tesseract failed.
    """
    languages = options["languages"]
    text, words = _tesseract(image, options, languages)
    share = options.get("hangul_only_share", 2.0)
    if "kor" in languages.split("+") and languages != "kor" and hangul_share(text) >= share:
        text, words = _tesseract(image, options, "kor")
    return text, words


def _tesseract(image: Any, options: dict[str, Any], languages: str) -> tuple[str, list[list[Any]]]:
    """One Tesseract run on ``image`` in ``languages``: its text and word boxes.

    With Korean and other languages, the words with Latin letters on a page with Hangul
    are read again (:func:`rag_core.ingestion.ocr_mixed.reread_latin_words`) unless
    ``options["reread_latin"]`` is false.
    """
    import pytesseract

    from rag_core.ingestion.ocr_mixed import Word, reread_latin_words

    pytesseract.pytesseract.tesseract_cmd = options["tesseract_cmd"]
    data = pytesseract.image_to_data(
        image,
        lang=languages,
        config=f"--psm {int(options.get('psm', 3))}",
        output_type=pytesseract.Output.DICT,
        timeout=options["page_timeout_s"],
    )
    found: list[Word] = []
    keys: list[tuple[int, int, int]] = []
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if not word:
            continue
        keys.append((data["block_num"][i], data["par_num"][i], data["line_num"][i]))
        left, top = data["left"][i], data["top"][i]
        found.append(Word(word, left, top, left + data["width"][i], top + data["height"][i]))
    mixed = "kor" in languages.split("+") and languages != "kor"
    if mixed and options.get("reread_latin", True) and found:

        def boxes(part: Any, lang: str) -> str:
            return pytesseract.image_to_boxes(
                part, lang=lang, config="--psm 6", timeout=options["page_timeout_s"]
            )

        found = reread_latin_words(image, found, boxes)
    width, height = image.size
    words: list[list[Any]] = []
    parts: list[str] = []
    last: tuple[int, int, int] | None = None
    for word, key in zip(found, keys, strict=True):
        if last is not None:
            parts.append(" " if key == last else "\n" if key[:2] == last[:2] else "\n\n")
        parts.append(word.text)
        last = key
        box = [round(word.left / width, 5), round(word.top / height, 5)]
        words.append(
            [word.text, *box, round(word.right / width, 5), round(word.bottom / height, 5)]
        )
    return "".join(parts), words


def _emit(
    number: int, future: Future[tuple[str, list[list[Any]]]], options: dict[str, Any]
) -> None:
    """Report a page's recognition, or why it failed (a timeout with its seconds)."""
    try:
        text, words = future.result()
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            _put(("skip", number, "timeout", {"seconds": options["page_timeout_s"]}))
        else:
            _put(("skip", number, "failed", {}))
        return
    except Exception as exc:  # TesseractError, OSError, MemoryError in a thread
        logger.warning("OCR of page %d failed: %s", number, exc)
        _put(("skip", number, "failed", {}))
        return
    _put(("page", number, text, words))


def _child_main(memory_limit: int) -> None:
    """Entry point of the OCR process (never raises: reports errors as messages)."""
    limit_memory(memory_limit)
    try:
        header = json.loads(sys.stdin.buffer.readline())
        data = sys.stdin.buffer.read()
        import pypdfium2 as pdfium

        options = header["options"]
        pdf = pdfium.PdfDocument(data, password=header.get("password"))
    except MemoryError:
        _put(("error", "memory", ""))
        return
    except Exception as exc:
        _put(("error", "damaged", f"{type(exc).__name__}: {str(exc)[:160]}"))
        return
    workers = max(1, int(options["workers"]))
    inflight: deque[tuple[int, Future[tuple[str, list[list[Any]]]]]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for number in header["pages"]:
            _put(("render", number))
            try:
                image, detail = render_page(pdf[number - 1], options)
                problem = "too_large"
            except MemoryError:  # within the pixel limits: a stream inflated past the cap
                _put(("error", "memory", ""))
                return
            except Exception as exc:
                logger.warning("rendering page %d failed: %s", number, exc)
                image, problem, detail = None, "failed", {}
            if image is None:
                _put(("skip", number, problem, detail))
                continue
            if is_blank(image):
                _put(("blank", number))
                continue
            inflight.append((number, pool.submit(recognise, image, options)))
            while len(inflight) > workers:
                _emit(*inflight.popleft(), options)
        while inflight:
            _emit(*inflight.popleft(), options)
    _put(("done",))


if __name__ == "__main__":
    _child_main(int(sys.argv[1]) if len(sys.argv) > 1 else MEMORY_LIMIT_BYTES)
