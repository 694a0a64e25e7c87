"""Chat history kept in a local SQLite file next to the store (export: rag_core.chats.export).

Chats survive a browser refresh and an app restart. One row per chat, one row per message;
an answer's citations, its reasoning and its check (cited numbers, claims, language,
truncation: :class:`~rag_core.generation.respond.AnswerCheck`) are stored with it as JSON,
so a past answer shows the same sources, thinking and notices without recomputing them.
Every chat has an owner, the signed-in username ("" for the single local user when
sign-in is off); every read and write names the owner, and a chat of another owner
behaves as if it did not exist.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rag_core.generation.citations import Citation, cited_numbers
from rag_core.generation.claims import canonical_citations
from rag_core.generation.report import Notice, answer_notices
from rag_core.generation.types import AnswerCheck, ClaimCheck, JudgeReport, RagAnswer
from rag_core.index.registry import now_iso
from rag_core.language import question_language

logger = logging.getLogger(__name__)

LOCAL_OWNER = ""
"""The owner of every chat when sign-in is off (and of chats made before owners existed)."""
TITLE_CHARS = 60
"""A chat's title is the start of its first question, at most this many characters."""
ADDED_COLUMNS = {
    "thinking": "TEXT NOT NULL DEFAULT ''",
    "answer_check": "TEXT NOT NULL DEFAULT ''",
    "retry_language": "TEXT NOT NULL DEFAULT ''",
    "num_predict": "INTEGER NOT NULL DEFAULT 0",
    "search": "TEXT NOT NULL DEFAULT ''",
}
"""Message columns added after the first release (a migration adds them to old files).
``answer_check`` holds :meth:`AnswerCheck.to_dict` as JSON ("" when there is no check);
``search`` holds ``{"queries": [...], "notices": [[code, params], ...]}`` as JSON."""
_MESSAGE_COLUMNS = (
    "chat_id, position, role, content, error, query, relevant, dropped, citations, "
    "thinking, answer_check, retry_language, num_predict, search"
)


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
        thinking: the model's reasoning, shown apart ("" when none); never part of
            ``content``, so never sent back to the model as history.
        check: what was checked on the answer (None for questions, for answers stored
            before checks existed, and when the model did not answer).
        retry_language: the language code ("ko", "en") the answer was asked for again in,
            after a first answer in another language ("" when there was no retry).
        num_predict: the ``num_predict`` setting when the answer was generated (named by
            the truncation notice; 0 when unknown).
        queries: the queries searched: the query, then its translations when the
            question's language was missing from the documents (empty when not recorded).
        search_notices: ``(code, params)`` of what the search could not do (e.g.
            "translation_unavailable"; texts in :data:`rag_core.generation.report.NOTICE_TEXTS`).
    """

    role: str
    content: str
    citations: list[Citation] = field(default_factory=list)
    error: str = ""
    query: str = ""
    relevant: bool = True
    dropped: int = 0
    thinking: str = ""
    check: AnswerCheck | None = None
    retry_language: str = ""
    num_predict: int = 0
    queries: list[str] = field(default_factory=list)
    search_notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def from_answer(cls, answer: RagAnswer, *, num_predict: int = 0) -> ChatMessage:
        """The assistant message of a folded answer (see :class:`AnswerFold`).

        Citation forms are made canonical (``[^3]``, ``[1-2]`` -> ``[3]``, ``[1][2]``);
        ``query`` is kept only when it differs from the question (a rewritten follow-up).

        Args:
            answer: the answer.
            num_predict: the ``num_predict`` setting it was generated with.
        """
        query = answer.query if answer.query.strip() != answer.question.strip() else ""
        return cls(
            role="assistant",
            content=canonical_citations(answer.answer),
            citations=list(answer.citations),
            error=answer.error,
            query=query,
            relevant=answer.relevant,
            dropped=answer.dropped,
            thinking=answer.thinking,
            check=answer.check if answer.relevant and not answer.error else None,
            retry_language=question_language(answer.question) if answer.retried else "",
            num_predict=num_predict,
            queries=list(answer.queries),
            search_notices=list(answer.search_notices),
        )

    @property
    def cited(self) -> list[int]:
        """The valid source numbers the answer cites (parsed again for old answers)."""
        if self.check is not None:
            return list(self.check.cited)
        numbers = {c.number for c in self.citations}
        return [n for n in cited_numbers(self.content) if n in numbers]

    def notices(self) -> list[Notice]:
        """The notices of the answer (:func:`~rag_core.generation.report.answer_notices`)."""
        if self.role != "assistant" or self.check is None:
            return []
        return answer_notices(
            self.check, answer=self.content, relevant=self.relevant, num_predict=self.num_predict
        )


def check_from_dict(data: Mapping[str, Any]) -> AnswerCheck:
    """Rebuild an :class:`AnswerCheck` from :meth:`AnswerCheck.to_dict` (e.g. read as JSON).

    Args:
        data: the dict; unknown keys are ignored, missing ones take their defaults.

    Returns:
        The check, claims and their ``(start, end)`` spans, lexical and judge verdicts
        and the judge's report included.
    """
    claims = [
        ClaimCheck(
            text=str(c.get("text", "")),
            citations=[int(n) for n in c.get("citations", [])],
            supported=c.get("supported"),
            source=int(c.get("source", 0)),
            spans=[(int(a), int(b)) for a, b in c.get("spans", [])],
            lexical=c.get("lexical"),
            judge=c.get("judge"),
        )
        for c in data.get("claims", [])
    ]
    return AnswerCheck(
        cited=[int(n) for n in data.get("cited", [])],
        invalid_citations=[int(n) for n in data.get("invalid_citations", [])],
        claims=claims,
        answer_language=str(data.get("answer_language", "")),
        language_match=bool(data.get("language_match", True)),
        truncated=bool(data.get("truncated", False)),
        judge=_judge_report(data.get("judge")),
    )


def _judge_report(data: Mapping[str, Any] | None) -> JudgeReport | None:
    if not data:
        return None
    known = {f.name for f in fields(JudgeReport)}
    return JudgeReport(**{k: v for k, v in data.items() if k in known})


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
            had owners gets an ``owner`` column, and its chats belong to ``LOCAL_OWNER``; one
            made before answers were checked gets the columns of :data:`ADDED_COLUMNS`, and
            its answers have no thinking and no check).
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
                    thinking TEXT NOT NULL DEFAULT '', answer_check TEXT NOT NULL DEFAULT '',
                    retry_language TEXT NOT NULL DEFAULT '',
                    num_predict INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (chat_id, position));
                """
            )
            self._add_message_columns(db)
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
    def _add_message_columns(db: sqlite3.Connection) -> None:
        """Add the :data:`ADDED_COLUMNS` a file made by an older version lacks."""
        for name, declaration in ADDED_COLUMNS.items():
            have = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
            if name in have:
                continue
            logger.info("Adding the %s column to the messages of %s", name, db)
            try:
                db.execute(f"ALTER TABLE messages ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError:
                have = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
                if name not in have:  # else: another process just added it
                    raise

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
        check = "" if message.check is None else json.dumps(message.check.to_dict())
        search = ""
        if message.queries or message.search_notices:
            notices = [list(n) for n in message.search_notices]
            search = json.dumps({"queries": message.queries, "notices": notices})
        with self._connect() as db:
            if not self._owns(db, chat_id, owner):
                raise KeyError(chat_id)
            (position,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE chat_id = ?", (chat_id,)
            ).fetchone()
            db.execute(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id, position, message.role, message.content, message.error,
                    message.query, int(message.relevant), message.dropped, citations,
                    message.thinking, check, message.retry_language, message.num_predict,
                    search,
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
            "m.citations, m.thinking, m.answer_check, m.retry_language, m.num_predict, m.search "
            "FROM messages m JOIN chats c ON c.id = m.chat_id "
            "WHERE m.chat_id = ? AND c.owner = ? ORDER BY m.position",
            (chat_id, owner),
        )
        return [
            ChatMessage(
                role=role, content=content, error=error, query=query,
                relevant=bool(relevant), dropped=dropped,
                citations=[Citation(**c) for c in json.loads(citations)],
                thinking=thinking,
                check=check_from_dict(json.loads(check)) if check else None,
                retry_language=retry_language, num_predict=num_predict,
                queries=list(json.loads(search).get("queries", [])) if search else [],
                search_notices=[
                    (str(code), dict(params))
                    for code, params in (json.loads(search).get("notices", []) if search else [])
                ],
            )
            for (role, content, error, query, relevant, dropped, citations, thinking, check,
                 retry_language, num_predict, search) in rows
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

    def rename_chat(self, chat_id: str, title: str, *, owner: str = LOCAL_OWNER) -> bool:
        """Give a chat another title (plain text, shown escaped; blank keeps the old one).

        Args:
            chat_id: the chat's id.
            title: the new title, whitespace collapsed and cut to 200 characters.
            owner: the username the chat must belong to.

        Returns:
            True when a chat of ``owner`` was renamed.
        """
        title = " ".join(title.split())[:200]
        if not title:
            return False
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE chats SET title = ? WHERE id = ? AND owner = ?", (title, chat_id, owner)
            )
            return cursor.rowcount > 0

    def delete_chat(self, chat_id: str, *, owner: str = LOCAL_OWNER) -> None:
        """Delete a chat and its messages (nothing happens for another owner's chat)."""
        with self._connect() as db:
            db.execute("DELETE FROM chats WHERE id = ? AND owner = ?", (chat_id, owner))


__all__ = [
    "ADDED_COLUMNS",
    "LOCAL_OWNER",
    "ChatHistory",
    "ChatMessage",
    "ChatSummary",
    "check_from_dict",
]
