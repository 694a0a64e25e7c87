"""Chat history in SQLite and Markdown export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rag_core.chats.export import chat_to_markdown
from rag_core.chats.history import ADDED_COLUMNS, ChatHistory, ChatMessage
from rag_core.generation.citations import Citation
from rag_core.generation.types import AnswerCheck, ClaimCheck, JudgeReport

CITATION = Citation(
    number=1,
    source="lshort.pdf",
    page=15,
    page_label="1",
    text="Knuth started writing\nthe TeX engine in 1977.",
)


def test_chats_survive_reopening(tmp_path: Path):
    path = tmp_path / "chats.sqlite3"
    history = ChatHistory(path)
    chat = history.create_chat()
    history.append(chat, ChatMessage("user", "When did Knuth start TeX?"))
    history.append(
        chat,
        ChatMessage(
            "assistant", "In 1977 [1].", citations=[CITATION], query="Knuth TeX start year"
        ),
    )
    other = history.create_chat()
    history.append(other, ChatMessage("user", "Second chat"))

    reopened = ChatHistory(path)
    messages = reopened.messages(chat)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].citations == [CITATION]
    assert messages[1].query == "Knuth TeX start year"
    listed = reopened.chats()
    assert [c.title for c in listed] == ["Second chat", "When did Knuth start TeX?"]
    assert listed[1].messages == 2
    reopened.delete_chat(other)
    assert [c.id for c in reopened.chats()] == [chat]
    assert reopened.messages(other) == []


def test_empty_chats_are_not_listed(tmp_path: Path):
    history = ChatHistory(tmp_path / "c.sqlite3")
    history.create_chat()
    assert history.chats() == []


def test_markdown_export_lists_numbered_citations():
    text = chat_to_markdown(
        "Knuth",
        [
            ChatMessage("user", "When did Knuth start TeX?"),
            ChatMessage("assistant", "In 1977 [1].", citations=[CITATION]),
        ],
    )
    assert text.startswith("# Knuth\n")
    assert "## Q: When did Knuth start TeX?" in text
    assert "In 1977 [1]." in text
    assert (
        "- [1] lshort.pdf, p. 15 (printed 1):\n\n"
        "  ```\n  Knuth started writing\n  the TeX engine in 1977.\n  ```\n"
    ) in text


def test_export_writes_every_citation_form_as_plain_numbers():
    text = chat_to_markdown(
        "Knuth",
        [
            ChatMessage("user", "When did Knuth start TeX?"),
            ChatMessage(
                "assistant", "In 1977 [^1]. Both say so [1-2], 【1】.", citations=[CITATION]
            ),
        ],
    )
    assert "In 1977 [1]. Both say so [1][2], [1]." in text


def test_each_owner_sees_and_changes_only_their_own_chats(tmp_path: Path):
    history = ChatHistory(tmp_path / "chats.sqlite3")
    alice = history.create_chat(owner="alice")
    history.append(alice, ChatMessage("user", "Alice's question"), owner="alice")
    bob = history.create_chat(owner="bob")
    history.append(bob, ChatMessage("user", "Bob's question"), owner="bob")
    local = history.create_chat()
    history.append(local, ChatMessage("user", "The local user's question"))

    assert [c.id for c in history.chats(owner="alice")] == [alice]
    assert [c.id for c in history.chats(owner="bob")] == [bob]
    assert [c.id for c in history.chats(owner="")] == [local]
    assert [c.id for c in history.chats()] == [local]  # "" is the default owner

    # bob, holding alice's chat id (e.g. pasted into ?chat=), gets nothing of it
    assert history.exists(alice, owner="alice")
    assert not history.exists(alice, owner="bob")
    assert not history.exists(alice)
    assert history.messages(alice, owner="bob") == []
    assert history.messages(alice) == []
    assert history.title(alice, owner="bob") == ""
    with pytest.raises(KeyError):
        history.append(alice, ChatMessage("user", "Bob writes into it"), owner="bob")
    with pytest.raises(KeyError):
        history.append(alice, ChatMessage("user", "The local user writes into it"))
    history.delete_chat(alice, owner="bob")

    [only] = history.messages(alice, owner="alice")
    assert only.content == "Alice's question"
    assert history.title(alice, owner="alice") == "Alice's question"
    history.delete_chat(alice, owner="alice")
    assert history.chats(owner="alice") == []
    assert [c.id for c in history.chats(owner="bob")] == [bob]


OLD_SCHEMA = """
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
"""The tables as the version before chat owners created them."""


def test_a_database_from_before_owners_is_migrated_to_the_local_user(tmp_path: Path):
    path = tmp_path / "chats.sqlite3"
    db = sqlite3.connect(path)
    with db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO chats VALUES (?, ?, ?, ?)",
            ("old1", "When did Knuth start TeX?", "2026-01-01T00:00:00+00:00",
             "2026-01-01T00:00:00+00:00"),
        )  # fmt: skip
        for position, (role, content) in enumerate(
            [("user", "When did Knuth start TeX?"), ("assistant", "In 1977 [1].")]
        ):
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ("old1", position, role, content, "", "", 1, 0, "[]"),
            )
    db.close()

    history = ChatHistory(path)
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(chats)")}
    assert "owner" in columns
    [old] = history.chats(owner="")
    assert (old.id, old.title, old.messages) == ("old1", "When did Knuth start TeX?", 2)
    assert [m.content for m in history.messages("old1", owner="")] == [
        "When did Knuth start TeX?",
        "In 1977 [1].",
    ]
    assert history.chats(owner="alice") == []
    assert not history.exists("old1", owner="alice")
    message_columns = {
        row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(messages)")
    }
    assert set(ADDED_COLUMNS) <= message_columns
    old_answer = history.messages("old1", owner="")[1]
    assert (old_answer.thinking, old_answer.check, old_answer.retry_language) == ("", None, "")
    assert old_answer.cited == [] and old_answer.notices() == []

    # the migrated file keeps working, and opening it again does not migrate twice
    history.append("old1", ChatMessage("user", "And LaTeX?"))
    new = history.create_chat(owner="alice")
    history.append(new, ChatMessage("user", "Alice's question"), owner="alice")
    again = ChatHistory(path)
    assert [c.id for c in again.chats(owner="alice")] == [new]
    assert [c.messages for c in again.chats(owner="")] == [3]


SECOND = Citation(
    number=2,
    source="[evil](http://x.test/a).pdf",
    page=3,
    page_label="![i](http://x.test/i.png)",
    text="# Heading\n<img src=http://x.test/p.png> and **bold** text.",
)
CHECK = AnswerCheck(
    cited=[1],
    invalid_citations=[9],
    claims=[
        ClaimCheck("In 1977 [1].", [1], True, 1, [(0, 21)], lexical=False, judge=True),
        ClaimCheck("He wrote *LaTeX* [1].", [1], False, 1, [], lexical=False),
        ClaimCheck("See [9].", [9], None, 0, []),
    ],
    answer_language="en",
    language_match=True,
    truncated=True,
    judge=JudgeReport("qwen3:8b", asked=2, judged=1, overturned=1, unparsed=1),
)
ANSWER = ChatMessage(
    "assistant",
    "In 1977 [1]. He wrote *LaTeX* [1]. See [9].",
    citations=[CITATION, SECOND],
    query="Knuth [TeX](http://x.test)",
    thinking="<think>secret plan [2]</think>",
    check=CHECK,
    retry_language="ko",
    num_predict=64,
)


def test_thinking_and_check_survive_reopening(tmp_path: Path):
    path = tmp_path / "chats.sqlite3"
    chat = ChatHistory(path).create_chat()
    ChatHistory(path).append(chat, ChatMessage("user", "When?"))
    ChatHistory(path).append(chat, ANSWER)
    [question, answer] = ChatHistory(path).messages(chat)
    assert question.check is None and question.thinking == ""
    assert answer == ANSWER  # the check, its claims and spans, the thinking, the retry
    assert answer.check.claims[0].spans == [(0, 21)]
    assert [n.code for n in answer.notices()] == [
        "truncated",
        "invalid_citations",
        "unsupported",
        "judge_unparsed",
    ]
    assert "secret plan" not in answer.content


def test_export_carries_the_marks_and_splits_cited_from_also_retrieved():
    text = chat_to_markdown("Knuth", [ChatMessage("user", "When?"), ANSWER])
    assert "secret plan" not in text  # the reasoning is never exported
    assert "> Asked again for an answer in Korean." in text
    assert "RAG_NUM_PREDICT (now 64 tokens)" in text
    assert "The answer cites [9], which are not among the sources shown." in text
    assert "1 cited statement(s) are not supported" in text
    assert "> Not supported by [1]: `He wrote *LaTeX* [1].`" in text  # shown literally
    assert "The judge model qwen3:8b answered neither yes nor no for 1 cited" in text
    cited, also = text.index("**Cited**"), text.index("**Also retrieved**")
    assert cited < text.index("- [1] lshort.pdf, p. 15 (printed 1)") < also
    assert also < text.index("- [2] ")
