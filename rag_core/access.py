"""Who may do what: callers, roles per collection, API keys.

PLACEHOLDER: the interface the engine and the doors call; the full implementation (the
stored roles and keys) replaces this module.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from rag_core.config import Settings


class Action(enum.StrEnum):
    """What a caller wants to do with a collection."""

    READ = "read"
    """List its documents, search it, ask it."""
    WRITE = "write"
    """Upload and delete documents."""
    MANAGE = "manage"
    """Share it, delete it (its owner)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling.

    Attributes:
        user: the signed-in username (lower case).
        groups: the user's groups from the sign-in config.
    """

    user: str
    groups: frozenset[str] = field(default_factory=frozenset)


class AccessControl:
    """Checks callers against each collection's members (placeholder: allows everything)."""

    def __init__(self, settings: Settings) -> None:
        """Open the access store under ``settings.data_dir``."""
        self.settings = settings

    @property
    def enabled(self) -> bool:
        """Sign-in is configured: permissions apply (otherwise one local user may do all)."""
        return self.settings.auth_config is not None

    def require(self, caller: Caller | None, collection: str, action: Action) -> None:
        """Raise unless ``caller`` may do ``action`` on ``collection`` (None = local user)."""

    def readable(self, caller: Caller | None, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that ``caller`` may read, in order."""
        return list(names)

    def caller_for(self, user: str) -> Caller:
        """The caller of the signed-in ``user`` (with their groups)."""
        return Caller(user.lower())

    def created(self, caller: Caller | None, collection: str) -> None:
        """Record ``caller`` as the owner of the new ``collection``."""


__all__ = ["AccessControl", "Action", "Caller"]
