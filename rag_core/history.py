"""Chat history kept in a local SQLite file next to the store, and Markdown export.

Chats survive a browser refresh and an app restart. One row per chat, one row per message;
an answer's citations are stored with it as JSON, so a past answer shows the same sources
it was given.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rag_core.citations import Citation

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ChatHistory:
    """The chats of one data directory, in SQLite (``chats.sqlite3``).

    Args:
        path: the SQLite file (created with its tables if missing).
    """

    def __init__(self, path: Path) -> None:
        """Open (and create) the chat database."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS chats (
                    id TEXT PRIMARY KEY, title TEXT NOT NULL,
                    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS messages (
                    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
                    error TEXT NOT NULL, query TEXT NOT NULL, relevant INTEGER NOT NULL,
                    dropped INTEGER NOT NULL, citations TEXT NOT NULL,
                    PRIMARY KEY (chat_id, position));
                """
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def create_chat(self, title: str = "New chat") -> str:
        """Create an empty chat and return its id."""
        chat_id = uuid.uuid4().hex
        now = _now()
        with self._connect() as db:
            db.execute("INSERT INTO chats VALUES (?, ?, ?, ?)", (chat_id, title, now, now))
        return chat_id

    def exists(self, chat_id: str) -> bool:
        """Return True when a chat with this id exists."""
        with self._connect() as db:
            row = db.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return row is not None

    def append(self, chat_id: str, message: ChatMessage) -> None:
        """Add a message at the end of a chat; the first question becomes the title.

        Raises:
            KeyError: no chat with this id.
        """
        citations = json.dumps([asdict(c) for c in message.citations], ensure_ascii=False)
        with self._connect() as db:
            if db.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone() is None:
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
            db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (_now(), chat_id))
            if position == 0 and message.role == "user":
                title = " ".join(message.content.split())[:TITLE_CHARS] or "New chat"
                db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def messages(self, chat_id: str) -> list[ChatMessage]:
        """Return a chat's messages in order (empty for an unknown chat)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT role, content, error, query, relevant, dropped, citations "
                "FROM messages WHERE chat_id = ? ORDER BY position",
                (chat_id,),
            ).fetchall()
        return [
            ChatMessage(
                role=role, content=content, error=error, query=query,
                relevant=bool(relevant), dropped=dropped,
                citations=[Citation(**c) for c in json.loads(citations)],
            )
            for role, content, error, query, relevant, dropped, citations in rows
        ]  # fmt: skip

    def chats(self, limit: int = 50) -> list[ChatSummary]:
        """Return the chats that have messages, most recently updated first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.updated_at, COUNT(m.position) FROM chats c "
                "JOIN messages m ON m.chat_id = c.id GROUP BY c.id "
                "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [ChatSummary(*row) for row in rows]

    def title(self, chat_id: str) -> str:
        """Return a chat's title ("" for an unknown chat)."""
        with self._connect() as db:
            row = db.execute("SELECT title FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return row[0] if row else ""

    def delete_chat(self, chat_id: str) -> None:
        """Delete a chat and its messages."""
        with self._connect() as db:
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))


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


__all__ = ["ChatHistory", "ChatMessage", "ChatSummary", "chat_to_markdown"]
