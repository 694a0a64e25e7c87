"""Ingest progress events and results: what the UI, the CLI and the benchmarks are told."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rag_core.ingestion.loaders import describe_empty_pages
from rag_core.ingestion.ocr import REASONS


@dataclass(frozen=True)
class IngestProgress:
    """One progress event.

    Attributes:
        filename: display name of the file.
        stage: "parse", "ocr", "split", "embed", "store" or "done".
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
        ocr_pages: pages whose text was recognised by OCR.
        ocr_skipped: pages that needed OCR and did not get it, with the reason
            (:data:`rag_core.ingestion.ocr.REASONS`).
        ocr_problem: why OCR could not run ("" if it could), with the install command.
        respaced_pages: pages whose lost Korean word spacing was restored.
        error: the message for a failed file (English).
        error_code: :attr:`rag_core.errors.DocumentError.code` of a failed file.
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
    ocr_pages: list[int] = field(default_factory=list)
    ocr_skipped: dict[int, str] = field(default_factory=dict)
    ocr_problem: str = ""
    respaced_pages: list[int] = field(default_factory=list)
    error: str = ""
    error_code: str = ""
    seconds: float = 0.0

    @property
    def warning(self) -> str:
        """Notes on pages without text and on OCR, one sentence each ("" if none).

        E.g. "pages 3, 7 have no text: scanned?", "pages 2, 3 were read by OCR.",
        "page 4 could not be OCR'd: Tesseract is not installed: apt-get install ...".
        """
        notes = []
        if self.empty_pages:
            verb = "has" if len(self.empty_pages) == 1 else "have"
            notes.append(f"{describe_empty_pages(self.empty_pages)} {verb} no text: scanned?")
        if self.ocr_pages:
            verb = "was" if len(self.ocr_pages) == 1 else "were"
            notes.append(f"{describe_empty_pages(self.ocr_pages)} {verb} read by OCR.")
        by_reason: dict[str, list[int]] = {}
        for page, reason in sorted(self.ocr_skipped.items()):
            by_reason.setdefault(reason, []).append(page)
        for reason, pages in by_reason.items():
            why = self.ocr_problem if reason == "unavailable" and self.ocr_problem else None
            text = why or REASONS.get(reason, reason)
            notes.append(f"{describe_empty_pages(pages)} could not be OCR'd: {text}.")
        return " ".join(notes)


class ProgressReporter:
    """Sends :class:`IngestProgress` events for one file to an optional callback.

    Each stage's clock starts at its first event. Stages overlap while a PDF streams in
    (pages are read while earlier chunks are embedded and stored), so events of different
    stages may alternate; each keeps its own elapsed time and ETA.
    """

    def __init__(self, filename: str, callback: ProgressCallback | None) -> None:
        """Start the clock for ``filename``."""
        self.filename = filename
        self.callback = callback
        self.started = time.monotonic()
        self.stage_started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Report ``done`` of ``total`` units of ``stage``."""
        now = time.monotonic()
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
