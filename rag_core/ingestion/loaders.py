"""Files -> LangChain ``Document`` pages, with page numbers and the file's sha256.

PDFs are read with pypdf (https://pypdf.readthedocs.io); ``.txt`` and ``.md`` files are
one page each. File names are only ever metadata: nothing here opens a path built from an
uploaded name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from rag_core.errors import DocumentError, NoTextError
from rag_core.index.chunks import SECTION_KEY, TITLE_KEY
from rag_core.index.files import HWP_SUFFIXES, PDF_SUFFIXES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES
from rag_core.ingestion.hwp_worker import HwpPages
from rag_core.ingestion.ocr import (
    OcrOptions,
    OcrPage,
    OcrSkip,
    is_garbage,
    iter_ocr,
    needs_ocr,
    ocr_text,
    tesseract_problem,
)
from rag_core.ingestion.sections import Sections, section_metadata
from rag_core.ingestion.spacing import RESPACED_KEY, lost_spacing, respace
from rag_core.ingestion.worker import PdfHeadings, PdfInk, PdfMeta, iter_pdf_pages

logger = logging.getLogger(__name__)

MIN_PAGE_CHARS = 1
"""A page with fewer non-space characters than this counts as having no text layer."""
EMPTY_KINDS = {"blank": "blank", "image": "scan", "drawing": "drawing"}
"""What a page without text draws (:class:`~rag_core.ingestion.worker.PdfInk`) -> its
kind in :attr:`PageStream.page_kinds` when it is not recognised by OCR."""


@dataclass
class LoadedFile:
    """One file read into pages.

    Attributes:
        name: display name of the file (the upload's name), plain text.
        sha256: hex digest of the file's bytes; the document's identity.
        n_pages: pages in the file (1 for text files).
        pages: one Document per page that has text; metadata ``source``, ``page``
            (1-based physical page), ``page_label`` (printed label or the page number),
            ``sha256``.
        empty_pages: 1-based numbers of pages without extractable text.
    """

    name: str
    sha256: str
    n_pages: int
    pages: list[Document]
    empty_pages: list[int] = field(default_factory=list)


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of ``data`` (64 characters)."""
    return hashlib.sha256(data).hexdigest()


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Unicode bidirectional embedding, override and isolate characters (UAX #9): they can
make a displayed name read differently from its bytes."""
MAX_PAGE_LABEL_CHARS = 240
"""A printed page label longer than this is cut (real ones are "xii", "A-3", "15"; the UI
escapes whatever is left, see the browser test of a hostile label)."""


def printable(text: str) -> str:
    """``text`` without control and bidirectional-control characters, stripped."""
    return "".join(ch for ch in text if ch.isprintable() and ch not in BIDI_CONTROLS).strip()


def page_label(label: str, number: int) -> str:
    """A PDF's printed page label made safe to show: printable, at most 240 characters.

    The label comes from the file's ``/PageLabels`` (written by its author); the UI also
    escapes it. An empty result falls back to the physical page ``number``.
    """
    cleaned = printable(label)[:MAX_PAGE_LABEL_CHARS]
    return cleaned or str(number)


class RelativeName(str):
    """A file's path inside a synced folder, already made safe (:func:`relative_name`).

    Like ``markupsafe.Markup`` for escaped HTML, the type records that the text was
    cleaned: :func:`display_name` keeps it whole (folders included) instead of reducing it
    to its last component. It is a display name, never used as a path to open. A plain
    ``str`` with the same text (e.g. read back from a database) is reduced as usual.
    """

    __slots__ = ()


def relative_name(parts: Sequence[str]) -> RelativeName:
    r"""The display name of a file at ``parts`` below a folder: ``"docs/a.pdf"``.

    Each component is cleaned as :func:`display_name` cleans a file name (no control or
    bidirectional characters, at most 200 characters, no ``/`` or ``\``); empty, ``.``
    and ``..`` components become ``"unnamed"``. So ``docs/a.pdf`` and ``old/a.pdf`` stay two
    documents, and the result is inert text, never a path.

    Args:
        parts: the path components below the folder, e.g. ``("docs", "a.pdf")``.

    Returns:
        The components joined with ``/``.
    """
    cleaned = [display_name(part) if part not in (".", "..") else "unnamed" for part in parts]
    return RelativeName("/".join(cleaned) or "unnamed")


def display_name(name: str) -> str:
    """Reduce an uploaded or given file name to a safe display name.

    Keeps only the last path component (so ``../../x.pdf`` shows as ``x.pdf``), removes
    control and bidirectional-override characters and caps the length at 200 characters.
    A :class:`RelativeName` is already safe and is returned whole. The result is still
    never used as a path.

    Args:
        name: the name as received.

    Returns:
        A non-empty display string.
    """
    if isinstance(name, RelativeName):
        return name
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = printable(base)
    if len(cleaned) > 200:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[:190] + "…" + dot + suffix) if dot and len(suffix) <= 8 else cleaned[:200]
    return cleaned or "unnamed"


def suffix_of(name: str) -> str:
    """Return the lower-case suffix of a display name (``".pdf"``), or ``""``."""
    return Path(display_name(name)).suffix.lower()


class PageStream:
    """A file's pages as they are read; PDFs page by page from the parsing worker.

    Creating the stream opens the file: for a PDF it starts the worker
    (:func:`rag_core.ingestion.worker.iter_pdf_pages`) and waits for the page count, so a file
    that is empty, of an unsupported type, not a PDF, encrypted without the right password
    or unreadable from the start fails here, before any page is produced. Iterating then
    yields one Document per page that has text while the worker reads ahead. Pages without
    usable text (:func:`rag_core.ingestion.ocr.needs_ocr`) are recognised by OCR after the
    last page has been read, and yielded then (metadata ``ocr: True``); with OCR off they
    are collected in :attr:`empty_pages`, each with its kind in :attr:`page_kinds`; a page
    that draws nothing is blank and is never sent to OCR. Korean pages that lost their
    word spacing are respaced (:mod:`rag_core.ingestion.spacing`). Every page gets the
    document's title (``doc_title``) and its heading path (``section``) or, when a
    section starts on it, the section starts (:mod:`rag_core.ingestion.sections`). Close
    it (or use it as a context manager) to stop the worker early.

    Args:
        name: the file's name as uploaded; used for display and to pick the format.
        data: the file's content.
        password: password of an encrypted PDF, if the user gave one.
        timeout_s: wall-clock limit for the worker to read the whole PDF, in seconds.
        on_page: called with ``(pages_read, n_pages)`` after each page, with or without
            text, as the iteration reaches it.
        ocr: OCR settings; None = no OCR (pages without text are empty pages).
        on_ocr: called with ``(pages recognised, pages to recognise)`` after each OCR page.
        korean_spacing: restore lost spaces between Korean words.

    Attributes:
        name: display name of the file.
        sha256: hex digest of the file's bytes.
        n_pages: pages in the file (1 for text files).
        pages_read: pages the iteration has reached so far.
        empty_pages: 1-based numbers of the pages reached that had no text.
        page_kinds: why each of :attr:`empty_pages` has no text: "blank" (no ink: no
            content, or rendered nearly white), "scan" (images but no text, OCR off: a
            scanned page?), "drawing" (only vector ink, OCR off), "ocr_empty" (OCR ran and
            found no text).
        ocr_pages: pages whose text came from OCR.
        ocr_skipped: pages that needed OCR and did not get it, with the reason (a key of
            :data:`rag_core.ingestion.ocr.REASONS`).
        ocr_details: for pages skipped as too large, what is over which limit (see
            :class:`rag_core.ingestion.ocr.OcrSkip`).
        ocr_problem: why OCR could not run at all ("" when it could, or was not needed).
        ocr_words: the word boxes of each OCR'd page (see :class:`OcrPage`).
        respaced_pages: pages whose Korean word spacing was restored.

    Raises:
        DocumentError: empty file, unsupported type, not a PDF, damaged or too complex PDF
            (from the constructor, or from the iteration for problems met later in the file).
        PasswordRequiredError: an encrypted PDF and no password (constructor).
        WrongPasswordError: the password does not open the PDF (constructor).
        NoTextError: from the iteration, after the last page, when no page had text.
        DocumentError: from the iteration, code "limit", when rendering a page for OCR ran
            out of the worker's memory (a decompression bomb).
    """

    def __init__(
        self,
        name: str,
        data: bytes,
        *,
        password: str | None = None,
        timeout_s: float = 120.0,
        on_page: Callable[[int, int], None] | None = None,
        ocr: OcrOptions | None = None,
        on_ocr: Callable[[int, int], None] | None = None,
        korean_spacing: bool = False,
    ) -> None:
        """Open the file (see the class docstring for what fails here)."""
        self.name = display_name(name)
        if not data:
            raise DocumentError(self.name, "the file is empty (0 bytes)", "empty")
        self.sha256 = sha256_hex(data)
        self.pages_read = 0
        self.empty_pages: list[int] = []
        self.page_kinds: dict[int, str] = {}
        self.ocr_pages: list[int] = []
        self.ocr_skipped: dict[int, str] = {}
        self.ocr_details: dict[int, dict[str, Any]] = {}
        self.ocr_problem = ""
        self.ocr_words: dict[int, list[list[Any]]] = {}
        self.respaced_pages: list[int] = []
        self._data, self._password = data, password
        self._on_page, self._on_ocr = on_page, on_ocr
        self._ocr = ocr if ocr is not None else OcrOptions(mode="off")
        self._spacing = korean_spacing
        self._pdf: Iterator[PdfMeta | PdfHeadings | PdfInk | tuple[int, str]] | None = None
        self._hwp: HwpPages | None = None
        self._sections = Sections(self.name)
        suffix = suffix_of(self.name)
        if suffix in PDF_SUFFIXES:
            self._pdf = iter_pdf_pages(self.name, data, password=password, timeout_s=timeout_s)
            meta = next(self._pdf)
            assert isinstance(meta, PdfMeta)
            self.n_pages, self._labels = meta.n_pages, meta.labels
            self._sections = Sections(self.name, meta.title, meta.outline)
            self._items: Iterator[PdfMeta | PdfHeadings | PdfInk | tuple[int, str]] = self._pdf
        elif suffix in HWP_SUFFIXES:  # pages: paragraph groups under a heading path
            self._hwp = HwpPages(self.name, data, timeout_s=timeout_s)
            self.n_pages, self._labels = self._hwp.n_pages, []
            self._items = iter(self._hwp)
        elif suffix in TEXT_SUFFIXES:
            self.n_pages, self._labels = 1, ["1"]
            self._items = iter([(1, _decode_text(self.name, data))])
        else:
            allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise DocumentError(
                self.name,
                f"unsupported file type {suffix or '(none)'}; use {allowed}",
                "unsupported",
            )

    def __iter__(self) -> Iterator[Document]:
        """Yield the pages with text, then the OCR'd ones; :class:`NoTextError` if none."""
        with_text = 0
        deferred: dict[int, str] = {}
        ink: dict[int, str] = {}
        for item in self._items:
            assert not isinstance(item, PdfMeta)
            if isinstance(item, PdfHeadings):  # a PDF without bookmarks: its large lines
                self._sections.add_detected(item.number, item.headings)
                continue
            if isinstance(item, PdfInk):  # a page without text: what it draws
                ink[item.number] = item.kind
                continue
            number, text = item
            self.pages_read = number
            blank = ink.get(number) == "blank"  # nothing drawn: nothing for OCR to read
            if self._pdf is not None and not blank and needs_ocr(text, self._ocr.mode):
                deferred[number] = text
            elif len(text.strip()) < MIN_PAGE_CHARS:
                self.empty_pages.append(number)
                self.page_kinds[number] = EMPTY_KINDS.get(ink.get(number, "blank"), "blank")
            else:
                with_text += 1
                yield self._page(number, text)
            if self._on_page is not None:
                self._on_page(self.pages_read, self.n_pages)
        for page in self._recognise(deferred):
            with_text += 1
            yield page
        if not with_text:
            self._raise_no_text()
        if self.empty_pages:
            logger.info(
                "%s: %d of %d pages have no text", self.name, len(self.empty_pages), self.n_pages
            )

    def _page(self, number: int, text: str, *, ocr: bool = False) -> Document:
        """The Document of one page (respaced when its Korean spacing was lost)."""
        raw = self._labels[number - 1] if number <= len(self._labels) else ""
        if self._hwp is not None:  # the block's heading path; its number: first paragraph
            raw = self._hwp.labels.get(number, "")
        metadata: dict[str, Any] = {
            "source": self.name,
            "page": number,
            "page_label": page_label(raw, number),
            "sha256": self.sha256,
        }
        if ocr:
            metadata["ocr"] = True
        if self._hwp is not None:
            metadata["kind"] = self._hwp.kind
        if self._spacing and lost_spacing(text):
            respaced = respace(text)
            if respaced is not None:
                self.respaced_pages.append(number)
                metadata[RESPACED_KEY] = respaced
                text = respaced.text
        metadata[TITLE_KEY] = self._sections.doc_title
        if self._hwp is not None:  # HWP/HWPX: the page is one heading path's paragraphs
            if raw:
                metadata[SECTION_KEY] = metadata["page_label"]
        else:
            metadata.update(section_metadata(self._sections.page_starts(number, text)))
        return Document(page_content=text, metadata=metadata)

    def _recognise(self, deferred: dict[int, str]) -> Iterator[Document]:
        """OCR the deferred pages; fall back to a usable text layer when OCR fails."""
        if not deferred:
            return
        self.ocr_problem = tesseract_problem(self._ocr.tesseract_cmd, self._ocr.languages)
        if self.ocr_problem:
            outcomes: Iterator[OcrPage | OcrSkip] = iter(
                [OcrSkip(number, "unavailable") for number in deferred]
            )
        else:
            outcomes = iter_ocr(
                self._data,
                sorted(deferred),
                self._ocr,
                password=self._password,
                on_page=self._on_ocr,
            )
        for outcome in outcomes:
            if isinstance(outcome, OcrPage) and outcome.text.strip():
                self.ocr_pages.append(outcome.number)
                self.ocr_words[outcome.number] = outcome.words
                yield self._page(outcome.number, ocr_text(outcome.text), ocr=True)
                continue
            number = outcome.number
            if isinstance(outcome, OcrSkip) and outcome.reason == "memory":
                self._raise_memory(number, outcome.detail.get("limit", 0))
            text = deferred[number]
            if not is_garbage(text):  # "force" on a page with text: keep its text layer
                yield self._page(number, text)
            elif isinstance(outcome, OcrPage):  # no ink, or OCR read nothing
                self.empty_pages.append(number)
                self.page_kinds[number] = "blank" if outcome.blank else "ocr_empty"
            else:
                self.ocr_skipped[number] = outcome.reason
                if outcome.detail:
                    self.ocr_details[number] = outcome.detail
        self.ocr_pages.sort()
        self.empty_pages.sort()

    def _raise_memory(self, number: int, limit: int) -> None:
        """Refuse the file: rendering page ``number`` for OCR ran out of ``limit`` bytes.

        The page is within the pixel limits, so a stream on it inflated past the worker's
        address-space cap: the same refusal as the parse worker's limit errors (THREATS 7).

        Raises:
            DocumentError: always, code "limit", params ``page`` and ``limit_mb``.
        """
        limit_mb = round(limit / 2**20)
        raise DocumentError(
            self.name,
            "the PDF exceeds the reader's safety limits (decompression bomb?): rendering "
            f"page {number} for OCR needed more than the {limit_mb} MB memory limit",
            "limit",
            {"page": number, "limit_mb": limit_mb},
        )

    def _raise_no_text(self) -> None:
        """Raise the :class:`NoTextError` of a file without any page of text.

        Codes: "ocr_unavailable" (Tesseract missing), "ocr_too_large" (every page that
        needed OCR is over a pixel limit; params ``page``, ``width``, ``height``,
        ``limit_mp`` of the first), "blank" (every page is blank), else "no_text".
        """
        if self.ocr_skipped:
            pages = describe_empty_pages(sorted(self.ocr_skipped))
            sized = {
                n: d for n, d in self.ocr_details.items() if d.get("what") in ("image", "page")
            }
            if self.ocr_problem:
                why, code, params = self.ocr_problem, "ocr_unavailable", {}
            elif sized and len(sized) == len(self.ocr_skipped):
                first = min(sized)
                detail = sized[first]
                params = {
                    "page": first,
                    "width": detail["width"],
                    "height": detail["height"],
                    "limit_mp": round(detail["limit"] / 1e6),
                }
                size = f"{detail['width']} x {detail['height']}"
                what = (
                    f"holds a {size} pixel image"
                    if detail["what"] == "image"
                    else f"is {size} pixels at the lowest OCR resolution"
                )
                limit = f"over {params['limit_mp']} MP"
                why = f"over the OCR pixel limit (page {first} {what}, {limit})"
                code = "ocr_too_large"
            else:
                why, code, params = "OCR could not read them", "no_text", {}
            raise NoTextError(
                self.name,
                f"no page has extractable text and {pages} could not be OCR'd: {why}",
                code,
                params,
            )
        code = "no_text"
        if self._pdf is None:
            why = "the file holds only whitespace"
        elif all(kind == "blank" for kind in self.page_kinds.values()):
            why, code = "every page is blank", "blank"
        elif self._ocr.mode == "off":
            why = "is it a scanned document? Turn OCR on (RAG_OCR=auto)"
        else:
            why = "OCR found no text either"
        raise NoTextError(self.name, f"no page has extractable text: {why}", code)

    def listen(
        self,
        on_page: Callable[[int, int], None] | None,
        on_ocr: Callable[[int, int], None] | None,
    ) -> None:
        """Set the page and OCR callbacks of a stream opened before its ingest began.

        A queue opens the next files' streams while the current file embeds (their
        workers read ahead), then hands each to the pipeline, which listens from then on.

        Args:
            on_page: called with ``(pages_read, n_pages)`` (see the class docstring).
            on_ocr: called with ``(pages recognised, pages to recognise)``.
        """
        self._on_page, self._on_ocr = on_page, on_ocr

    def close(self) -> None:
        """Stop the PDF worker if it is still running (idempotent)."""
        if self._pdf is not None:
            self._pdf.close()  # type: ignore[attr-defined]
        if self._hwp is not None:
            self._hwp.close()

    def __enter__(self) -> PageStream:
        """Return the stream."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the stream."""
        self.close()


def load_bytes(name: str, data: bytes, **options: Any) -> LoadedFile:
    """Read a file's bytes into page Documents (all pages; see :class:`PageStream`).

    Args:
        name: the file's name as uploaded; used for display and to pick the format.
        data: the file's content.
        **options: ``password``, ``timeout_s``, ``on_page``, ``ocr``, ``on_ocr``,
            ``korean_spacing`` of :class:`PageStream`.

    Returns:
        The loaded file with its non-empty pages.

    Raises:
        DocumentError: empty file, unsupported type, not a PDF, damaged or too complex PDF.
        PasswordRequiredError: an encrypted PDF and no password.
        WrongPasswordError: the password does not open the PDF.
        NoTextError: no page has extractable text (scanned document).
    """
    with PageStream(name, data, **options) as stream:
        pages = list(stream)
        return LoadedFile(
            name=stream.name,
            sha256=stream.sha256,
            n_pages=stream.n_pages,
            pages=pages,
            empty_pages=stream.empty_pages,
        )


def precheck(name: str, data: bytes) -> None:
    """Refuse a file that cannot be read before it waits for a parser (milliseconds).

    What needs no parser: an empty file, an unsupported type, a ``.pdf`` without the
    ``%PDF-`` header (:func:`~rag_core.ingestion.worker.check_pdf_magic`), an ``.hwp`` /
    ``.hwpx`` that is neither a zip nor an OLE compound file
    (:func:`~rag_core.ingestion.hwp.sniff`), a text file in neither UTF-8 nor CP949. The
    ingest runs the same checks again; this one lets a queue report such files at once
    instead of after the files queued before them.

    Args:
        name: the file's name as uploaded.
        data: its bytes.

    Raises:
        DocumentError: with the code the ingest would give ("empty", "unsupported",
            "not_pdf", "hwp_not_hwp", "hwp3", "encoding").
    """
    from rag_core.ingestion.hwp import HwpParseError, sniff
    from rag_core.ingestion.hwp_worker import error_from_child
    from rag_core.ingestion.worker import check_pdf_magic

    shown = display_name(name)
    if not data:
        raise DocumentError(shown, "the file is empty (0 bytes)", "empty")
    suffix = suffix_of(shown)
    if suffix in PDF_SUFFIXES:
        check_pdf_magic(shown, data)
    elif suffix in HWP_SUFFIXES:
        try:
            sniff(data)
        except HwpParseError as exc:
            raise error_from_child(shown, exc.kind, exc.detail) from exc
    elif suffix in TEXT_SUFFIXES:
        _decode_text(shown, data)
    else:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise DocumentError(
            shown, f"unsupported file type {suffix or '(none)'}; use {allowed}", "unsupported"
        )


def _decode_text(name: str, data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(name, "the text file is neither UTF-8 nor CP949 (EUC-KR)", "encoding")


def describe_empty_pages(pages: list[int], limit: int = 12) -> str:
    """Format page numbers for a message: ``"pages 3, 7"`` or ``"page 3"``.

    Args:
        pages: 1-based page numbers.
        limit: how many numbers to list before "and N more".
    """
    shown = ", ".join(str(p) for p in pages[:limit])
    more = f" and {len(pages) - limit} more" if len(pages) > limit else ""
    return f"{'page' if len(pages) == 1 else 'pages'} {shown}{more}"
