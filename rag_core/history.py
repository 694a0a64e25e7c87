"""Chat history kept in a local SQLite file next to the store, and Markdown export.

Chats survive a browser refresh and an app restart. One row per chat, one row per message;
an answer's citations are stored with it as JSON, so a past answer shows the same sources
it was given. Every chat has an owner, the signed-in username ("" for the single local user
when sign-in is off); every read and write names the owner, and a chat of another owner
behaves as if it did not exist.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_core.generation.citations import Citation
from rag_core.index.registry import now_iso

logger = logging.getLogger(__name__)

LOCAL_OWNER = ""
"""The owner of every chat when sign-in is off (and of chats made before owners existed)."""
TITLE_CHARS = 60
"""A chat's title is the start of its first question, at most this many characters."""


@dataclass
class ChatMessage:
    """One message of a chat.

    Attributes:
        role: "user" or "assistant".
        content: the question, or the answer's text.
        citations: the numbered sources of an answer.
        error: why no answer could be generated ("" otherwise).
        query: the standalone query retrieval used, when a follow-up was rewritten.
        relevant: False when no passage was relevant: the sources are closest matches.
        dropped: passages left out to fit the model's context window.
    """

    role: str
    content: str
    citations: list[Citation] = field(default_factory=list)
    error: str = ""
    query: str = ""
    relevant: bool = True
    dropped: int = 0


@dataclass(frozen=True)
class ChatSummary:
    """A chat in the list of past chats.

    Attributes:
        id: the chat's id (a UUID4 hex string).
        title: the start of its first question.
        updated_at: ISO 8601 UTC time of its last message.
        messages: number of messages.
    """

    id: str
    title: str
    updated_at: str
    messages: int


class ChatHistory:
    """The chats of one data directory, in SQLite (``chats.sqlite3``), per owner.

    Every method takes the ``owner`` (a username; ``LOCAL_OWNER`` = "" for the single local
    user). A chat id of another owner is treated as unknown: it is not listed, does not
    exist, has no messages or title, and cannot be appended to or deleted.

    Args:
        path: the SQLite file (created with its tables if missing; a file made before chats
            had owners gets an ``owner`` column, and its chats belong to ``LOCAL_OWNER``).
    """

    def __init__(self, path: Path) -> None:
        """Open (and create or migrate) the chat database."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS chats (
                    id TEXT PRIMARY KEY, title TEXT NOT NULL,
                    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                    owner TEXT NOT NULL DEFAULT '');
                CREATE TABLE IF NOT EXISTS messages (
                    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
                    error TEXT NOT NULL, query TEXT NOT NULL, relevant INTEGER NOT NULL,
                    dropped INTEGER NOT NULL, citations TEXT NOT NULL,
                    PRIMARY KEY (chat_id, position));
                """
            )
            if not self._has_owner_column(db):
                logger.info("Adding chat owners to %s (existing chats: the local user)", path)
                try:
                    db.execute("ALTER TABLE chats ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
                except sqlite3.OperationalError:
                    if not self._has_owner_column(db):  # else: another process just added it
                        raise
            db.execute("CREATE INDEX IF NOT EXISTS chats_by_owner ON chats (owner, updated_at)")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def _select(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        """Run one SELECT and return all its rows."""
        with self._connect() as db:
            return db.execute(sql, params).fetchall()

    @staticmethod
    def _has_owner_column(db: sqlite3.Connection) -> bool:
        return any(row[1] == "owner" for row in db.execute("PRAGMA table_info(chats)"))

    @staticmethod
    def _owns(db: sqlite3.Connection, chat_id: str, owner: str) -> bool:
        row = db.execute(
            "SELECT 1 FROM chats WHERE id = ? AND owner = ?", (chat_id, owner)
        ).fetchone()
        return row is not None

    def create_chat(self, title: str = "New chat", *, owner: str = LOCAL_OWNER) -> str:
        """Create an empty chat.

        Args:
            title: the title until the first question replaces it.
            owner: the username the chat belongs to ("" = the local user).

        Returns:
            The new chat's id (a UUID4 hex string).
        """
        chat_id = uuid.uuid4().hex
        now = now_iso()
        with self._connect() as db:
            db.execute(
                "INSERT INTO chats (id, title, created_at, updated_at, owner) "
                "VALUES (?, ?, ?, ?, ?)",
                (chat_id, title, now, now, owner),
            )
        return chat_id

    def exists(self, chat_id: str, *, owner: str = LOCAL_OWNER) -> bool:
        """Return True when ``owner`` has a chat with this id (False for another's chat)."""
        with self._connect() as db:
            return self._owns(db, chat_id, owner)

    def append(self, chat_id: str, message: ChatMessage, *, owner: str = LOCAL_OWNER) -> None:
        """Add a message at the end of a chat; the first question becomes the title.

        Args:
            chat_id: the chat's id.
            message: the question or answer to store.
            owner: the username the chat must belong to ("" = the local user).

        Raises:
            KeyError: ``owner`` has no chat with this id (unknown, or another owner's).
        """
        citations = json.dumps([asdict(c) for c in message.citations], ensure_ascii=False)
        with self._connect() as db:
            if not self._owns(db, chat_id, owner):
                raise KeyError(chat_id)
            (position,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE chat_id = ?", (chat_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id, position, message.role, message.content, message.error,
                    message.query, int(message.relevant), message.dropped, citations,
                ),
            )  # fmt: skip
            db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now_iso(), chat_id))
            if position == 0 and message.role == "user":
                title = " ".join(message.content.split())[:TITLE_CHARS] or "New chat"
                db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def messages(self, chat_id: str, *, owner: str = LOCAL_OWNER) -> list[ChatMessage]:
        """Return a chat's messages in order.

        Args:
            chat_id: the chat's id.
            owner: the username the chat must belong to ("" = the local user).

        Returns:
            The messages, oldest first; empty for an unknown chat or another owner's.
        """
        rows = self._select(
            "SELECT m.role, m.content, m.error, m.query, m.relevant, m.dropped, "
            "m.citations FROM messages m JOIN chats c ON c.id = m.chat_id "
            "WHERE m.chat_id = ? AND c.owner = ? ORDER BY m.position",
            (chat_id, owner),
        )
        return [
            ChatMessage(
                role=role, content=content, error=error, query=query,
                relevant=bool(relevant), dropped=dropped,
                citations=[Citation(**c) for c in json.loads(citations)],
            )
            for role, content, error, query, relevant, dropped, citations in rows
        ]  # fmt: skip

    def chats(self, *, owner: str = LOCAL_OWNER, limit: int = 50) -> list[ChatSummary]:
        """Return ``owner``'s chats that have messages, most recently updated first.

        Args:
            owner: whose chats to list ("" = the local user's).
            limit: at most this many chats.

        Returns:
            The chats' summaries; never a chat of another owner.
        """
        rows = self._select(
            "SELECT c.id, c.title, c.updated_at, COUNT(m.position) FROM chats c "
            "JOIN messages m ON m.chat_id = c.id WHERE c.owner = ? GROUP BY c.id "
            "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?",
            (owner, limit),
        )
        return [ChatSummary(*row) for row in rows]

    def title(self, chat_id: str, *, owner: str = LOCAL_OWNER) -> str:
        """Return a chat's title ("" for an unknown chat or another owner's)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT title FROM chats WHERE id = ? AND owner = ?", (chat_id, owner)
            ).fetchone()
        return row[0] if row else ""

    def delete_chat(self, chat_id: str, *, owner: str = LOCAL_OWNER) -> None:
        """Delete a chat and its messages (nothing happens for another owner's chat)."""
        with self._connect() as db:
            db.execute("DELETE FROM chats WHERE id = ? AND owner = ?", (chat_id, owner))


def chat_to_markdown(title: str, messages: Sequence[ChatMessage]) -> str:
    """Render a chat as Markdown: each question, each answer and its numbered sources.

    Args:
        title: the chat's title (first line, as a heading).
        messages: the chat's messages in order.

    Returns:
        Markdown text; every source is listed as ``[n] file, p. N: "passage"``.
    """
    lines = [f"# {title}", ""]
    for message in messages:
        if message.role == "user":
            lines += [f"## Q: {' '.join(message.content.split())}", ""]
            continue
        if message.query:
            lines += [f"_Searched for: {message.query}_", ""]
        lines += [message.content or "_(no answer)_", ""]
        if message.error:
            lines += [f"> {message.error}", ""]
        if message.citations:
            heading = "Sources" if message.relevant else "Closest matches"
            lines += [f"**{heading}**", ""]
            for c in message.citations:
                passage = " ".join(c.text.split())
                lines.append(f'- [{c.number}] {c.source}, {c.page_display}: "{passage}"')
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["LOCAL_OWNER", "ChatHistory", "ChatMessage", "ChatSummary", "chat_to_markdown"]
