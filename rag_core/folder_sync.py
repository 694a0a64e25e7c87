"""Keep a collection in step with a folder: plan what changed, then apply it.

:func:`plan_sync` walks the folder (subfolders too) and compares each supported file with
what the last sync recorded in ``data_dir/sync.sqlite3`` (:class:`SyncState`: folder,
relative path, size, mtime, sha256 per synced file). A file whose size and mtime match
its row is unchanged without being read; any other is hashed (sha256) and compared.
:func:`apply_sync` then carries the plan out through the caller's ``ingest`` and
``delete`` (the engine's: the one pipeline), removals first, and records each file as it
is done, so a sync that is stopped half-way resumes where it stopped.

* A document's name is its relative POSIX path (:func:`~rag_core.ingestion.loaders.
  relative_name`), so ``docs/a.pdf`` and ``old/a.pdf`` are two documents.
* Only documents that came from this folder are ever removed or replaced: a document
  uploaded by hand or synced from another folder under the same name is a conflict,
  reported and left alone.
* A changed file replaces its old version only once the new one is complete (the
  pipeline lists the new version and hides the old one in one write).
* Unsupported and bad files (empty, unreadable, a symbolic link leading out of the
  folder, damaged, not what their name says) are reported, never fatal.

The split lets a queue apply a plan: :func:`apply_sync` only needs a :class:`SyncWriter`.
:func:`watch_folders` re-syncs on changes (``watchfiles``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Protocol

import filelock
import watchfiles

from rag_core.config import Settings
from rag_core.errors import DocumentError, PermissionDeniedError, RagError, StoreBusyError
from rag_core.index.files import SUPPORTED_SUFFIXES
from rag_core.index.registry import DocumentRecord, now_iso
from rag_core.ingestion.loaders import RelativeName, relative_name
from rag_core.ingestion.progress import IngestResult

logger = logging.getLogger(__name__)

SYNC_DB = "sync.sqlite3"
"""The sync state's SQLite file in the data directory."""
SYNC_LOCK = "sync.lock"
"""One sync at a time per data directory (``filelock``)."""
ACTIONS = ("add", "replace", "remove", "unchanged", "unsupported", "skipped")
"""What a plan does with a file: ingest it (new), ingest its new version, delete its
document, nothing, or report it (unsupported type; a bad file or a conflict)."""
DEBOUNCE_MS = 1600
"""Milliseconds of quiet before a watched folder is synced again (watchfiles' default)."""
WATCH_CHECK_MS = 5000
"""Milliseconds between checks of which folders the app keeps in sync."""


@dataclass
class SyncItem:
    """One file of a sync: what the plan does with it and, once applied, what happened.

    Attributes:
        name: the path below the folder, POSIX (``docs/a.pdf``): the document's name, inert
            text, never a path to open.
        action: one of :data:`ACTIONS`.
        reason: why (English), for "skipped", "unsupported" and some "add"s.
        code: a stable code of the reason ("empty", "unreadable", "symlink_outside",
            "symlink_folder", "conflict", "same_name", "unsupported", "missing").
        size: bytes (0 for a removed file).
        mtime_ns: modification time, nanoseconds since the epoch.
        sha256: the content hash ("" when the plan did not need it, e.g. for a bad file).
        status: after applying: "indexed", "unchanged", "duplicate" (the same content is
            in the collection under ``indexed_as``), "removed", "failed" ("" = not
            applied, e.g. a dry run).
        error: why it failed (English).
        chunks: chunks of the document after the sync.
        indexed_as: for "duplicate", the name the content is indexed under.
    """

    name: str
    action: str
    reason: str = ""
    code: str = ""
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    status: str = ""
    error: str = ""
    chunks: int = 0
    indexed_as: str = ""
    source: str = ""
    """The file's path below the folder as it is on disk, to read it (``name`` is
    cleaned for display and may differ); never shown."""

    def to_dict(self) -> dict[str, object]:
        """The item as a JSON-ready dict."""
        return asdict(self)


@dataclass
class SyncReport:
    """A sync's items and totals.

    Attributes:
        folder: the folder's absolute path.
        collection: the collection kept in step with it.
        dry_run: True when nothing was changed.
        items: one per file (and per removed file), by name.
        started_at: ISO-8601 UTC start time.
        seconds: wall time.
    """

    folder: str
    collection: str
    dry_run: bool
    items: list[SyncItem] = field(default_factory=list)
    started_at: str = ""
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Items per action (every action of :data:`ACTIONS`, zeros included)."""
        counts = dict.fromkeys(ACTIONS, 0)
        for item in self.items:
            counts[item.action] += 1
        return counts

    @property
    def failed(self) -> list[SyncItem]:
        """Items that went wrong: failed ingests and skipped (bad) files."""
        return [i for i in self.items if i.status == "failed" or i.action == "skipped"]

    @property
    def chunks(self) -> int:
        """Chunks of the documents that are in step with the folder after this sync."""
        return sum(i.chunks for i in self.items if i.status in ("indexed", "unchanged"))

    def to_dict(self) -> dict[str, object]:
        """The report as a JSON-ready dict (with ``counts``)."""
        out = asdict(self)
        out["counts"] = self.counts
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SyncReport:
        """Rebuild a report from :meth:`to_dict` output (unknown keys ignored)."""
        known = {f.name for f in fields(SyncItem)}
        raw_items = data.get("items") or []
        items = [
            SyncItem(**{k: v for k, v in dict(item).items() if k in known})  # type: ignore[arg-type]
            for item in raw_items  # type: ignore[union-attr]
        ]
        return cls(
            folder=str(data.get("folder", "")),
            collection=str(data.get("collection", "")),
            dry_run=bool(data.get("dry_run", False)),
            items=items,
            started_at=str(data.get("started_at", "")),
            seconds=float(data.get("seconds", 0.0)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SyncedFile:
    """What the last sync recorded about one file of a folder.

    Attributes:
        name: the path below the folder (the document's name).
        size: bytes.
        mtime_ns: modification time in nanoseconds.
        sha256: its content ("" while its ingest is under way).
        owned: True when the document named ``name`` came from this folder (False when
            the same content was already indexed under another name).
    """

    name: str
    size: int
    mtime_ns: int
    sha256: str
    owned: bool


class SyncState:
    """The sync records of a data directory (SQLite, one connection per call).

    Tables: ``synced_files`` (collection, folder, path, size, mtime_ns, sha256, owned)
    and ``sync_folders`` (the folder the app keeps each collection in step with, and the
    last sync's report as JSON).

    Args:
        path: the SQLite file (created on first use).
    """

    def __init__(self, path: Path) -> None:
        """Remember the path; the file is created by the first write."""
        self.path = path
        self._ready = False

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction, the tables created on first use.

        WAL with ``synchronous=NORMAL``: a commit is not flushed to disk at once; a row
        lost to a power cut only makes the next sync read that file again.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS synced_files (collection TEXT, folder TEXT, "
                    "path TEXT, size INTEGER, mtime_ns INTEGER, sha256 TEXT, owned INTEGER, "
                    "PRIMARY KEY (collection, folder, path))"
                )
                db.execute(
                    "CREATE TABLE IF NOT EXISTS sync_folders (collection TEXT PRIMARY KEY, "
                    "folder TEXT, report TEXT)"
                )
                self._ready = True
            with db:
                yield db
        finally:
            db.close()

    def files(self, collection: str, folder: str) -> dict[str, SyncedFile]:
        """The files recorded for ``folder`` in ``collection``, by name."""
        if not self.path.exists():
            return {}
        with self._db() as db:
            rows = db.execute(
                "SELECT path, size, mtime_ns, sha256, owned FROM synced_files "
                "WHERE collection = ? AND folder = ?",
                (collection, folder),
            ).fetchall()
        return {r[0]: SyncedFile(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows}

    def put(self, collection: str, folder: str, row: SyncedFile) -> None:
        """Record (or replace) one file's row."""
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO synced_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                (collection, folder, row.name, row.size, row.mtime_ns, row.sha256, row.owned),
            )

    def drop(self, collection: str, folder: str, name: str) -> None:
        """Forget one file's row."""
        with self._db() as db:
            db.execute(
                "DELETE FROM synced_files WHERE collection = ? AND folder = ? AND path = ?",
                (collection, folder, name),
            )

    def owned_names(self, collection: str, folder: str) -> set[str]:
        """Names of the documents ``folder`` put in ``collection``."""
        return {name for name, row in self.files(collection, folder).items() if row.owned}

    def folder(self, collection: str) -> str | None:
        """The folder the app keeps ``collection`` in step with, or None."""
        return self.folders().get(collection)

    def folders(self) -> dict[str, str]:
        """Every collection's saved folder, by collection."""
        if not self.path.exists():
            return {}
        with self._db() as db:
            rows = db.execute("SELECT collection, folder FROM sync_folders").fetchall()
        return {r[0]: r[1] for r in rows if r[1]}

    def set_folder(self, collection: str, folder: str | None) -> None:
        """Save (or with None clear) the folder of ``collection``; its last report goes."""
        with self._db() as db:
            if folder is None:
                db.execute("DELETE FROM sync_folders WHERE collection = ?", (collection,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO sync_folders VALUES (?, ?, NULL)", (collection, folder)
                )

    def save_report(self, collection: str, report: SyncReport) -> None:
        """Keep ``report`` as the last sync of ``collection``'s saved folder."""
        with self._db() as db:
            db.execute(
                "UPDATE sync_folders SET report = ? WHERE collection = ?",
                (json.dumps(report.to_dict(), ensure_ascii=False), collection),
            )

    def last_report(self, collection: str) -> SyncReport | None:
        """The last report of ``collection``'s saved folder, or None."""
        if not self.path.exists():
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT report FROM sync_folders WHERE collection = ?", (collection,)
            ).fetchone()
        if not row or not row[0]:
            return None
        return SyncReport.from_dict(json.loads(row[0]))

    def forget_collection(self, collection: str) -> None:
        """Drop every record of ``collection`` (it was deleted)."""
        with self._db() as db:
            db.execute("DELETE FROM synced_files WHERE collection = ?", (collection,))
            db.execute("DELETE FROM sync_folders WHERE collection = ?", (collection,))


def sync_state(settings: Settings) -> SyncState:
    """The sync state of ``settings``' data directory."""
    return SyncState(settings.data_dir / SYNC_DB)


# ------------------------------------------------------------------- allowed folders
def sync_roots(settings: Settings) -> list[Path]:
    """The folders under which the app may sync (``RAG_SYNC_ROOTS``), resolved."""
    parts = [p.strip() for p in settings.sync_roots.split(os.pathsep)]
    return [Path(p).expanduser().resolve() for p in parts if p]


def server_sync_enabled(settings: Settings) -> bool:
    """True when the app may keep collections in step with folders on the server.

    With sign-in on, only when ``RAG_SYNC_ROOTS`` names allowed folders; without sign-in
    (one local user, who could run the CLI anyway) always.
    """
    return bool(sync_roots(settings)) or settings.auth_config is None


def check_sync_folder(settings: Settings, directory: Path | str) -> Path:
    """The folder ``directory`` resolved, if the app may sync it.

    A folder must be under one of :func:`sync_roots` (symbolic links resolved, so a link
    cannot lead out); without roots, any folder when sign-in is off, none when it is on.

    Args:
        settings: the settings (``sync_roots``, ``auth_config``).
        directory: the folder as given.

    Returns:
        The absolute, resolved folder.

    Raises:
        PermissionDeniedError: the folder is outside the allowed roots, or folder sync is
            off (sign-in on and no roots).
        RagError: it is not a folder.
    """
    folder = Path(directory).expanduser()
    if not folder.is_absolute():
        raise PermissionDeniedError(f"{folder}: give the folder's absolute path")
    folder = folder.resolve()
    roots = sync_roots(settings)
    if not roots and settings.auth_config is not None:
        raise PermissionDeniedError(
            "folder sync on the server is off: the administrator can allow folders with "
            "RAG_SYNC_ROOTS (see docs/deployment.md)"
        )
    if roots and not any(folder.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise PermissionDeniedError(f"{folder} is not under an allowed folder ({allowed})")
    if not folder.is_dir():
        raise RagError(f"{folder} is not a folder on the server")
    return folder


# ------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class FolderFile:
    """A file found in the folder.

    Attributes:
        name: the path below the folder (the document's name).
        path: where to read it (the file itself; a symbolic link's target inside the folder).
        source: its path below the folder as on disk (``name`` before cleaning).
        size: bytes.
        mtime_ns: modification time in nanoseconds.
    """

    name: RelativeName
    path: Path
    size: int
    mtime_ns: int
    source: str = ""


def scan_folder(folder: Path) -> tuple[list[FolderFile], list[SyncItem]]:
    """The supported files below ``folder`` and the items to report about the others.

    Hidden files and folders (a name starting with ".") are passed over silently. A
    symbolic link is followed only when it leads to a file inside the folder.

    Args:
        folder: an absolute, resolved folder.

    Returns:
        ``(files, reported)``: files sorted by name; "unsupported" and "skipped" items.

    Raises:
        RagError: ``folder`` cannot be listed.
    """
    if not folder.is_dir():
        raise RagError(f"{folder} is not a folder")
    files: list[FolderFile] = []
    reported: list[SyncItem] = []
    names_seen: set[str] = set()

    def walk_error(exc: OSError) -> None:
        name = _name_below(folder, Path(exc.filename or folder))
        reported.append(
            SyncItem(name, "skipped", f"cannot list the folder ({exc.strerror})", "unreadable")
        )

    for top, dirs, names in os.walk(folder, onerror=walk_error):
        here = Path(top)
        for sub in list(dirs):
            if sub.startswith("."):
                dirs.remove(sub)
            elif (here / sub).is_symlink():
                reported.append(
                    SyncItem(
                        _name_below(folder, here / sub),
                        "skipped",
                        "a symbolic link to a folder: not followed",
                        "symlink_folder",
                    )
                )
        for base in names:
            if base.startswith("."):
                continue
            found = _examine(folder, here / base)
            if isinstance(found, SyncItem):
                reported.append(found)
            elif found.name in names_seen:  # two names that differ only in what is cleaned
                reason = "another file has the same name once control characters are removed"
                reported.append(SyncItem(found.name, "skipped", reason, "same_name"))
            else:
                names_seen.add(found.name)
                files.append(found)
    files.sort(key=lambda f: f.name)
    return files, reported


def _name_below(folder: Path, path: Path) -> RelativeName:
    return relative_name(path.relative_to(folder).parts)


def _examine(folder: Path, path: Path) -> FolderFile | SyncItem:
    """A supported, readable file of the folder, or the item that reports it."""
    name = _name_below(folder, path)
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return SyncItem(name, "unsupported", f"unsupported file type; use {allowed}", "unsupported")
    target = path
    try:
        if path.is_symlink():
            target = path.resolve(strict=True)
            if not target.is_relative_to(folder):
                return SyncItem(
                    name, "skipped", "a symbolic link leading out of the folder", "symlink_outside"
                )
        info = target.stat()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
        why = getattr(exc, "strerror", None) or str(exc)
        return SyncItem(name, "skipped", f"cannot read the file ({why})", "unreadable")
    if not stat.S_ISREG(info.st_mode):
        return SyncItem(name, "skipped", "not a regular file", "unreadable")
    if info.st_size == 0:
        return SyncItem(name, "skipped", "the file is empty (0 bytes)", "empty")
    source = path.relative_to(folder).as_posix()
    return FolderFile(name, target, info.st_size, info.st_mtime_ns, source)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in blocks (``hashlib.file_digest``).

    Raises:
        OSError: it cannot be read.
    """
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def plan_sync(
    folder: Path,
    collection: str,
    state: SyncState,
    documents: Sequence[DocumentRecord],
) -> SyncReport:
    """What a sync of ``folder`` into ``collection`` would do; reads, changes nothing.

    Args:
        folder: an absolute, resolved folder.
        collection: the collection's name.
        state: the sync records.
        documents: the collection's complete documents (empty for a new collection).

    Returns:
        A dry-run report: one item per file found and per recorded file that is gone.

    Raises:
        RagError: the folder cannot be listed.
    """
    started = time.monotonic()
    key = str(folder)
    files, reported = scan_folder(folder)
    rows = state.files(collection, key)
    by_sha = {d.sha256: d for d in documents}
    by_name: dict[str, list[DocumentRecord]] = {}
    for doc in documents:
        by_name.setdefault(doc.name, []).append(doc)
    seen = {f.name for f in files} | {i.name for i in reported}
    gone = sorted(name for name in rows if name not in seen)
    items = [
        SyncItem(name, "remove", "" if rows[name].owned else _NOT_OURS, sha256=rows[name].sha256)
        for name in gone
    ]
    removed = set(gone)
    for found in files:
        item = _plan_file(found, rows.get(found.name), by_sha, by_name.get(found.name, []), removed)
        items.append(item)
    items.extend(reported)
    items.sort(key=lambda i: i.name)
    return SyncReport(key, collection, True, items, now_iso(), seconds=time.monotonic() - started)


_NOT_OURS = "its content is indexed under another name: no document to delete"


def _plan_file(
    found: FolderFile,
    row: SyncedFile | None,
    by_sha: Mapping[str, DocumentRecord],
    named: Sequence[DocumentRecord],
    removed: set[str],
) -> SyncItem:
    """The plan for one supported file (see :func:`plan_sync`)."""
    item = SyncItem(
        found.name, "unchanged", size=found.size, mtime_ns=found.mtime_ns, source=found.source
    )
    adopting = row is not None and row.owned and not row.sha256  # an ingest was cut off
    mine = row.sha256 if row is not None and row.owned else None
    if not adopting and any(d.sha256 != mine for d in named):
        item.action, item.code = "skipped", "conflict"
        item.reason = (
            "a document with this name that did not come from this folder is in the "
            "collection: rename the file or delete that document"
        )
        return item
    if row is not None and (row.size, row.mtime_ns) == (found.size, found.mtime_ns):
        item.sha256 = row.sha256
    else:
        try:
            item.sha256 = file_sha256(found.path)
        except OSError as exc:
            item.action, item.code = "skipped", "unreadable"
            item.reason = f"cannot read the file ({exc.strerror})"
            return item
    indexed = by_sha.get(item.sha256) if item.sha256 else None
    if indexed is not None and indexed.name not in removed:
        item.chunks = indexed.chunks
        if row is None:
            item.action, item.indexed_as = "add", indexed.name  # recorded, nothing to embed
        return item
    if row is None or not row.sha256:
        item.action = "add"
    elif row.sha256 != item.sha256:
        item.action = "replace"
    else:
        item.action, item.code = "add", "missing"
        item.reason = "no longer in the collection"
    return item


# ------------------------------------------------------------------------- applying
class SyncWriter(Protocol):
    """How a plan is applied: the engine's ingest and delete (or a queue's)."""

    def ingest(self, name: str, data: bytes) -> IngestResult:
        """Ingest one file through the pipeline; a bad file is a failed result.

        Raises:
            RagError: the store failed (the item is reported as failed).
        """
        ...

    def delete(self, name: str) -> int:
        """Delete every version of the document ``name``; return how many were deleted.

        Raises:
            RagError: the store failed.
        """
        ...


SyncProgress = Callable[[SyncItem, int, int], None]
"""Called after each file is applied with ``(item, files done, files to do)``."""


def apply_sync(
    plan: SyncReport,
    folder: Path,
    state: SyncState,
    writer: SyncWriter,
    *,
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Carry out ``plan``: removals first, then new and changed files, recorded one by one.

    Args:
        plan: from :func:`plan_sync` for the same folder and collection.
        folder: the folder (absolute, resolved).
        state: the sync records.
        writer: ingests and deletes through the engine.
        progress: told about each file done.

    Returns:
        The report: the plan's items with their ``status``.
    """
    started = time.monotonic()
    key, collection = plan.folder, plan.collection
    rows = state.files(collection, key)
    todo = [i for i in plan.items if i.action in ("remove", "add", "replace")]
    todo.sort(key=lambda i: i.action != "remove")
    for item in plan.items:
        if item.action == "unchanged":
            _record_unchanged(item, rows.get(item.name), state, collection, key)
    for done, item in enumerate(todo, start=1):
        try:
            if item.action == "remove":
                _apply_remove(item, rows.get(item.name), state, collection, key, writer)
            else:
                _apply_ingest(item, rows.get(item.name), folder, state, collection, key, writer)
        except RagError as exc:  # the store failed for this file: report it, go on
            item.status, item.error = "failed", str(exc)
        if progress is not None:
            progress(item, done, len(todo))
    report = SyncReport(key, collection, False, plan.items, plan.started_at)
    report.seconds = plan.seconds + time.monotonic() - started
    return report


def _record_unchanged(
    item: SyncItem, row: SyncedFile | None, state: SyncState, collection: str, key: str
) -> None:
    item.status = "unchanged"
    if row is None:
        return
    sha256 = item.sha256 or row.sha256  # hashed now: also completes a row left pending
    if (row.size, row.mtime_ns, row.sha256) != (item.size, item.mtime_ns, sha256):
        touched = SyncedFile(item.name, item.size, item.mtime_ns, sha256, row.owned)
        state.put(collection, key, touched)


def _apply_remove(
    item: SyncItem,
    row: SyncedFile | None,
    state: SyncState,
    collection: str,
    key: str,
    writer: SyncWriter,
) -> None:
    if row is not None and row.owned:
        writer.delete(item.name)
    state.drop(collection, key, item.name)
    item.status = "removed"


def _apply_ingest(
    item: SyncItem,
    row: SyncedFile | None,
    folder: Path,
    state: SyncState,
    collection: str,
    key: str,
    writer: SyncWriter,
) -> None:
    path = folder.joinpath(*(item.source or item.name).split("/"))
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(folder):  # replaced by a link since the plan
            raise DocumentError(item.name, "a symbolic link leading out of the folder")
        with real.open("rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read()
    except OSError as exc:
        item.status, item.error = "failed", f"{item.name}: cannot read the file ({exc.strerror})"
        return
    except DocumentError as exc:
        item.status, item.error = "failed", str(exc)
        return
    # recorded before the ingest: a sync stopped during it adopts the document next time
    state.put(collection, key, SyncedFile(item.name, info.st_size, info.st_mtime_ns, "", True))
    try:
        result = writer.ingest(relative_name(item.name.split("/")), data)
    except RagError:
        _restore(row, state, collection, key, item.name)
        raise
    if result.status == "failed":
        _restore(row, state, collection, key, item.name)
        item.status, item.error = "failed", result.error
        return
    owned = not result.indexed_as
    item.sha256, item.chunks = result.sha256, result.chunks
    item.status = result.status if owned else "duplicate"
    item.indexed_as = result.indexed_as
    state.put(
        collection, key, SyncedFile(item.name, info.st_size, info.st_mtime_ns, result.sha256, owned)
    )


def _restore(
    row: SyncedFile | None, state: SyncState, collection: str, key: str, name: str
) -> None:
    """Put back the row a failed ingest replaced (the old version is still indexed)."""
    if row is None:
        state.drop(collection, key, name)
    else:
        state.put(collection, key, row)


@contextlib.contextmanager
def sync_lock(settings: Settings, *, timeout_s: float) -> Iterator[None]:
    """One sync at a time per data directory.

    Raises:
        StoreBusyError: another sync holds it past ``timeout_s`` seconds.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(settings.data_dir / SYNC_LOCK), thread_local=False)
    try:
        lock.acquire(timeout=timeout_s)
    except filelock.Timeout as exc:
        raise StoreBusyError("another folder sync is running: wait for it to finish") from exc
    try:
        yield
    finally:
        lock.release()


# ------------------------------------------------------------------------- watching
class BackgroundSync:
    """Syncs saved folders on a worker thread: when asked, and when their files change.

    One sync at a time (``concurrent.futures.ThreadPoolExecutor`` with one worker); a
    folder already waiting is not queued twice. A watcher thread
    (:func:`watch_folders`) asks for a sync of each folder whose files change, and
    :meth:`start` asks for one of every saved folder (to catch what changed while the
    app was down). Failures are logged; the sync itself keeps its report.

    Args:
        sync: syncs one key's folder: ``sync(key, caller)`` (e.g.
            :meth:`rag_core.engine.Engine.sync_saved_folder`).
        folders: the saved folders, by key (e.g.
            :meth:`rag_core.engine.Engine.saved_sync_folders`).
        debounce_ms: quiet time before changed files are synced, in milliseconds.
    """

    def __init__(
        self,
        sync: Callable[[str, object], object],
        folders: Callable[[], Mapping[str, Path]],
        *,
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        """Prepare; nothing runs until :meth:`start`."""
        self._sync = sync
        self._folders = folders
        self._debounce_ms = debounce_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folder-sync")
        self._pending: set[str] = set()
        self._running: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> BackgroundSync:
        """Start the watcher and sync every saved folder once (later calls do nothing)."""
        with self._lock:
            if self._watcher is not None:
                return self
            self._watcher = threading.Thread(
                target=watch_folders,
                args=(self._folders, self.request, self._stop),
                kwargs={"debounce_ms": self._debounce_ms},
                name="folder-sync-watch",
                daemon=True,
            )
            self._watcher.start()
        for key in self._folders():
            self.request(key)
        return self

    def request(self, key: str, caller: object = None) -> bool:
        """Ask for a sync of ``key``'s folder; False when one is already waiting."""
        with self._lock:
            if key in self._pending:
                return False
            self._pending.add(key)
        self._executor.submit(self._run, key, caller)
        return True

    def busy(self, key: str) -> bool:
        """True while a sync of ``key`` waits or runs."""
        with self._lock:
            return key in self._pending or self._running == key

    def stop(self) -> None:
        """Stop watching (a sync under way finishes)."""
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, key: str, caller: object) -> None:
        with self._lock:
            self._pending.discard(key)
            self._running = key
        try:
            self._sync(key, caller)
        except RagError as exc:
            logger.warning("folder sync of %s failed: %s", key, exc)
        except Exception:  # a worker thread must never die silently
            logger.exception("folder sync of %s failed", key)
        finally:
            with self._lock:
                self._running = None


def watch_folders(
    folders: Callable[[], Mapping[str, Path]],
    on_change: Callable[[str], None],
    stop: threading.Event,
    *,
    debounce_ms: int = DEBOUNCE_MS,
    check_ms: int = WATCH_CHECK_MS,
) -> None:
    """Call ``on_change(key)`` whenever files change in a watched folder, until ``stop``.

    ``watchfiles.watch`` (Rust ``notify``: inotify on Linux) gathers changes until
    ``debounce_ms`` of quiet, so a copy of many files is one sync. Every ``check_ms`` it
    asks ``folders`` again and restarts the watch when the set changed (an editor set
    another folder). A folder that cannot be watched is retried at the next check.

    Args:
        folders: the folders to watch, by key (e.g. collection name).
        on_change: called on this thread with the key of a folder that changed.
        stop: set it to return (within about ``check_ms``).
        debounce_ms: quiet time before changes are reported, in milliseconds.
        check_ms: how often the set of folders is looked at again, in milliseconds.
    """
    while not stop.is_set():
        watched = {key: Path(path) for key, path in folders().items() if Path(path).is_dir()}
        if not watched:
            stop.wait(check_ms / 1000)
            continue
        try:
            _watch_until_changed(watched, folders, on_change, stop, debounce_ms, check_ms)
        except OSError as exc:  # a folder vanished or inotify ran out of watches
            logger.warning("watching folders failed: %s", exc)
            stop.wait(check_ms / 1000)


def _watch_until_changed(
    watched: Mapping[str, Path],
    folders: Callable[[], Mapping[str, Path]],
    on_change: Callable[[str], None],
    stop: threading.Event,
    debounce_ms: int,
    check_ms: int,
) -> None:
    """Watch ``watched`` until ``stop`` or until ``folders()`` names another set."""
    for changes in watchfiles.watch(
        *watched.values(),
        debounce=debounce_ms,
        stop_event=stop,
        rust_timeout=check_ms,
        yield_on_timeout=True,
    ):
        for key, path in watched.items():
            if any(Path(changed).is_relative_to(path) for _, changed in changes):
                on_change(key)
        now = {key: Path(p) for key, p in folders().items() if Path(p).is_dir()}
        if now != dict(watched):
            return


__all__ = [
    "ACTIONS",
    "BackgroundSync",
    "FolderFile",
    "SyncItem",
    "SyncReport",
    "SyncState",
    "SyncWriter",
    "SyncedFile",
    "apply_sync",
    "check_sync_folder",
    "plan_sync",
    "scan_folder",
    "server_sync_enabled",
    "sync_lock",
    "sync_roots",
    "sync_state",
    "watch_folders",
]
