"""Who may do what: callers, roles per collection, API keys.

Sign-in on (``settings.auth_config`` names a streamlit-authenticator YAML file): each
collection has one owner and members with a role, given to a user or to a group:

* **owner**: everything, including :attr:`Action.MANAGE` (share it, delete it);
* **editor**: :attr:`Action.READ` and :attr:`Action.WRITE` (upload and delete documents);
* **reader**: :attr:`Action.READ` only (list its documents, search it, ask it); a write is
  refused with :class:`~rag_core.errors.PermissionDeniedError` (HTTP 403);
* no role: the collection does not exist for the caller
  (:class:`~rag_core.errors.CollectionNotFoundError`, HTTP 404; absent from
  :meth:`AccessControl.readable`).

A caller's groups come from the sign-in config: an optional ``groups:`` list per user under
``credentials: usernames: <user>:`` (streamlit-authenticator's own ``roles:`` list counts
as groups too). A collection with no owner recorded (made before permissions existed, or
opened by the app before anyone wrote to it) is open to every signed-in user as an editor
until someone is made its owner. Whoever first writes to a collection that is not in the
store yet becomes its owner (:meth:`AccessControl.created`).

``caller=None`` is the trusted local user (the single-user app, and the CLI, which runs as
the owner of the data directory): always allowed. With sign-in off every caller may do
everything, as in the single-user app.

API keys (``rag_`` + ``secrets.token_urlsafe(32)``, 256 random bits) are shown once when
created; only their SHA-256 is stored, and a key is found by that hash (a digest lookup
leaks nothing usable about the key through timing; the stored digest is compared again
with :func:`hmac.compare_digest`).

Everything lives in one SQLite file, ``<data dir>/access.sqlite3`` (WAL, one connection per
call), so every thread and process of the app, the CLI, the HTTP API and the MCP server
see the same roles and keys at once.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from rag_core.config import IMPORT_SUFFIX, REGISTRY_SUFFIX, REINDEX_SUFFIX, Settings
from rag_core.errors import (
    AuthenticationError,
    CollectionNotFoundError,
    PermissionDeniedError,
    RagError,
)

logger = logging.getLogger(__name__)

ACCESS_FILE = "access.sqlite3"
"""The access store's file name in the data directory."""
KEY_PREFIX = "rag_"
"""Every API key starts with it, so a leaked key is easy to recognise (secret scanners)."""
KEY_BYTES = 32
"""Random bytes per key (``secrets.token_urlsafe(32)``: 43 characters, 256 bits)."""
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""A key's ``last_used`` is written at most once a minute (not on every request)."""
BUSY_TIMEOUT_S = 30.0
"""Seconds a call waits for another process's write to the access store."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    collection TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    collection TEXT NOT NULL,
    is_group INTEGER NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'editor')),
    PRIMARY KEY (collection, is_group, name)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used TEXT,
    revoked_at TEXT
);
"""


class Action(enum.StrEnum):
    """What a caller wants to do with a collection."""

    READ = "read"
    """List its documents, search it, ask it."""
    WRITE = "write"
    """Upload and delete documents."""
    MANAGE = "manage"
    """Share it, delete it (its owner)."""


class Role(enum.StrEnum):
    """A member's role in a collection, from least to most allowed."""

    READER = "reader"
    """May read (search, ask, list documents)."""
    EDITOR = "editor"
    """May also write (upload and delete documents)."""
    OWNER = "owner"
    """May also manage (share, delete the collection); one user per collection."""

    @property
    def rank(self) -> int:
        """0 reader, 1 editor, 2 owner."""
        return list(Role).index(self)

    def allows(self, action: Action) -> bool:
        """Whether this role may do ``action``."""
        needed = {Action.READ: Role.READER, Action.WRITE: Role.EDITOR, Action.MANAGE: Role.OWNER}
        return self.rank >= needed[action].rank


@dataclass(frozen=True)
class Caller:
    """Who is calling.

    Attributes:
        user: the signed-in username (lower case).
        groups: the user's groups from the sign-in config (lower case).
    """

    user: str
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Member:
    """One member of a collection.

    Attributes:
        name: the username or group name (lower case).
        role: the member's role (:attr:`Role.OWNER` for the owner, always a user).
        group: True when ``name`` is a group from the sign-in config.
    """

    name: str
    role: Role
    group: bool = False

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"name", "role", "group"}``."""
        return {"name": self.name, "role": str(self.role), "group": self.group}


@dataclass(frozen=True)
class KeyInfo:
    """One API key, without the key itself (which is never stored).

    Attributes:
        id: the key's id (12 hex digits), for listing and revoking.
        user: whose key it is (lower case).
        created_at: when it was made (ISO 8601, UTC, seconds).
        last_used: when it last authenticated a call (to the minute), None if never.
        revoked: True once revoked (it authenticates nothing any more).
    """

    id: str
    user: str
    created_at: str
    last_used: str | None
    revoked: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the attributes by name."""
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _name(value: str) -> str:
    """A username or group name as stored and compared: stripped, lower case."""
    return value.strip().lower()


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _name_list(value: object) -> list[str]:
    """``groups:`` / ``roles:`` of a user: a list of names, or one name."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [_name(str(item)) for item in value if str(item).strip()]


def parse_users(text: str) -> dict[str, frozenset[str]]:
    """Each user of a sign-in config with their groups.

    Args:
        text: a streamlit-authenticator YAML config (``credentials: usernames:``), where
            a user may have ``groups: [team-a, ...]`` and streamlit-authenticator's
            ``roles: [...]``; both count as groups.

    Returns:
        ``{username: groups}``, names in lower case.

    Raises:
        yaml.YAMLError: the text is not YAML.
    """
    data = yaml.safe_load(text)
    credentials = data.get("credentials") if isinstance(data, Mapping) else None
    users = credentials.get("usernames") if isinstance(credentials, Mapping) else None
    if not isinstance(users, Mapping):
        return {}
    result: dict[str, frozenset[str]] = {}
    for username, entry in users.items():
        entry = entry if isinstance(entry, Mapping) else {}
        names = _name_list(entry.get("groups")) + _name_list(entry.get("roles"))
        result[_name(str(username))] = frozenset(names)
    return result


def chroma_has_collection(settings: Settings) -> Callable[[str], bool]:
    """A check whether the store of ``settings`` holds a collection (by name).

    Returns:
        ``exists(name) -> bool``, which lists the Chroma collections on each call and
        raises :class:`~rag_core.errors.StoreUnavailableError` when the configured Chroma
        server cannot be reached.
    """

    def exists(name: str) -> bool:
        from rag_core.index.vector_store import build_chroma_client  # chromadb: slow import

        client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
        names = {c.name for c in client.list_collections()}
        return name in names and not name.endswith((REINDEX_SUFFIX, REGISTRY_SUFFIX, IMPORT_SUFFIX))

    return exists


class AccessControl:
    """Checks callers against each collection's owner and members; keeps the API keys.

    Safe to share between threads, and to open in several processes at once (each call
    opens its own SQLite connection; see the module docstring). Every method that reads
    or writes the access store raises :class:`~rag_core.errors.RagError` when the store
    cannot be used (a read-only data directory, a write lock held too long).

    Args:
        settings: the engine settings (``data_dir``, ``auth_config``, the store).
        exists: tells whether the store holds a collection (default: asks Chroma); used
            only by :meth:`created` and :meth:`in_store`.
    """

    def __init__(self, settings: Settings, *, exists: Callable[[str], bool] | None = None) -> None:
        """Remember where the access store is; it is created on first use."""
        self.settings = settings
        self.path = settings.data_dir / ACCESS_FILE
        self._exists = exists or chroma_has_collection(settings)
        self._ready = False
        self._lock = threading.Lock()
        self._users: tuple[tuple[int, int], dict[str, frozenset[str]]] | None = None

    # ------------------------------------------------------------------ state
    @property
    def enabled(self) -> bool:
        """Sign-in is configured: permissions apply (otherwise one local user may do all)."""
        return self.settings.auth_config is not None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction (committed on success, rolled back on error).

        Raises:
            RagError: the access store cannot be created, read or written (e.g. the
                data directory is read-only, or another process held a write lock for
                longer than :data:`BUSY_TIMEOUT_S`).
        """
        try:
            if not self._ready:
                with self._lock:
                    if not self._ready:
                        self.path.parent.mkdir(parents=True, exist_ok=True)
                        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as db:
                            db.execute("PRAGMA journal_mode=WAL")
                            db.executescript(SCHEMA)
                        self._ready = True
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as db, db:
                yield db
        except (sqlite3.Error, OSError) as exc:
            raise RagError(f"the access store {self.path} cannot be used: {exc}") from exc

    def in_store(self, collection: str) -> bool:
        """Whether the store holds ``collection``.

        Raises:
            StoreUnavailableError: the configured Chroma server cannot be reached.
        """
        return self._exists(collection)

    # --------------------------------------------------------------- sign-in
    def users(self) -> dict[str, frozenset[str]]:
        """The users of the sign-in config with their groups (empty with sign-in off).

        The file is read again when it changes (modification time or size); a missing or
        malformed file gives no users (logged; the app shows the problem itself).
        """
        path = self.settings.auth_config
        if path is None:
            return {}
        try:
            stat = Path(path).stat()
            version = (stat.st_mtime_ns, stat.st_size)
            cached = self._users
            if cached is not None and cached[0] == version:
                return cached[1]
            users = parse_users(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            logger.warning("cannot read the sign-in config %s: %s", path, exc)
            return {}
        self._users = (version, users)
        return users

    def caller_for(self, user: str) -> Caller:
        """The caller for a signed-in ``user``, with their groups from the sign-in config.

        Args:
            user: the username (any case).

        Returns:
            ``Caller(user in lower case, groups)``; no groups for a user the config does
            not list (or with sign-in off).
        """
        name = _name(user)
        return Caller(name, self.users().get(name, frozenset()))

    # ------------------------------------------------------------------ roles
    def owner(self, collection: str) -> str | None:
        """The owner of ``collection`` (a username), None when none is recorded."""
        with self._db() as db:
            row = db.execute(
                "SELECT owner FROM owners WHERE collection = ?", (collection,)
            ).fetchone()
        return row[0] if row else None

    def role(self, caller: Caller | None, collection: str) -> Role | None:
        """What ``caller`` may do with ``collection``.

        Args:
            caller: who asks (None: the trusted local user).
            collection: the collection name.

        Returns:
            :attr:`Role.OWNER` for the local user and for everyone while sign-in is off;
            otherwise the owner's :attr:`Role.OWNER`, the highest role given to the user
            or one of their groups, :attr:`Role.EDITOR` for every caller on a collection
            without an owner, or None (not a member: the collection does not exist for
            them).
        """
        return self._roles(caller, [collection])[collection]

    def _roles(self, caller: Caller | None, collections: Iterable[str]) -> dict[str, Role | None]:
        """:meth:`role` of each collection, read in one transaction."""
        names = list(collections)
        if caller is None or not self.enabled:
            return dict.fromkeys(names, Role.OWNER)
        user, groups = _name(caller.user), {_name(g) for g in caller.groups}
        with self._db() as db:
            return {name: self._role_in(db, name, user, groups) for name in names}

    @staticmethod
    def _role_in(
        db: sqlite3.Connection, collection: str, user: str, groups: set[str]
    ) -> Role | None:
        """The role of a signed-in ``user`` with ``groups`` in ``collection``."""
        row = db.execute("SELECT owner FROM owners WHERE collection = ?", (collection,)).fetchone()
        if row is None:
            return Role.EDITOR  # ownerless: open to every signed-in user
        if row[0] == user:
            return Role.OWNER
        grants = db.execute(
            "SELECT is_group, name, role FROM members WHERE collection = ?", (collection,)
        ).fetchall()
        roles = [
            Role(role)
            for is_group, name, role in grants
            if (name in groups if is_group else name == user)
        ]
        return max(roles, key=lambda r: r.rank, default=None)

    def require(self, caller: Caller | None, collection: str, action: Action) -> None:
        """Raise unless ``caller`` may do ``action`` on ``collection``.

        Args:
            caller: who asks (None: the trusted local user, always allowed).
            collection: the collection name.
            action: what they want to do.

        Raises:
            CollectionNotFoundError: ``caller`` has no role in ``collection`` (it does not
                exist for them; the message is the same as for a missing collection).
            PermissionDeniedError: their role does not allow ``action`` (a reader
                writing, an editor sharing or deleting the collection).
        """
        role = self.role(caller, collection)
        if role is None:
            raise CollectionNotFoundError(f"no collection named '{collection}'")
        if not role.allows(action):
            if action is Action.MANAGE:
                allowed = "only its owner may share or delete it"
            else:
                allowed = "only an editor or its owner may upload or delete documents"
            raise PermissionDeniedError(
                f"your role in the collection '{collection}' is {role}: {allowed}"
            )

    def readable(self, caller: Caller | None, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that ``caller`` may read, in order."""
        names = list(names)
        roles = self._roles(caller, names)
        return [name for name in names if roles[name] is not None]

    def created(self, caller: Caller | None, collection: str) -> None:
        """Record ``caller`` as the owner of ``collection`` if it is new.

        Called before a write that may create the collection. Does nothing with sign-in
        off, for the local user (None), for a collection that has an owner, and for one
        the store already holds (a collection made before permissions existed stays open
        until someone is made its owner; see :meth:`share`). When two callers create the
        same collection at once, the first recorded stays the owner.

        Raises:
            StoreUnavailableError: the configured Chroma server cannot be reached.
        """
        if not self.enabled or caller is None or self.owner(collection) is not None:
            return
        if self.in_store(collection):
            return
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO owners (collection, owner, since) VALUES (?, ?, ?)",
                (collection, _name(caller.user), _now()),
            )
        logger.info("collection %s created by %s (its owner)", collection, _name(caller.user))

    def share(self, collection: str, member: str, role: Role, *, group: bool = False) -> None:
        """Give ``member`` a role in ``collection`` (replacing the role they had).

        No permission check here: the door checks :attr:`Action.MANAGE` first.

        Args:
            collection: the collection name.
            member: a username, or a group name with ``group=True`` (any case).
            role: :attr:`Role.READER` or :attr:`Role.EDITOR`; :attr:`Role.OWNER` makes
                the user the owner (the previous owner stays an editor).
            group: ``member`` is a group of the sign-in config.

        Raises:
            ValueError: an empty name, a group made owner, or the owner given a lesser
                role (make someone else the owner first: a collection without an owner
                is open to everyone).
        """
        name, role = _name(member), Role(role)
        if not name:
            raise ValueError("a member needs a name")
        if role is Role.OWNER and group:
            raise ValueError("a collection's owner is one user, not a group")
        with self._db() as db:
            row = db.execute(
                "SELECT owner FROM owners WHERE collection = ?", (collection,)
            ).fetchone()
            previous = row[0] if row else None
            if role is Role.OWNER:
                db.execute(
                    "INSERT OR REPLACE INTO owners (collection, owner, since) VALUES (?, ?, ?)",
                    (collection, name, _now()),
                )
                db.execute(
                    "DELETE FROM members WHERE collection = ? AND is_group = 0 AND name = ?",
                    (collection, name),
                )
                if previous and previous != name:
                    self._grant(db, collection, previous, Role.EDITOR, group=False)
            elif not group and previous == name:
                raise ValueError(f"{name} owns '{collection}': make someone else its owner first")
            else:
                self._grant(db, collection, name, role, group=group)
        logger.info("%s %s is now %s of %s", "group" if group else "user", name, role, collection)

    @staticmethod
    def _grant(
        db: sqlite3.Connection, collection: str, name: str, role: Role, *, group: bool
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO members (collection, is_group, name, role) VALUES (?, ?, ?, ?)",
            (collection, int(group), name, str(role)),
        )

    def unshare(self, collection: str, member: str, *, group: bool = False) -> bool:
        """Take ``member``'s role in ``collection`` away.

        Args:
            collection: the collection name.
            member: a username, or a group name with ``group=True`` (any case).
            group: ``member`` is a group.

        Returns:
            True if they had a role.

        Raises:
            ValueError: ``member`` is the owner (make someone else the owner first).
        """
        name = _name(member)
        if not group and self.owner(collection) == name:
            raise ValueError(f"{name} owns '{collection}': make someone else its owner first")
        with self._db() as db:
            cursor = db.execute(
                "DELETE FROM members WHERE collection = ? AND is_group = ? AND name = ?",
                (collection, int(group), name),
            )
        return cursor.rowcount > 0

    def members(self, collection: str) -> list[Member]:
        """The owner (first), then the users, then the groups with a role in ``collection``."""
        with self._db() as db:
            owner = db.execute(
                "SELECT owner FROM owners WHERE collection = ?", (collection,)
            ).fetchone()
            rows = db.execute(
                "SELECT is_group, name, role FROM members WHERE collection = ? "
                "ORDER BY is_group, name",
                (collection,),
            ).fetchall()
        result = [Member(owner[0], Role.OWNER)] if owner else []
        return result + [Member(name, Role(role), bool(is_group)) for is_group, name, role in rows]

    def forget(self, collection: str) -> None:
        """Drop the owner and members of a deleted collection.

        A collection made later under the same name starts afresh (its first writer owns it).
        """
        with self._db() as db:
            db.execute("DELETE FROM owners WHERE collection = ?", (collection,))
            db.execute("DELETE FROM members WHERE collection = ?", (collection,))

    # --------------------------------------------------------------- API keys
    def create_key(self, user: str) -> str:
        """Make an API key for ``user``; return it (the only time it is seen).

        Only its SHA-256 is stored.

        Args:
            user: the username (any case); with sign-in on it must be in the sign-in
                config.

        Returns:
            The key: ``rag_`` followed by 43 URL-safe characters.

        Raises:
            ValueError: an empty username, or (sign-in on) a user the config does not list.
        """
        name = _name(user)
        if not name:
            raise ValueError("a key needs a user")
        if self.enabled and name not in self.users():
            raise ValueError(f"no user '{name}' in the sign-in config {self.settings.auth_config}")
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        key_id = secrets.token_hex(6)
        with self._db() as db:
            db.execute(
                "INSERT INTO api_keys (id, user, digest, created_at) VALUES (?, ?, ?, ?)",
                (key_id, name, _digest(key), _now()),
            )
        logger.info("API key %s created for %s", key_id, name)
        return key

    def authenticate(self, token: str | None) -> Caller:
        """The caller an API key belongs to.

        Args:
            token: the key as sent (e.g. the ``Authorization: Bearer`` value), or None.

        Returns:
            The key's user, with their groups from the sign-in config.

        Raises:
            AuthenticationError: no key, an unknown or revoked one, or (sign-in on) one
                whose user is no longer in the sign-in config.
        """
        token = (token or "").strip()
        if not token:
            raise AuthenticationError("an API key is needed (Authorization: Bearer rag_...)")
        digest = _digest(token)
        with self._db() as db:
            row = db.execute(
                "SELECT id, user, digest, last_used, revoked_at FROM api_keys WHERE digest = ?",
                (digest,),
            ).fetchone()
            if row is None or not hmac.compare_digest(row[2], digest):
                raise AuthenticationError("unknown API key")
            key_id, user, _, last_used, revoked_at = row
            if revoked_at is not None:
                raise AuthenticationError(f"the API key {key_id} was revoked")
            now = datetime.now(UTC)
            if last_used is None or now - datetime.fromisoformat(last_used) >= LAST_USED_RESOLUTION:
                db.execute(
                    "UPDATE api_keys SET last_used = ? WHERE id = ?",
                    (now.isoformat(timespec="seconds"), key_id),
                )
        if self.enabled and user not in self.users():
            raise AuthenticationError(f"the user '{user}' of this API key may no longer sign in")
        return self.caller_for(user)

    def identify(self, key: str) -> KeyInfo | None:
        """The stored record of ``key`` (e.g. to show its id once it is made), None if unknown.

        Unlike :meth:`authenticate` it accepts revoked keys and records no use.
        """
        with self._db() as db:
            row = db.execute(
                "SELECT id, user, created_at, last_used, revoked_at FROM api_keys WHERE digest = ?",
                (_digest(key.strip()),),
            ).fetchone()
        if row is None:
            return None
        key_id, user, created, used, revoked = row
        return KeyInfo(key_id, user, created, used, revoked is not None)

    def keys(self, user: str | None = None) -> list[KeyInfo]:
        """The API keys (of ``user`` if given), oldest first, revoked ones included."""
        query = "SELECT id, user, created_at, last_used, revoked_at FROM api_keys"
        params: tuple[str, ...] = ()
        if user is not None:
            query, params = query + " WHERE user = ?", (_name(user),)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY rowid", params).fetchall()
        return [
            KeyInfo(key_id, owner, created, used, revoked is not None)
            for key_id, owner, created, used, revoked in rows
        ]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke the key ``key_id`` for good.

        Returns:
            True if such a key existed and was not revoked yet.
        """
        with self._db() as db:
            cursor = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now(), key_id.strip()),
            )
        if cursor.rowcount:
            logger.info("API key %s revoked", key_id)
        return cursor.rowcount > 0


__all__ = [
    "ACCESS_FILE",
    "KEY_PREFIX",
    "AccessControl",
    "Action",
    "Caller",
    "KeyInfo",
    "Member",
    "Role",
    "chroma_has_collection",
    "parse_users",
]
