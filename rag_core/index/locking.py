"""One writer process at a time: a ``filelock`` lock on the data directory.

Chroma is not process-safe for concurrent writers (THREATS.md, row 19).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import filelock

from rag_core.errors import StoreBusyError


@contextlib.contextmanager
def write_lock(lock_path: Path, *, timeout_s: float = 0.0) -> Iterator[None]:
    """Hold the store's single-writer lock (``filelock.FileLock``).

    Args:
        lock_path: the lock file.
        timeout_s: seconds to wait for another writer; 0 fails at once.

    Raises:
        StoreBusyError: another process is writing to the store.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path), thread_local=False)
    try:
        lock.acquire(timeout=timeout_s)
    except filelock.Timeout as exc:
        raise StoreBusyError(
            f"another process is writing to the store at {lock_path.parent}: "
            "wait for it to finish and try again"
        ) from exc
    try:
        yield
    finally:
        lock.release()
