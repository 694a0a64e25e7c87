"""The store's write lock excludes other threads of the same process too."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rag_core.errors import StoreBusyError
from rag_core.index.locking import write_lock


def test_a_second_thread_waits_for_the_write_lock(tmp_path: Path):
    path = tmp_path / "write.lock"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with write_lock(path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    with pytest.raises(StoreBusyError), write_lock(path, timeout_s=0.2):
        pass
    release.set()
    with write_lock(path, timeout_s=10):  # free again once the first thread let go
        pass
    thread.join()
