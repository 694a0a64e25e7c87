"""Ingest progress events and results: what the UI, the CLI and the benchmarks are told."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rag_core.ingestion.loaders import describe_empty_pages
from rag_core.ingestion.ocr import INSTALL_COMMAND

NOTE_TEXTS = {
    "blank": "{pages}: blank, nothing to read.",
    "scan": "{pages}: images without text (scanned?); turn OCR on to read them.",
    "drawing": "{pages}: no text, only drawings.",
    "ocr_empty": "{pages}: OCR found no text.",
    "ocr": "{pages}: read by OCR.",
    "unavailable": "{pages}: could not be OCR'd: {problem}.",
    "timeout": "{pages}: not OCR'd, it took longer than the {seconds} s limit.",
    "failed": "{pages}: OCR failed.",
    "too_large_image": (
        "{pages}: not OCR'd, it holds a {width} x {height} pixel image, over the "
        "{limit_mp} MP limit for one image (decoding it would not fit in memory)."
    ),
    "too_large_page": (
        "{pages}: not OCR'd, even at {dpi} dpi (the lowest OCR resolution) it is "
        "{width} x {height} pixels, over the {limit_mp} MP OCR limit."
    ),
    "too_large": "{pages}: not OCR'd, over the image size limit.",
}
"""English text of each :class:`PageNote` code; the UI has its own in every language
(``docs.note.<code>`` in ``ui/locales/messages.json``)."""


@dataclass(frozen=True)
class PageNote:
    """One sentence about pages that were read differently or not at all.

    Attributes:
        code: a key of :data:`NOTE_TEXTS`: "blank", "scan", "drawing", "ocr_empty"
            (pages without text, by :attr:`IngestResult.page_kinds`), "ocr" (read by OCR),
            or why OCR skipped them: "unavailable", "timeout", "failed",
            "too_large_image", "too_large_page" ("too_large" without its size).
        pages: 1-based page numbers, ascending.
        params: the values the text names: ``problem`` (unavailable: why, with the
            install command) and ``command`` (that command alone); ``seconds`` (timeout);
            ``width``, ``height`` (pixels), ``limit_mp`` (megapixels) and ``dpi``
            (too_large_*).
    """

    code: str
    pages: list[int]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The English sentence, e.g. "pages 2, 6: blank, nothing to read."."""
        return NOTE_TEXTS[self.code].format(pages=describe_empty_pages(self.pages), **self.params)


@dataclass(frozen=True)
class IngestProgress:
    """One progress event.

    Attributes:
        filename: display name of the file.
        stage: "parse", "ocr", "model" (waiting for the embedding model to be ready),
            "split", "embed", "store" or "done".
        done: units finished in this stage.
        total: units in this stage (pages for parse and ocr, chunks for the others).
        elapsed_s: seconds since this file started.
        stage_elapsed_s: seconds since this stage started.
    """

    filename: str
    stage: str
    done: int
    total: int
    elapsed_s: float
    stage_elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        """Progress of the stage in [0, 1]."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def eta_s(self) -> float | None:
        """Estimated seconds left in this stage, or None before the first unit is done.

        Linear extrapolation of the stage's rate so far (the same estimate as tqdm's):
        ``stage_elapsed_s * (1 - fraction) / fraction``.
        """
        fraction = self.fraction
        if fraction >= 1.0:
            return 0.0
        if fraction <= 0.0 or self.stage_elapsed_s <= 0.0:
            return None
        return self.stage_elapsed_s * (1.0 - fraction) / fraction


ProgressCallback = Callable[[IngestProgress], None]


@dataclass
class IngestResult:
    """What happened to one file.

    Attributes:
        filename: display name.
        sha256: content hash ("" if the file was not readable).
        status: "indexed", "unchanged" (already indexed), or "failed".
        pages: pages in the file.
        chunks: chunks of the document now stored.
        embedded: chunks embedded by this call (0 when nothing changed).
        indexed_as: for "unchanged", the name the same content is indexed under when it
            differs from ``filename`` (the registry keys documents on sha256, so the same
            bytes under a second name stay one document).
        replaced: sha256s of older versions with the same name that were removed.
        empty_pages: 1-based pages without text.
        page_kinds: why each empty page has no text (see
            :attr:`rag_core.ingestion.loaders.PageStream.page_kinds`).
        ocr_pages: pages whose text was recognised by OCR.
        ocr_skipped: pages that needed OCR and did not get it, with the reason
            (:data:`rag_core.ingestion.ocr.REASONS`).
        ocr_details: what limit a skipped page hit (see
            :class:`rag_core.ingestion.ocr.OcrSkip`).
        ocr_problem: why OCR could not run ("" if it could), with the install command.
        respaced_pages: pages whose lost Korean word spacing was restored.
        error: the message for a failed file (English).
        error_code: :attr:`rag_core.errors.DocumentError.code` of a failed file.
        error_params: :attr:`rag_core.errors.DocumentError.params` of a failed file.
        seconds: wall time spent.
    """

    filename: str
    sha256: str
    status: str
    pages: int = 0
    chunks: int = 0
    embedded: int = 0
    indexed_as: str = ""
    replaced: list[str] = field(default_factory=list)
    empty_pages: list[int] = field(default_factory=list)
    page_kinds: dict[int, str] = field(default_factory=dict)
    ocr_pages: list[int] = field(default_factory=list)
    ocr_skipped: dict[int, str] = field(default_factory=dict)
    ocr_details: dict[int, dict[str, Any]] = field(default_factory=dict)
    ocr_problem: str = ""
    respaced_pages: list[int] = field(default_factory=list)
    error: str = ""
    error_code: str = ""
    error_params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def notes(self) -> list[PageNote]:
        """Notes on pages without text and on OCR, in page order of their first page.

        Pages without text are grouped by kind (a blank page is "blank", never a
        suspected scan); pages OCR skipped are grouped by reason, except those over a size
        limit, which get one note each with their size and the limit.
        """
        notes: list[PageNote] = []
        by_code: dict[tuple[str, Any], list[int]] = {}
        for page in sorted(self.empty_pages):
            by_code.setdefault((self.page_kinds.get(page, "blank"), None), []).append(page)
        if self.ocr_pages:
            by_code[("ocr", None)] = sorted(self.ocr_pages)
        for page, reason in sorted(self.ocr_skipped.items()):
            detail = self.ocr_details.get(page, {})
            if reason == "too_large" and detail.get("what") in ("image", "page"):
                params = {
                    "width": detail["width"],
                    "height": detail["height"],
                    "limit_mp": round(detail["limit"] / 1e6),
                    **({"dpi": detail["dpi"]} if "dpi" in detail else {}),
                }
                notes.append(PageNote(f"too_large_{detail['what']}", [page], params))
                continue
            key = detail.get("seconds") if reason == "timeout" else None
            by_code.setdefault((reason, key), []).append(page)
        for (code, key), pages in by_code.items():
            params: dict[str, Any] = {}
            if code == "unavailable":
                params["problem"] = (
                    self.ocr_problem or f"Tesseract is not installed: {INSTALL_COMMAND}"
                )
                tail = params["problem"].rpartition(": ")[2]
                params["command"] = tail if tail.startswith("apt-get") else INSTALL_COMMAND
            elif code == "timeout":
                params["seconds"] = round(key or 0)
            notes.append(PageNote(code if code in NOTE_TEXTS else "failed", pages, params))
        return sorted(notes, key=lambda note: note.pages[0])

    @property
    def warning(self) -> str:
        """The :attr:`notes` in English, one sentence each ("" if none).

        E.g. "page 2: blank, nothing to read. pages 3, 4: read by OCR. page 5: not OCR'd,
        it holds a 50000 x 50000 pixel image, over the 179 MP limit for one image
        (decoding it would not fit in memory)."
        """
        return " ".join(note.text for note in self.notes)


class ProgressReporter:
    """Sends :class:`IngestProgress` events for one file to an optional callback.

    Each stage's clock starts at its first event. Stages overlap while a PDF streams in
    (pages are read while earlier chunks are embedded and stored), so events of different
    stages may alternate; each keeps its own elapsed time and ETA. The time spent waiting
    for the embedding model (the ``"model"`` stage) is left out of the other stages'
    clocks, so their ETAs do not jump after it.
    """

    def __init__(self, filename: str, callback: ProgressCallback | None) -> None:
        """Start the clock for ``filename``."""
        self.filename = filename
        self.callback = callback
        self.started = time.monotonic()
        self.stage_started: dict[str, float] = {}
        self._model_wait_started: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Report ``done`` of ``total`` units of ``stage``."""
        now = time.monotonic()
        if stage == "model":
            self._model_wait_started = now
        elif self._model_wait_started is not None:
            waited = now - self._model_wait_started
            self._model_wait_started = None
            for name in self.stage_started:
                if name != "model":
                    self.stage_started[name] += waited
        stage_started = self.stage_started.setdefault(stage, now)
        if self.callback is not None:
            self.callback(
                IngestProgress(
                    self.filename, stage, done, total, now - self.started, now - stage_started
                )
            )


def expected_chunks(chunks: int, pages_read: int, n_pages: int, *, finished: bool) -> int:
    """Estimate a streaming document's chunk count from the pages read so far.

    Args:
        chunks: chunks split so far.
        pages_read: pages read so far.
        n_pages: pages in the file.
        finished: every page has been read (then ``chunks`` is exact).

    Returns:
        ``chunks`` when finished, else the same chunks-per-page rate extended to the
        whole file, and always more than ``chunks`` while pages remain.
    """
    if finished:
        return chunks
    rate = chunks / pages_read if pages_read else 0.0
    return max(chunks + 1, round(rate * n_pages))
