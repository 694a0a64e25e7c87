"""Chat history in SQLite and Markdown export."""

from __future__ import annotations

from pathlib import Path

from rag_core.citations import Citation
from rag_core.history import ChatHistory, ChatMessage, chat_to_markdown

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
        '- [1] lshort.pdf, p. 15 (printed 1): "Knuth started writing the TeX engine in 1977."'
        in text
    )
