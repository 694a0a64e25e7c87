"""Serve the API for tests and benchmarks: uvicorn on 127.0.0.1 in a thread, API keys.

:class:`KeyedAccess` stands in for the keys and roles of ``rag_core.access`` (being written
on branch ``access``) until they land; then tests and benchmarks create keys with the real
module and this class goes.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import uvicorn

from rag_core.access import AccessControl, Action, Caller
from rag_core.errors import AuthenticationError, CollectionNotFoundError, PermissionDeniedError


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


class KeyedAccess(AccessControl):
    """Stand-in for the ``access`` branch's keys and roles (see the module docstring).

    ``create_key(user)`` returns a new key; ``share(collection, user, role)`` gives a user
    the role "reader" or "editor" on a collection, "none" hides it from them; a user
    without an entry may do everything (the single-user install).
    """

    def __init__(self, settings: object) -> None:
        super().__init__(settings)  # type: ignore[arg-type]
        self.keys: dict[str, Caller] = {}
        self.roles: dict[tuple[str, str], str] = {}

    def create_key(self, user: str) -> str:
        key = secrets.token_urlsafe(24)
        self.keys[key] = Caller(user)
        return key

    def authenticate(self, token: str) -> Caller:
        caller = self.keys.get(token)
        if caller is None:
            raise AuthenticationError("unknown or revoked API key")
        return caller

    def share(self, collection: str, user: str, role: str) -> None:
        self.roles[(user, collection)] = role

    def require(self, caller: Caller | None, collection: str, action: Action) -> None:
        role = self.roles.get((caller.user, collection)) if caller else None
        if role == "none":
            raise CollectionNotFoundError(f"no collection named '{collection}'")
        if role == "reader" and action != Action.READ:
            raise PermissionDeniedError(f"you may only read '{collection}'")

    def readable(self, caller: Caller | None, names: Iterable[str]) -> list[str]:
        user = caller.user if caller else ""
        return [name for name in names if self.roles.get((user, name)) != "none"]


__all__ = ["KeyedAccess", "running"]
