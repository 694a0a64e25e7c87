"""Ingest files in a background thread, so a page that started an ingest is never blocked.

A web UI reruns its page script on every click; an ingest run inside the script would be
cut off when the user moves to another page. :class:`IngestQueue` instead runs ingests one
at a time on a worker thread (``concurrent.futures.ThreadPoolExecutor`` with one worker,
so the store has one writer per process) and keeps each job's latest progress event and
outcome for any page or browser tab to show. Jobs are kept in memory only: the store's
registry is the durable record of what is indexed.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from rag_core.errors import DocumentError, RagError
from rag_core.ingestion.loaders import precheck
from rag_core.ingestion.progress import IngestProgress, IngestResult
from rag_core.knowledge_base import KnowledgeBase

logger = logging.getLogger(__name__)

WRITE_LOCK_WAIT_S = 600.0
"""Seconds a queued ingest waits for another process's write lock before failing."""


@dataclass(frozen=True)
class IngestJob:
    """A snapshot of one queued file.

    Attributes:
        key: the caller's key for the job (unique per queue).
        name: the file's display name.
        state: "queued", "running" or "finished".
        progress: the latest progress event, None before the first one.
        result: the outcome of a finished ingest that returned.
        error: the error of a finished ingest that raised (a missing or wrong password,
            a store held by another writer for too long, an unexpected failure).
    """

    key: str
    name: str
    state: str = "queued"
    progress: IngestProgress | None = None
    result: IngestResult | None = None
    error: RagError | None = None

    @property
    def finished(self) -> bool:
        """True once the ingest returned or raised."""
        return self.state == "finished"


class IngestQueue:
    """Runs :meth:`KnowledgeBase.ingest_bytes` calls one after another on a worker thread.

    Thread-safe: pages call :meth:`submit` and :meth:`jobs` from their own threads.
    """

    def __init__(self, kb: KnowledgeBase, *, lock_wait_s: float = WRITE_LOCK_WAIT_S) -> None:
        """Create the queue and its (lazily started) worker thread for ``kb``."""
        self.kb = kb
        self.lock_wait_s = lock_wait_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()

    def submit(self, key: str, name: str, data: bytes, password: str | None = None) -> bool:
        """Queue ``data`` for ingest under ``key``, unless a job with that key exists.

        Args:
            key: caller's job key (e.g. an upload id plus a password attempt).
            name: the file's name (display only).
            data: the file's bytes.
            password: for an encrypted PDF.

        A file that cannot be read at all (empty, unsupported, not the type its name says:
        :func:`~rag_core.ingestion.loaders.precheck`) is finished with its error at once,
        instead of waiting behind the files queued before it.

        Returns:
            True if a new job was queued (or finished at once with its error).
        """
        with self._lock:
            if key in self._jobs:
                return False
            self._jobs[key] = IngestJob(key, name)
        try:
            precheck(name, data)
        except DocumentError as exc:
            self._update(key, state="finished", error=exc)
            return True
        self._executor.submit(self._run, key, name, data, password)
        return True

    def get(self, key: str) -> IngestJob | None:
        """Return the job ``key``'s snapshot, or None."""
        with self._lock:
            return self._jobs.get(key)

    def jobs(self) -> list[IngestJob]:
        """Return snapshots of every job, in submission order."""
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[IngestJob]:
        """Return the jobs that are queued or running."""
        return [job for job in self.jobs() if not job.finished]

    def _update(self, key: str, **changes: object) -> None:
        with self._lock:
            self._jobs[key] = replace(self._jobs[key], **changes)  # type: ignore[arg-type]

    def _run(self, key: str, name: str, data: bytes, password: str | None) -> None:
        self._update(key, state="running")
        try:
            result = self.kb.ingest_bytes(
                name,
                data,
                password=password,
                progress=lambda event: self._update(key, progress=event),
                lock_timeout_s=self.lock_wait_s,
            )
        except RagError as exc:
            self._update(key, state="finished", error=exc)
        except Exception as exc:  # a worker thread must never die silently
            logger.exception("ingest of %s failed", name)
            self._update(key, state="finished", error=RagError(f"unexpected error: {exc}"))
        else:
            self._update(key, state="finished", result=result)
