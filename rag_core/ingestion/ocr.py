"""OCR for PDF pages without usable text: which pages, whether Tesseract is here, run it.

A page is recognised when it has no text layer or when its text is garbage
(:func:`is_garbage`), or every page with ``mode="force"``. The work happens in worker
processes (:mod:`rag_core.ingestion.ocr_worker`, one per batch of pages, each with the
parse worker's address-space cap and a deadline), which render pages with pypdfium2 and run
Tesseract (https://github.com/tesseract-ocr/tesseract, Debian packages ``tesseract-ocr`` and
``tesseract-ocr-kor``) through pytesseract, two pages at a time. Pages whose image is
over the size limit (with their size and the limit), that time out or whose worker fails
are reported by number, and so are all of them when Tesseract is not installed; the rest
of the file is indexed anyway. A worker killed by its memory cap while rendering a page
within the pixel limits names that page with the reason ``"memory"``: a stream inflated
past the cap (a decompression bomb), which the loader refuses like the parse worker's
limit errors.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rag_core.ingestion.spacing import rejoin_syllables, split_syllables
from rag_core.ingestion.worker import MEMORY_LIMIT_BYTES, run_child

logger = logging.getLogger(__name__)

OcrMode = Literal["auto", "off", "force"]
INSTALL_COMMAND = "apt-get install tesseract-ocr tesseract-ocr-kor"
CID_RUN = re.compile(r"\(cid:\d+\)")
"""How PDF extractors write a glyph without a Unicode mapping: ``(cid:42)``."""
MAX_JUNK_SHARE = 0.3
"""A page whose non-space characters are at least this share of ``(cid:NN)`` runs, U+FFFD
replacement characters, control, private-use or unassigned code points is garbage. The
pages of lshort.pdf, lshort-ko.pdf and gnuplot.pdf reach at most 0.164 (a picture
environment drawn with a symbol font)."""
MAX_NON_TEXT_SHARE = 0.5
"""A page whose non-space characters are mostly neither letters, digits, punctuation nor
ASCII (junk as above, or symbols such as box drawing and dingbats) is garbage; the same
pages reach at most 0.166. Punctuation counts as text, so index pages full of leader dots
(letters and digits only 15% of their characters) are left alone."""
PLAIN_TEXT = re.compile(r"[\x21-\x7e\u3131-\u318e\u4e00-\u9fff\uac00-\ud7a3]+")
"""Characters that are text without a look-up: printable ASCII, Hangul compatibility jamo,
CJK unified ideographs, Hangul syllables."""
JUNK_CATEGORIES = frozenset({"Cc", "Co", "Cn", "Cs"})
"""Unicode general categories of junk: control, private use, unassigned, surrogate."""
HANGUL_ONLY_SHARE = 0.9
"""Share of Hangul among the letters read at or above which a page is read again with
"kor" alone. A page of Hangul only reads as 0.94 with "kor+eng" (its misreads are Latin
letters); 2 of the 143 text pages of lshort-ko.pdf, a Korean manual full of Latin
commands that "kor" alone would garble, reach 0.9 (0.92 and 0.97), the others at most 0.9."""
REASONS = {
    "too_large": "over the image size limit",
    "timeout": "OCR took too long",
    "failed": "OCR failed",
    "unavailable": "Tesseract is not installed",
    "memory": "rendering it ran out of memory (decompression bomb?)",
}
"""Why a page was not recognised (the codes the worker and :func:`iter_ocr` report)."""


OUT_OF_MEMORY_EXITS = (-6, -9)
"""Exit codes of a worker that ran out of memory: SIGABRT (PDFium's C++ aborts when an
allocation fails under the address-space cap; seen with a 1 GiB annotation appearance)
and SIGKILL (the kernel's out-of-memory killer). A crash of another kind is "failed"."""


@dataclass(frozen=True)
class OcrOptions:
    """How pages are recognised (see :class:`rag_core.config.Settings` for the settings).

    Attributes:
        mode: "auto" (pages without usable text), "off" or "force" (every page).
        languages: Tesseract languages, e.g. "kor+eng".
        dpi: render resolution in dots per inch (400: lower character error rate than 300
            on Korean and English scans, ``benchmarks/ocr_cer.py``; see docs/formats.md).
        tesseract_cmd: the tesseract binary, a name on PATH or a path.
        psm: Tesseract's page segmentation mode (``--psm``). 4 (one column of text of
            variable sizes) by default: Tesseract's own default, 3 (automatic page
            segmentation), took whole pages of dense Hangul for pictures (CER 0.83 against
            0.09) and reordered lines; 3 is better only for pages in several columns
            (docs/formats.md).
        hangul_only_share: a page whose text read with Korean and other languages has at
            least this share of Hangul letters is read again with "kor" alone (above 1:
            never); see :func:`rag_core.ingestion.ocr_worker.recognise`.
        reread_latin: on a page with Hangul read with Korean and other languages, read
            the words with Latin letters again (a Korean particle after a Latin word,
            Hangul words read as Latin: :mod:`rag_core.ingestion.ocr_mixed`).
        max_pixels: most pixels a page is rendered with; a larger page is rendered at a
            lower resolution, and reported as over the limit below ``min_dpi``.
        min_dpi: lowest resolution worth recognising.
        max_image_pixels: most pixels of one image drawn on the page (decoding a larger
            one would not fit in memory: THREATS row 27); such pages are reported.
        page_timeout_s: seconds Tesseract may spend on one page.
        workers: Tesseract processes run at once (one per core).
        batch_pages: pages per worker process.
        memory_limit: address-space cap of each worker process and its Tesseract
            processes, in bytes.
    """

    mode: OcrMode = "auto"
    languages: str = "kor+eng"
    dpi: int = 400
    tesseract_cmd: str = "tesseract"
    psm: int = 4
    hangul_only_share: float = HANGUL_ONLY_SHARE
    reread_latin: bool = True
    max_pixels: int = 40_000_000
    min_dpi: int = 100
    max_image_pixels: int = 178_956_970
    page_timeout_s: float = 60.0
    workers: int = 2
    batch_pages: int = 16
    memory_limit: int = MEMORY_LIMIT_BYTES

    @classmethod
    def from_settings(cls, settings: Any) -> OcrOptions:
        """Options from a :class:`rag_core.config.Settings` (its ``ocr_*`` fields)."""
        return cls(
            mode=settings.ocr,
            languages=settings.ocr_languages,
            dpi=settings.ocr_dpi,
            psm=settings.ocr_psm,
            reread_latin=settings.ocr_reread_latin,
            tesseract_cmd=settings.tesseract_cmd,
            max_pixels=settings.ocr_max_pixels,
            page_timeout_s=settings.ocr_page_timeout,
            workers=settings.ocr_workers,
        )


@dataclass(frozen=True)
class OcrPage:
    """A recognised page.

    Attributes:
        number: 1-based page number.
        text: the recognised text: words of a line joined by spaces, lines by newlines,
            paragraphs by blank lines.
        words: ``[text, left, top, right, bottom]`` per word, the box as fractions of the
            rendered page's width and height (origin top-left), in reading order.
    """

    number: int
    text: str
    words: list[list[Any]]
    blank: bool = False


@dataclass(frozen=True)
class OcrSkip:
    """A page that needed OCR and did not get it.

    Attributes:
        number: 1-based page number.
        reason: a key of :data:`REASONS`.
        detail: for ``"too_large"``, what is over which limit: ``what`` ("image": one
            image drawn on the page, or "page": the page rendered at ``dpi``, the lowest
            resolution worth reading), ``width`` and ``height`` in pixels, ``limit`` in
            pixels; for ``"timeout"``, the ``seconds`` that ran out; for ``"memory"``, the
            worker's ``limit`` in bytes; else empty.
    """

    number: int
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


def junk_shares(text: str) -> tuple[float, float]:
    """Shares of junk and of non-text characters among a text's non-space characters.

    Args:
        text: a page's extracted text.

    Returns:
        ``(junk, non_text)`` in [0, 1] (see :data:`MAX_JUNK_SHARE` and
        :data:`MAX_NON_TEXT_SHARE`); ``(0, 0)`` for a text without non-space characters.
    """
    packed = "".join(text.split())
    if not packed:
        return 0.0, 0.0
    cid = 0
    if "(cid:" in packed:
        cid = sum(len(run) for run in CID_RUN.findall(packed))
        packed_rest = CID_RUN.sub("", packed)
    else:
        packed_rest = packed
    # Printable ASCII, Hangul and CJK ideographs are text: only the rest is looked up.
    rest = PLAIN_TEXT.sub("", packed_rest)
    categories = [unicodedata.category(c) for c in rest]
    junk = cid + sum(
        1
        for c, cat in zip(rest, categories, strict=True)
        if c == "\ufffd" or cat in JUNK_CATEGORIES
    )
    symbols = sum(
        1
        for c, cat in zip(rest, categories, strict=True)
        if c != "\ufffd" and cat[0] not in "LNP" and cat not in JUNK_CATEGORIES
    )
    return junk / len(packed), (junk + symbols) / len(packed)


def is_garbage(text: str) -> bool:
    """Whether a page's text layer is unusable: no text, or mostly junk or symbols.

    Args:
        text: the page's extracted text.

    Returns:
        True when it has no non-space character, when ``(cid:NN)`` runs, replacement and
        control characters make up :data:`MAX_JUNK_SHARE` of it, or when such junk and
        non-ASCII symbols make up :data:`MAX_NON_TEXT_SHARE` of it.
    """
    if not text.strip():
        return True
    junk, non_text = junk_shares(text)
    return junk >= MAX_JUNK_SHARE or non_text >= MAX_NON_TEXT_SHARE


def ocr_text(text: str) -> str:
    """Tesseract's page text made searchable: Korean words split into syllables rejoined.

    Tesseract's Korean model often puts a space between every syllable ("교 차 참 조");
    such text is rejoined and spaced by Kiwi (:func:`rag_core.ingestion.spacing.
    rejoin_syllables`). Non-space characters never change.
    """
    return rejoin_syllables(text) if split_syllables(text) else text


def needs_ocr(text: str, mode: OcrMode) -> bool:
    """Whether a page with this extracted text is recognised in ``mode``."""
    if mode == "off":
        return False
    return mode == "force" or is_garbage(text)


_WORKING: set[tuple[str, str, str]] = set()
"""(command, languages, PATH) found to work; a problem is looked for again next time, so
installing Tesseract needs no restart."""


def tesseract_problem(tesseract_cmd: str, languages: str) -> str:
    """Why Tesseract cannot read ``languages`` here, or "" when it can.

    Args:
        tesseract_cmd: the binary (name on PATH or path).
        languages: e.g. "kor+eng".

    Returns:
        "" when the binary runs and has every language; otherwise a message with the
        command that installs what is missing.
    """
    key = (tesseract_cmd, languages, os.environ.get("PATH", ""))
    if key in _WORKING:
        return ""
    binary = shutil.which(tesseract_cmd)
    if binary is None:
        return f"Tesseract is not installed: {INSTALL_COMMAND}"
    try:
        listed = subprocess.run(
            [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Tesseract does not run ({exc}): {INSTALL_COMMAND}"
    have = {line.strip() for line in listed.stdout.splitlines()[1:]}
    missing = [lang for lang in languages.split("+") if lang and lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return f"Tesseract has no {'+'.join(missing)} language data: apt-get install {packages}"
    _WORKING.add(key)
    return ""


def iter_ocr(
    data: bytes,
    pages: list[int],
    options: OcrOptions,
    *,
    password: str | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> Iterator[OcrPage | OcrSkip]:
    """Recognise ``pages`` of a PDF, in worker processes of ``options.batch_pages`` pages.

    Args:
        data: the PDF's bytes.
        pages: 1-based page numbers, in order.
        options: resolution, limits, languages, Tesseract binary.
        password: the PDF's password, if it is encrypted.
        on_page: called with ``(pages handled, len(pages))`` after each page.

    Yields:
        An :class:`OcrPage` for each recognised page (``blank`` when it has no ink), or
        an :class:`OcrSkip` for a page that was not, in the order the pages finish.
    """
    done = 0
    for start in range(0, len(pages), options.batch_pages):
        batch = pages[start : start + options.batch_pages]
        for item in _run_batch(data, batch, options, password):
            done += 1
            yield item
            if on_page is not None:
                on_page(done, len(pages))


def _run_batch(
    data: bytes, batch: list[int], options: OcrOptions, password: str | None
) -> Iterator[OcrPage | OcrSkip]:
    """One worker process for ``batch``; pages it never reported are skipped.

    A worker that stops while rendering a page (it announces each one) with an exit code of
    :data:`OUT_OF_MEMORY_EXITS` or after reporting ``MemoryError`` names that page
    ``"memory"``; the pages after it are ``"failed"``, or
    all of them ``"timeout"`` when the deadline passed.
    """
    header = {"password": password, "pages": batch, "options": asdict(options)}
    line = json.dumps(header).encode() + b"\n"
    rounds = math.ceil(len(batch) / max(1, options.workers))
    if options.hangul_only_share <= 1:
        rounds *= 2  # a page may be read twice (see OcrOptions.hangul_only_share)
    timeout_s = 30.0 + options.page_timeout_s * rounds
    pending = list(batch)
    rendering: int | None = None
    # Tesseract's OpenMP threads would compete with the other page's process.
    env = {"OMP_THREAD_LIMIT": "1"}
    args = [str(options.memory_limit)]
    for message in run_child("rag_core.ingestion.ocr_worker", args, [line, data], timeout_s, env):
        kind = message[0]
        if kind == "render":
            rendering = message[1]
        elif kind == "page":
            pending.remove(message[1])
            yield OcrPage(message[1], message[2], message[3])
        elif kind == "blank":
            pending.remove(message[1])
            yield OcrPage(message[1], "", [], blank=True)
        elif kind == "skip":
            pending.remove(message[1])
            yield OcrSkip(message[1], message[2], message[3] if len(message) > 3 else {})
        elif kind in ("timeout", "error", "eof"):
            logger.warning("OCR worker stopped (%s) before pages %s", message, pending)
            out_of_memory = (kind == "error" and message[1] == "memory") or (
                kind == "eof" and message[1] in OUT_OF_MEMORY_EXITS
            )
            if out_of_memory and rendering in pending:
                pending.remove(rendering)
                yield OcrSkip(rendering, "memory", {"limit": options.memory_limit})
            if kind == "timeout":
                for number in pending:
                    yield OcrSkip(number, "timeout", {"seconds": timeout_s})
            else:
                for number in pending:
                    yield OcrSkip(number, "failed")
            return


__all__ = [
    "INSTALL_COMMAND",
    "REASONS",
    "OcrOptions",
    "OcrPage",
    "OcrSkip",
    "is_garbage",
    "iter_ocr",
    "junk_shares",
    "needs_ocr",
    "ocr_text",
    "tesseract_problem",
]
