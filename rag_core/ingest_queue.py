"""The durable ingest queue: files are recorded before work starts and survive a crash.

A web UI reruns its page script on every click, and a person may close the app, or kill a
CLI run, halfway through a folder of files. So every file to ingest goes through one queue
per data directory (``<data_dir>/queue``), used by the app, the HTTP API and the CLI:

* **What is left to do** is a persist-queue ``SQLiteAckQueue`` (``queue/data.db``): one
  item per job, holding the job's id. Taking an item marks it "unacked"; it is acked once
  the job's outcome is recorded. Items still unacked when a worker died are made ready
  again (``resume_unack_tasks``) by the next worker, so a killed ingest is taken up again;
  this is the one source of truth for what is left.
* **What each job is doing** is a record in ``queue/jobs.sqlite3``
  (:class:`~rag_core.ingestion.jobs.JobRecords`): status (queued, reading, OCR, embedding,
  done, failed with the reason, cancelled), latest progress, result, and the cancel
  request. Any process reads it (``python -m rag_core jobs``) and asks for a cancel there.
* **The file's bytes** are spooled to ``queue/spool/<job id>`` (written to a temporary file
  and renamed) before the item is queued, and removed when the job is acked. A password is
  never written: it stays in the memory of the process that was given it (the record names
  that process, ``"<pid>:<start time>"``). Another process's worker leaves such a job to
  it while it runs (takes the item, then gives it back when its drain ends); once that
  process is gone, the job fails with "enter the password again".

Order of a submit: record (queued), spool, queue item. A crash between the first and the
last leaves a record without an item; the next worker reconciles them (the spool queued
again, or the record failed when there is no spool).

**One worker per data directory at a time** takes items, held by a file lock
(``queue/worker.lock``, ``filelock``): the worker that gets it is the only consumer, so
every unacked item it finds belongs to a dead one. A process with work starts a worker
thread; it waits for the lock while another process (the app, or a CLI run) drains the
queue, which then runs this process's jobs too. The lock is released when the queue is
empty.

**Parallel parsing.** The worker runs one file's pipeline at a time (embedding stays
batched, and there is one writer to the store: :func:`rag_core.index.locking.write_lock`,
a ``filelock`` that also excludes the threads of one process), but opens the next files'
page streams ahead (:meth:`~rag_core.ingestion.pipeline.IngestPipeline.open_stream`):
their parse workers read while the current file embeds. How many files parse ahead is
:func:`parallel_parses`.

**Cancel** (:meth:`JobQueue.cancel`): a queued job is marked cancelled at once and its spool
removed; a running one gets a cancel flag, which the worker reads in the progress callback
(between pages and batches; at most every :data:`CANCEL_CHECK_S`) and stops the pipeline
with :class:`~rag_core.errors.IngestCancelled`, which removes what was stored of the new
content and keeps an older complete version.

No document is indexed twice or half: the pipeline is idempotent by content hash (a
document is listed only once complete; a resumed ingest embeds only missing chunks).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import persistqueue
import persistqueue.serializers.json
import psutil
from persistqueue.exceptions import Empty
from persistqueue.sqlackqueue import AckStatus

from rag_core.config import Settings
from rag_core.errors import DocumentError, IngestCancelled, PasswordRequiredError, RagError
from rag_core.index.registry import STATUS_COMPLETE
from rag_core.ingestion.jobs import (
    CANCELLED,
    DONE,
    FAILED,
    FINISHED_STATUSES,
    QUEUED,
    RUNNING_STATUSES,
    JobRecord,
    JobRecords,
)
from rag_core.ingestion.loaders import PageStream, display_name, precheck, sha256_hex
from rag_core.ingestion.progress import IngestProgress, IngestResult
from rag_core.knowledge_base import KnowledgeBase

logger = logging.getLogger(__name__)

WRITE_LOCK_WAIT_S = 600.0
"""Seconds a queued ingest waits for another process's write lock before failing."""
POLL_S = 0.5
"""Seconds between tries for the worker lock while another process drains the queue."""
CANCEL_CHECK_S = 0.3
"""Seconds between reads of a running job's cancel flag (made from the progress callback)."""
PROGRESS_WRITE_S = 0.5
"""Seconds between progress writes to a job's record (a stage change is written at once)."""
PARSE_MEMORY_BYTES = 768 * 1024**2
"""Memory set aside for one parse running ahead: a parse worker on a long PDF peaks at a
few hundred MB (its address space is capped at 2 GiB, :mod:`rag_core.ingestion.worker`)."""
MAX_PARALLEL_PARSES = 4
"""Most files parsed ahead, whatever the cores and memory."""
ACKED = int(AckStatus.acked)
"""persist-queue's status of an acked item (statuses below it are still to do)."""
RECONCILE_AFTER_S = 60.0
"""Age in seconds of a job record without a queue item before a worker repairs it (a
younger one may be a submit in progress in another process)."""
STOP_WAIT_S = 20.0
"""Seconds a process that exits waits for its worker to leave its job queued."""
PASSWORD_AGAIN = "its password is not kept across a restart: enter the password again"


def parallel_parses(setting: int = 0) -> int:
    """How many files the queue parses ahead while another one embeds.

    One less than the cores (one is busy embedding), at most one per
    :data:`PARSE_MEMORY_BYTES` of available memory (``psutil.virtual_memory().available``)
    and at most :data:`MAX_PARALLEL_PARSES`; never less than 1.

    Args:
        setting: ``Settings.ingest_parallel_parses``; a positive value wins.

    Returns:
        The number of files parsed ahead.
    """
    if setting > 0:
        return setting
    cores = os.cpu_count() or 1
    by_memory = int(psutil.virtual_memory().available // PARSE_MEMORY_BYTES)
    return max(1, min(cores - 1, by_memory, MAX_PARALLEL_PARSES))


def process_token(pid: int) -> str:
    """``"<pid>:<start time>"`` of a running process ("" if there is none with ``pid``).

    The start time (``psutil.Process.create_time``) tells a process from a later one that
    got the same pid.
    """
    try:
        return f"{pid}:{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return ""


@dataclass(frozen=True)
class IngestJob:
    """A snapshot of one queued file.

    Attributes:
        key: the submitter's key for the job (unique per collection).
        name: the file's display name.
        state: "queued", "running" or "finished".
        progress: the latest progress event, None before the first one.
        result: the outcome of a finished ingest that returned.
        error: the error of a finished ingest that raised (a missing or wrong password,
            a store held by another writer for too long, a cancel, an unexpected failure).
        id: the job's id (``python -m rag_core jobs cancel ID``).
        collection: the collection it ingests into.
        status: "queued", "reading", "ocr", "embedding", "done", "failed", "cancelled".
        reason: why it failed (English; "" otherwise).
        finished_at: Unix time it finished (None while queued or running).
    """

    key: str
    name: str
    state: str = "queued"
    progress: IngestProgress | None = None
    result: IngestResult | None = None
    error: RagError | None = None
    id: str = ""
    collection: str = ""
    status: str = QUEUED
    reason: str = ""
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        """True once the ingest returned, raised or was cancelled."""
        return self.state == "finished"

    def to_dict(self) -> dict[str, Any]:
        """The job as ``python -m rag_core jobs --json`` prints it.

        Returns:
            ``id, key, collection, name, status, reason, stage, done, total`` (the
            latest progress event: "parse" pages, "ocr" pages, or chunks), and ``result``
            (``status`` "indexed" / "unchanged" / "failed", ``document_id``, ``pages``,
            ``chunks``, ``embedded``; None until the pipeline returned).
        """
        event, result = self.progress, self.result
        return {
            "id": self.id,
            "key": self.key,
            "collection": self.collection,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "stage": event.stage if event else "",
            "done": event.done if event else 0,
            "total": event.total if event else 0,
            "result": None
            if result is None
            else {
                "status": result.status,
                "document_id": result.sha256,
                "pages": result.pages,
                "chunks": result.chunks,
                "embedded": result.embedded,
            },
        }

    @classmethod
    def from_record(cls, record: JobRecord, progress: IngestProgress | None = None) -> IngestJob:
        """The snapshot of a job record (``progress``: a fresher event, if known)."""
        if record.status in FINISHED_STATUSES:
            state = "finished"
        elif record.status in RUNNING_STATUSES:
            state = "running"
        else:
            state = "queued"
        error = record.error
        if record.status == CANCELLED and error is None:
            error = IngestCancelled(f"{record.name}: cancelled")
        return cls(
            key=record.key,
            name=record.name,
            state=state,
            progress=progress if progress is not None and state == "running" else record.progress,
            result=record.result,
            error=error,
            id=record.id,
            collection=record.collection,
            status=record.status,
            reason=record.reason,
            finished_at=record.finished_at,
        )


class _Stopping(IngestCancelled):
    """The process is exiting: the pipeline cleans up as for a cancel, the job stays queued."""


_QUEUES: weakref.WeakSet[JobQueue] = weakref.WeakSet()
"""Every open queue of this process, stopped before the interpreter exits."""


def _stop_all() -> None:
    """Stop every queue's worker before ``concurrent.futures`` refuses new work at exit.

    Registered with ``threading._register_atexit`` (the hook ``concurrent.futures`` uses
    itself): it runs before the interpreter joins threads and shuts executors down, so
    the worker leaves its job queued for the next start instead of failing it.
    """
    for queue in list(_QUEUES):
        queue.stop()


threading._register_atexit(_stop_all)  # type: ignore[attr-defined]


@dataclass
class _Prepared:
    """A job taken from the queue, its stream opening (or open) on the parse pool."""

    record: JobRecord
    pqid: int
    data: bytes
    kb: KnowledgeBase
    stream: Future[PageStream]

    def close(self) -> None:
        """Stop the parse worker of a job that will not run (waits for its opening)."""
        with contextlib.suppress(RagError):
            self.stream.result().close()


@dataclass
class _Running:
    """The progress callback's state for the job in the pipeline."""

    job_id: str
    last_write: float = 0.0
    last_stage: str = ""
    last_check: float = 0.0
    cancel: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    """The durable ingest queue of one data directory (see the module docstring).

    Thread-safe. Submits record and spool the file, then a worker thread drains the queue
    as soon as it gets the worker lock.

    Args:
        settings: the settings (``queue_dir``, ``ingest_parallel_parses``).
        open_kb: the knowledge base of a collection name (opened once by the caller).
        lock_wait_s: seconds an ingest waits for another process's write lock.

    Raises:
        RagError: the queue's files cannot be opened.
    """

    def __init__(
        self,
        settings: Settings,
        open_kb: Callable[[str], KnowledgeBase],
        *,
        lock_wait_s: float = WRITE_LOCK_WAIT_S,
    ) -> None:
        """Open (and create) the queue, the job records and the spool directory."""
        self.directory = settings.queue_dir
        self.spool_dir = self.directory / "spool"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.records = JobRecords(self.directory / "jobs.sqlite3")
        try:
            self._pending = persistqueue.SQLiteAckQueue(
                str(self.directory),
                name="ingest",
                multithreading=True,
                auto_resume=False,  # only the worker holding the lock may resume items
                serializer=persistqueue.serializers.json,
            )
        except Exception as exc:  # sqlite3 errors of a damaged or unwritable file
            raise RagError(f"cannot open the ingest queue in {self.directory}: {exc}") from exc
        self.parses = parallel_parses(settings.ingest_parallel_parses)
        self.open_kb = open_kb
        self.lock_wait_s = lock_wait_s
        self._lease = filelock.FileLock(str(self.directory / "worker.lock"), thread_local=False)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._passwords: dict[str, str] = {}
        self._progress: dict[str, IngestProgress] = {}
        self._running: _Running | None = None
        self._window: deque[_Prepared] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._skipped: list[int] = []
        self.owner = process_token(os.getpid())
        """This process, as job records name the submitter of a job."""
        _QUEUES.add(self)

    # ------------------------------------------------------------------ submit
    def submit(
        self, collection: str, key: str, name: str, data: bytes, password: str | None = None
    ) -> IngestJob:
        """Record a file for ingest into ``collection`` and start the worker.

        A file that cannot be read at all (empty, unsupported, not the type its name says:
        :func:`~rag_core.ingestion.loaders.precheck`) is finished at once with its error,
        instead of waiting behind the files queued before it.

        Args:
            collection: the collection (the caller checked the permission).
            key: the submitter's key; a key already used in ``collection`` returns that job.
            name: the file's name (display only; never a path).
            data: the file's bytes.
            password: for an encrypted PDF (kept in memory only).

        Returns:
            The job's snapshot.

        Raises:
            RagError: the job could not be recorded (disk full, unwritable data directory).
        """
        shown = display_name(name)
        job_id = uuid.uuid4().hex
        if not self.records.add(
            job_id, key, collection, shown, password=password is not None, owner=self.owner
        ):
            existing = self.records.by_key(collection, key)
            assert existing is not None  # the key is taken
            return IngestJob.from_record(existing)
        try:
            precheck(shown, data)
        except DocumentError as exc:
            self.records.finish(job_id, FAILED, error=exc)
            return self.get(job_id)  # type: ignore[return-value]
        try:
            if self._indexed(collection, data):  # nothing to do: answered now, not queued
                result = self.open_kb(collection).ingest_bytes(shown, data)
                self.records.finish(job_id, DONE, result=result)
                return self.get(job_id)  # type: ignore[return-value]
        except RagError as exc:  # the store failed
            self.records.finish(job_id, FAILED, error=exc)
            return self.get(job_id)  # type: ignore[return-value]
        if password is not None:
            self._passwords[job_id] = password
        try:
            self._spool(job_id, data)
            self._pending.put(job_id)
        except OSError as exc:
            self.records.remove(job_id)
            self._spool_path(job_id).unlink(missing_ok=True)
            raise RagError(f"cannot queue {shown}: {exc.strerror or exc}") from exc
        self.start()
        return self.get(job_id)  # type: ignore[return-value]

    def _indexed(self, collection: str, data: bytes) -> bool:
        """True when ``data`` is indexed completely in ``collection`` (one registry read)."""
        record = self.open_kb(collection).registry.get(sha256_hex(data))
        return record is not None and record.status == STATUS_COMPLETE

    def _spool_path(self, job_id: str) -> Path:
        return self.spool_dir / job_id

    def _spool(self, job_id: str, data: bytes) -> None:
        """Write the file's bytes durably (temporary file, fsync, rename)."""
        path = self._spool_path(job_id)
        tmp = path.with_name(f".{job_id}.tmp")
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    # ------------------------------------------------------------------- reading
    def get(self, job_id: str) -> IngestJob | None:
        """The snapshot of ``job_id``, or None."""
        record = self.records.get(job_id)
        return None if record is None else IngestJob.from_record(record, self._progress.get(job_id))

    def by_key(self, collection: str, key: str) -> IngestJob | None:
        """The snapshot of the submitter's ``key`` in ``collection``, or None."""
        record = self.records.by_key(collection, key)
        return (
            None if record is None else IngestJob.from_record(record, self._progress.get(record.id))
        )

    def jobs(self, collection: str | None = None, *, active_only: bool = False) -> list[IngestJob]:
        """Snapshots of the recorded jobs (of one collection, or all), in submission order."""
        return [
            IngestJob.from_record(record, self._progress.get(record.id))
            for record in self.records.list(collection, active_only=active_only)
        ]

    def unfinished(self) -> int:
        """Items left to do: queued, or taken by a worker that has not acked them."""
        return len(self._left())

    def _left(self) -> set[str]:
        """Ids of the jobs whose items are not acked (new, ready or unacked, any process).

        ``SQLiteAckQueue.queue()`` reads the table (``qsize`` counts only this process's
        puts); acked items are cleared as they are acked.
        """
        return {str(row["data"]) for row in self._pending.queue() if int(row["status"]) < ACKED}

    # ------------------------------------------------------------------- cancel
    def cancel(self, job_id: str) -> str:
        """Cancel a job, from any process (see the module docstring).

        Returns:
            ``"cancelled"`` (it was queued and nothing of it ran), ``"cancelling"`` (its
            worker stops it at the next page or batch, then records it cancelled), the
            status of an already finished job, or ``""`` for an unknown one.
        """
        outcome = self.records.request_cancel(job_id)
        if outcome == CANCELLED:
            self._spool_path(job_id).unlink(missing_ok=True)
            self._passwords.pop(job_id, None)
            logger.info("cancelled queued job %s", job_id)
        running = self._running
        if outcome == "cancelling" and running is not None and running.job_id == job_id:
            running.cancel.set()
        return outcome

    def cancel_collection(self, collection: str) -> None:
        """Cancel every unfinished job of ``collection`` (before the collection is deleted)."""
        for job in self.jobs(collection, active_only=True):
            self.cancel(job.id)

    # ------------------------------------------------------------------- worker
    def start(self) -> bool:
        """Start the worker thread if there is work and none runs; True if one runs now."""
        with self._lock:
            if self._thread is not None:
                return True
            if not self.unfinished():
                return False
            self._thread = threading.Thread(target=self._work, name="ingest-queue", daemon=True)
            self._thread.start()
            return True

    def wait(self, job_ids: Iterable[str] = (), timeout_s: float | None = None) -> bool:
        """Wait until the jobs (every unfinished one if none given) are finished.

        Returns:
            True if they finished, False on timeout.
        """
        ids = list(job_ids)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if ids:
                left = [i for i in ids if (job := self.get(i)) is not None and not job.finished]
            else:
                left = [job.id for job in self.jobs(active_only=True)]
            if not left and (ids or not self.unfinished()):
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            self.start()
            time.sleep(0.1)

    def stop(self, timeout_s: float = STOP_WAIT_S) -> None:
        """Stop the worker at its next page or batch; its jobs stay queued for a next start.

        Args:
            timeout_s: seconds to wait for the worker thread to end.
        """
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _work(self) -> None:
        """Worker thread: drain the queue whenever the worker lock is ours; stop when empty."""
        try:
            while True:
                with self._lock:
                    if not self.unfinished():
                        self._thread = None
                        return
                if self._stopping.is_set():
                    with self._lock:
                        self._thread = None
                    return
                try:
                    self._lease.acquire(timeout=0)
                except filelock.Timeout:
                    self._stopping.wait(POLL_S)  # another process drains it (our jobs too)
                    continue
                try:
                    self._pending.resume_unack_tasks()  # a dead worker's items
                    self._reconcile()
                    self._drain()
                finally:
                    skipped = self._give_back_skipped()
                    self._lease.release()
                if skipped:  # jobs another live process has the password of: let it run them
                    self._stopping.wait(POLL_S * 3)
        except Exception:  # a worker thread must never die silently
            logger.exception("the ingest queue's worker stopped")
            with self._lock:
                self._thread = None

    def _reconcile(self) -> None:
        """Records of unfinished jobs without a queue item: queue the spool, or fail them."""
        queued = self._left()
        settled = time.time() - RECONCILE_AFTER_S  # younger ones may be being submitted
        for partial in self.spool_dir.glob(".*.tmp"):  # a spool write cut off by a crash
            if partial.stat().st_mtime < settled:
                partial.unlink(missing_ok=True)
        for record in self.records.list(active_only=True):
            if record.id in queued or record.submitted_at > settled:
                continue
            if record.status in RUNNING_STATUSES:
                self.records.requeue(record.id)
            if self._spool_path(record.id).is_file():
                self._pending.put(record.id)
            else:
                self.records.start(record.id)
                error = RagError(f"{record.name}: interrupted before it was queued; add it again")
                self.records.finish(record.id, FAILED, error=error)

    def _drain(self) -> None:
        """Run every queued job: one in the pipeline, the next ones' parses started ahead."""
        with ThreadPoolExecutor(self.parses, thread_name_prefix="ingest-parse") as pool:
            self._pool = pool
            try:
                while not self._stopping.is_set():
                    self._fill()
                    if not self._window:
                        return
                    self._run(self._window.popleft())
            finally:
                self._pool = None
                while self._window:  # stopping: the files parsed ahead stay queued
                    job = self._window.popleft()
                    job.close()
                    self.records.requeue(job.record.id)

    def _fill(self) -> None:
        """Take jobs until ``parses`` files are parsing ahead of the one in the pipeline."""
        running = 1 if self._running is not None else 0
        while (
            self._pool is not None
            and not self._stopping.is_set()
            and len(self._window) + running < 1 + self.parses
        ):
            prepared = self._take(self._pool)
            if prepared is None:
                return
            self._window.append(prepared)

    def _take(self, pool: ThreadPoolExecutor) -> _Prepared | None:
        """The next runnable job from the queue, its parse started; None when empty."""
        while True:
            try:
                item = self._pending.get(block=False, raw=True)
            except Empty:
                return None
            job_id, pqid = str(item["data"]), int(item["pqid"])
            record = self.records.get(job_id)
            if any(job.record.id == job_id for job in self._window):
                self._pending.ack(id=pqid)  # queued twice (a reconcile racing a submit)
                continue
            if record is None or record.status in FINISHED_STATUSES:
                self._ack(job_id, pqid)  # cancelled while queued, or finished before a crash
                continue
            if record.password and job_id not in self._passwords and self._alive(record.owner):
                self._skipped.append(pqid)  # its submitter has the password: it runs it
                continue
            if record.status == QUEUED and not self.records.start(job_id):
                self._ack(job_id, pqid)  # cancelled just now
                continue
            error = self._unrunnable(record)
            if error is not None:
                self._finish(job_id, pqid, FAILED, error=error)
                continue
            data = self._spool_path(job_id).read_bytes()
            try:
                kb = self.open_kb(record.collection)
            except RagError as exc:
                self._finish(job_id, pqid, FAILED, error=exc)
                continue
            except Exception as exc:  # the store's own error: this file fails, the worker lives
                logger.exception(
                    "opening collection %s for %s failed", record.collection, record.name
                )
                error = RagError(f"{record.name}: the collection could not be opened ({exc})")
                self._finish(job_id, pqid, FAILED, error=error)
                continue
            password = self._passwords.get(job_id)
            stream = pool.submit(kb.pipeline.open_stream, record.name, data, password)
            return _Prepared(record, pqid, data, kb, stream)

    def _alive(self, owner: str) -> bool:
        """True when ``owner`` is another process that is still running."""
        if not owner or owner == self.owner:
            return False
        pid = int(owner.split(":", 1)[0])
        return process_token(pid) == owner

    def _give_back_skipped(self) -> int:
        """Make the jobs skipped by this drain ready again; return how many there were."""
        skipped, self._skipped = self._skipped, []
        for pqid in skipped:
            self._pending.nack(id=pqid)
        return len(skipped)

    def _unrunnable(self, record: JobRecord) -> RagError | None:
        """Why a taken job cannot run: its spool is gone, or its password was not kept."""
        if not self._spool_path(record.id).is_file():
            return RagError(f"{record.name}: its queued copy is missing; add it again")
        if record.password and record.id not in self._passwords:
            return PasswordRequiredError(record.name, PASSWORD_AGAIN, "password_required")
        return None

    def _run(self, job: _Prepared) -> None:
        """Run one job through the pipeline and record its outcome."""
        record = job.record
        running = _Running(record.id)
        self._running = running
        try:
            if self.records.cancel_requested(record.id):
                raise IngestCancelled(f"{record.name}: cancelled")
            result = job.kb.ingest_bytes(
                record.name,
                job.data,
                password=self._passwords.get(record.id),
                progress=lambda event: self._on_progress(running, event),
                lock_timeout_s=self.lock_wait_s,
                stream=job.stream.result,
            )
        except _Stopping:
            job.close()
            self.records.requeue(record.id)  # its item stays unacked: the next start resumes it
        except IngestCancelled as exc:
            job.close()
            self._finish(record.id, job.pqid, CANCELLED, error=exc)
        except RagError as exc:
            self._finish(record.id, job.pqid, FAILED, error=exc)
        except Exception as exc:  # a worker thread must never die silently
            if self._stopping.is_set():  # e.g. executors refusing work at exit
                self.records.requeue(record.id)
                return
            logger.exception("ingest of %s failed", record.name)
            self._finish(record.id, job.pqid, FAILED, error=RagError(f"unexpected error: {exc}"))
        else:
            status = FAILED if result.status == "failed" else DONE
            self._finish(record.id, job.pqid, status, result=result)
        finally:
            self._running = None

    def _on_progress(self, running: _Running, event: IngestProgress) -> None:
        """Progress callback: keep the event, write it now and then, stop on a cancel.

        Raises:
            IngestCancelled: a cancel of this job was asked for (by any process).
        """
        if event.stage == "done":
            return  # the pipeline is past the point of no return
        self._progress[running.job_id] = event
        now = time.monotonic()
        if event.stage != running.last_stage or now - running.last_write >= PROGRESS_WRITE_S:
            self.records.progress(running.job_id, event)
            running.last_stage, running.last_write = event.stage, now
        if now - running.last_check >= CANCEL_CHECK_S:
            running.last_check = now
            if self.records.cancel_requested(running.job_id):
                running.cancel.set()
            self._drop_cancelled_ahead()
            self._fill()  # files submitted since this one started begin to parse
        if self._stopping.is_set():
            raise _Stopping(f"{event.filename}: stopped with the process")
        if running.cancel.is_set():
            raise IngestCancelled(f"{event.filename}: cancelled")

    def _drop_cancelled_ahead(self) -> None:
        """Stop the parses of files ahead whose cancel was asked for while they waited."""
        for job in [j for j in self._window if self.records.cancel_requested(j.record.id)]:
            self._window.remove(job)
            job.close()
            self._finish(job.record.id, job.pqid, CANCELLED)

    def _finish(
        self,
        job_id: str,
        pqid: int,
        status: str,
        *,
        result: IngestResult | None = None,
        error: RagError | None = None,
    ) -> None:
        """Record the outcome, then ack the item (a crash between the two repeats nothing)."""
        if status == CANCELLED:
            error = None
        self.records.finish(job_id, status, result=result, error=error)
        self._ack(job_id, pqid)
        logger.info("job %s %s", job_id, status)

    def _ack(self, job_id: str, pqid: int) -> None:
        self._pending.ack(id=pqid)
        self._pending.clear_acked_data(keep_latest=0, max_delete=0)
        self._spool_path(job_id).unlink(missing_ok=True)
        self._passwords.pop(job_id, None)
        self._progress.pop(job_id, None)

    def close(self) -> None:
        """Stop the worker (its jobs stay queued), then close the database connections."""
        self.stop()
        self._pending.close()
        self.records.close()


class IngestQueue:
    """One collection's view of the :class:`JobQueue` (what the pages and the API use).

    Args:
        jobs: the data directory's durable queue.
        collection: the collection.
    """

    def __init__(self, jobs: JobQueue, collection: str) -> None:
        """Bind the view to ``collection``."""
        self._jobs = jobs
        self.collection = collection

    def submit(self, key: str, name: str, data: bytes, password: str | None = None) -> bool:
        """Queue ``data`` for ingest under ``key``, unless a job with that key exists.

        Args:
            key: caller's job key (e.g. an upload id plus a password attempt).
            name: the file's name (display only).
            data: the file's bytes.
            password: for an encrypted PDF (kept in memory only).

        Returns:
            True if a new job was queued (or finished at once with its error).

        Raises:
            RagError: the job could not be recorded.
        """
        if self._jobs.by_key(self.collection, key) is not None:
            return False
        self._jobs.submit(self.collection, key, name, data, password)
        return True

    def get(self, key: str) -> IngestJob | None:
        """Return the job ``key``'s snapshot, or None."""
        return self._jobs.by_key(self.collection, key)

    def jobs(self) -> list[IngestJob]:
        """Return snapshots of every recorded job of the collection, in submission order."""
        return self._jobs.jobs(self.collection)

    def active(self) -> list[IngestJob]:
        """Return the jobs that are queued or running."""
        return self._jobs.jobs(self.collection, active_only=True)


__all__ = ["IngestJob", "IngestQueue", "JobQueue", "parallel_parses"]
