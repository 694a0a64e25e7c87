"""Where a door may listen: loopback only unless sign-in is configured (API and MCP alike)."""

from __future__ import annotations

import ipaddress

from rag_core.engine import Engine
from rag_core.errors import PermissionDeniedError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
"""Host names that resolve to this machine only (besides 127.0.0.0/8 and ::1)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(engine: Engine, host: str, *, door: str = "API", docs: str = "docs/api.md") -> None:
    """Refuse a non-loopback ``host`` when sign-in is not configured.

    Without users, the documents stay on this machine: a door then listens on 127.0.0.1.

    Args:
        engine: the engine served (``engine.access.enabled``: sign-in is configured).
        host: the interface the door would listen on.
        door: the door's name, for the message ("API", "MCP server").
        docs: the page that tells how to serve other machines.

    Raises:
        PermissionDeniedError: sign-in is off and ``host`` is not a loopback address.
    """
    if not engine.access.enabled and not is_loopback(host):
        raise PermissionDeniedError(
            f"refusing to listen on {host}: sign-in is not configured (RAG_AUTH_CONFIG), so "
            f"the {door} listens on 127.0.0.1 only; see {docs}"
        )


__all__ = ["LOOPBACK_NAMES", "check_host", "is_loopback"]
