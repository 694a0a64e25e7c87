"""What each queued file's ingest is doing: one durable record per job, for display and cancel.

The records are a SQLite table (``jobs.sqlite3`` in the queue directory, WAL journal, so
the app, the CLI and other processes read and write it at once). They hold what a person
is shown (status, latest progress, result or error) and the cancel request; *what is left
to do* is not here but in the durable queue (:mod:`rag_core.ingest_queue`). Status moves
are conditional updates (``... WHERE status = 'queued'``), so a cancel and a worker taking
the same job cannot both win.

Statuses: ``queued``, ``reading`` (the parse worker reads pages), ``ocr``, ``embedding``
(chunks are embedded and stored), then ``done``, ``failed`` (with the reason) or
``cancelled``; see :func:`status_of_stage` for how the pipeline's progress stages
(:mod:`rag_core.ingestion.progress`) map onto them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_core.errors import (
    DocumentError,
    IngestCancelled,
    NoTextError,
    PasswordRequiredError,
    RagError,
    StoreBusyError,
    WrongPasswordError,
)
from rag_core.ingestion.progress import IngestProgress, IngestResult

logger = logging.getLogger(__name__)

QUEUED = "queued"
READING = "reading"
OCR = "ocr"
EMBEDDING = "embedding"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
ACTIVE_STATUSES = (QUEUED, READING, OCR, EMBEDDING)
"""Statuses of a job that is not finished."""
RUNNING_STATUSES = (READING, OCR, EMBEDDING)
FINISHED_STATUSES = (DONE, FAILED, CANCELLED)
STAGE_STATUS = {
    "parse": READING,
    "ocr": OCR,
    "model": EMBEDDING,
    "split": EMBEDDING,
    "embed": EMBEDDING,
    "store": EMBEDDING,
}
"""Pipeline progress stage -> job status ("done" is a status only with the result)."""
KEEP_FINISHED = 500
"""Finished job records kept (the newest); older ones are dropped."""
_ERROR_TYPES: dict[str, type[RagError]] = {
    cls.__name__: cls
    for cls in (
        RagError,
        DocumentError,
        PasswordRequiredError,
        WrongPasswordError,
        NoTextError,
        StoreBusyError,
        IngestCancelled,
    )
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,
    stage_elapsed REAL NOT NULL DEFAULT 0,
    password INTEGER NOT NULL DEFAULT 0,
    cancel INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    submitted_at REAL NOT NULL,
    finished_at REAL,
    owner TEXT NOT NULL DEFAULT '',
    UNIQUE (collection, key)
)
"""


def status_of_stage(stage: str) -> str:
    """The job status shown while the pipeline reports ``stage`` (see :data:`STAGE_STATUS`)."""
    return STAGE_STATUS.get(stage, EMBEDDING)


@dataclass(frozen=True)
class JobRecord:
    """One job as recorded.

    Attributes:
        id: the job's id (32 hex digits).
        key: the submitter's key (unique per collection; e.g. an upload id).
        collection: the collection the file goes into.
        name: the file's display name.
        status: one of the module's statuses.
        progress: the latest progress event (None before the first).
        password: the file was submitted with a password (never the password itself).
        owner: the process that submitted it, ``"<pid>:<start time>"`` ("" if unknown).
        cancel: a cancel was requested while the job ran.
        reason: why it failed (English), "" otherwise.
        result: the pipeline's result, once it returned.
        error: the error it raised (a missing password, a busy store ...), if any.
        submitted_at: Unix time it was recorded.
        finished_at: Unix time it finished (None while active).
    """

    id: str
    key: str
    collection: str
    name: str
    status: str
    progress: IngestProgress | None = None
    password: bool = False
    owner: str = ""
    cancel: bool = False
    reason: str = ""
    result: IngestResult | None = None
    error: RagError | None = None
    submitted_at: float = 0.0
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        """True while queued or running."""
        return self.status in ACTIVE_STATUSES


class JobRecords:
    """The job records of one data directory (thread-safe; shared by processes).

    Args:
        path: the SQLite file (created with its directory).
        timeout_s: seconds to wait for another process's write to the file.

    Raises:
        RagError: the file cannot be opened or is not a job database.
    """

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        """Open (and create) the records."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RagError(f"cannot open the ingest job records {path}: {exc}") from exc

    @contextmanager
    def _sql(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                raise RagError(f"the ingest job records at {self.path} failed: {exc}") from exc

    def add(
        self,
        job_id: str,
        key: str,
        collection: str,
        name: str,
        *,
        password: bool,
        owner: str = "",
    ) -> bool:
        """Record a new queued job; False when ``key`` already has one in ``collection``.

        Args:
            job_id: the new job's id.
            key: the submitter's key.
            collection: the collection.
            name: the file's display name.
            password: the file came with a password (kept by the submitting process).
            owner: the submitting process (``"<pid>:<start time>"``), who has the password.
        """
        with self._sql() as db:
            try:
                db.execute(
                    "INSERT INTO jobs (id, key, collection, name, status, password, owner,"
                    " submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (job_id, key, collection, name, QUEUED, int(password), owner, time.time()),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def remove(self, job_id: str) -> None:
        """Forget a job (a submit that could not be queued)."""
        with self._sql() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def get(self, job_id: str) -> JobRecord | None:
        """The record of ``job_id``, or None."""
        return self._one("id = ?", (job_id,))

    def by_key(self, collection: str, key: str) -> JobRecord | None:
        """The record of the submitter's ``key`` in ``collection``, or None."""
        return self._one("collection = ? AND key = ?", (collection, key))

    def list(self, collection: str | None = None, *, active_only: bool = False) -> list[JobRecord]:
        """Jobs in the order they were submitted (of one collection, or all)."""
        where, args = [], []
        if collection is not None:
            where.append("collection = ?")
            args.append(collection)
        if active_only:
            where.append(f"status IN ({','.join('?' * len(ACTIVE_STATUSES))})")
            args.extend(ACTIVE_STATUSES)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._sql() as db:
            rows = db.execute(sql + " ORDER BY seq", args).fetchall()
        return [_record(row) for row in rows]

    def start(self, job_id: str) -> bool:
        """Move a queued job to ``reading``; False when it is no longer queued (cancelled)."""
        return self._update("status = ?", (READING,), job_id, only=(QUEUED,))

    def requeue(self, job_id: str) -> None:
        """Put a running job of a process that died back to ``queued`` (its progress kept)."""
        self._update("status = ?", (QUEUED,), job_id, only=RUNNING_STATUSES)

    def progress(self, job_id: str, event: IngestProgress) -> None:
        """Record the latest progress event (and the status it means) of a running job."""
        self._update(
            "status = ?, stage = ?, done = ?, total = ?, elapsed = ?, stage_elapsed = ?",
            (
                status_of_stage(event.stage),
                event.stage,
                event.done,
                event.total,
                event.elapsed_s,
                event.stage_elapsed_s,
            ),
            job_id,
            only=RUNNING_STATUSES,
        )

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        result: IngestResult | None = None,
        error: RagError | None = None,
    ) -> None:
        """Record the outcome of a job (done, failed or cancelled)."""
        reason = str(error) if error is not None else ""
        if result is not None and result.status == "failed":
            reason = result.error
        self._update(
            "status = ?, reason = ?, result = ?, error = ?, finished_at = ?",
            (status, reason, _result_json(result), _error_json(error), time.time()),
            job_id,
            only=ACTIVE_STATUSES,
        )
        self._prune()

    def request_cancel(self, job_id: str) -> str:
        """Cancel a queued job at once, or ask the worker of a running one to stop.

        Returns:
            ``"cancelled"`` (it was queued: nothing of it ran), ``"cancelling"`` (it is
            running: its worker stops at its next page or batch), or the status of a job
            that was already finished; ``""`` for an unknown job.
        """
        if self._update(
            "status = ?, reason = ?, finished_at = ?",
            (CANCELLED, "cancelled", time.time()),
            job_id,
            only=(QUEUED,),
        ):
            return CANCELLED
        if self._update("cancel = ?", (1,), job_id, only=RUNNING_STATUSES):
            return "cancelling"
        record = self.get(job_id)
        return record.status if record else ""

    def cancel_requested(self, job_id: str) -> bool:
        """True once a cancel of the running ``job_id`` was asked for (by any process)."""
        with self._sql() as db:
            row = db.execute("SELECT cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def _update(
        self, sets: str, values: tuple[Any, ...], job_id: str, *, only: tuple[str, ...]
    ) -> bool:
        marks = ",".join("?" * len(only))
        with self._sql() as db:
            cursor = db.execute(
                f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks})",
                (*values, job_id, *only),
            )
        return cursor.rowcount > 0

    def _one(self, where: str, args: tuple[Any, ...]) -> JobRecord | None:
        with self._sql() as db:
            row = db.execute(f"SELECT * FROM jobs WHERE {where}", args).fetchone()
        return _record(row) if row else None

    def _prune(self) -> None:
        marks = ",".join("?" * len(FINISHED_STATUSES))
        with self._sql() as db:
            db.execute(
                f"DELETE FROM jobs WHERE status IN ({marks}) AND seq NOT IN ("
                f"SELECT seq FROM jobs WHERE status IN ({marks}) ORDER BY seq DESC LIMIT ?)",
                (*FINISHED_STATUSES, *FINISHED_STATUSES, KEEP_FINISHED),
            )

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()


_COLUMNS = ("seq", "id", "key", "collection", "name", "status", "stage", "done", "total",
            "elapsed", "stage_elapsed", "password", "cancel", "reason", "error", "result",
            "submitted_at", "finished_at", "owner")  # fmt: skip


def _record(row: tuple[Any, ...]) -> JobRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    progress = None
    if values["stage"]:
        progress = IngestProgress(
            values["name"],
            values["stage"],
            values["done"],
            values["total"],
            values["elapsed"],
            values["stage_elapsed"],
        )
    return JobRecord(
        id=values["id"],
        key=values["key"],
        collection=values["collection"],
        name=values["name"],
        status=values["status"],
        progress=progress,
        password=bool(values["password"]),
        owner=values["owner"],
        cancel=bool(values["cancel"]),
        reason=values["reason"],
        result=_result_from(values["result"]),
        error=_error_from(values["error"]),
        submitted_at=values["submitted_at"],
        finished_at=values["finished_at"],
    )


def _result_json(result: IngestResult | None) -> str:
    return "" if result is None else json.dumps(dataclasses.asdict(result), ensure_ascii=False)


def _result_from(text: str) -> IngestResult | None:
    """The result back from its JSON (page numbers were turned into strings as keys)."""
    if not text:
        return None
    fields = json.loads(text)
    for name in ("page_kinds", "ocr_skipped", "ocr_details"):
        fields[name] = {int(page): value for page, value in fields.get(name, {}).items()}
    return IngestResult(**fields)


def _error_json(error: RagError | None) -> str:
    if error is None:
        return ""
    out: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, DocumentError):
        out.update(filename=error.filename, reason=error.reason, code=error.code)
        out["params"] = error.params
    return json.dumps(out, ensure_ascii=False, default=str)


def _error_from(text: str) -> RagError | None:
    """The error back from its JSON, as its own type where it is one of ours."""
    if not text:
        return None
    fields = json.loads(text)
    cls = _ERROR_TYPES.get(fields.get("type", ""), RagError)
    if issubclass(cls, DocumentError):
        return cls(fields["filename"], fields["reason"], fields["code"], fields.get("params"))
    return cls(fields["message"])


__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLED",
    "DONE",
    "EMBEDDING",
    "FAILED",
    "FINISHED_STATUSES",
    "OCR",
    "QUEUED",
    "READING",
    "JobRecord",
    "JobRecords",
    "status_of_stage",
]
