"""Serve the API for tests and benchmarks: uvicorn on 127.0.0.1 in a thread, API keys."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def running(app: Any, *, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends; yield its base URL.

    Args:
        app: the ASGI application (``rag_core.doors.api.create_app(engine)``).
        timeout_s: seconds to wait for uvicorn's ``started`` flag.

    Raises:
        RuntimeError: uvicorn did not start in time.
    """
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


__all__ = ["running"]
