"""The engine: one entry point per use case; typed answer events and their one fold."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.chats.history import ChatMessage
from rag_core.engine import AskOptions, Engine
from rag_core.errors import CollectionNotFoundError
from rag_core.generation.types import (
    AnswerDelta,
    AnswerFold,
    AnswerRetracted,
    Checked,
    Failed,
    Searched,
    Sources,
    ThinkingDelta,
)
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer

QUESTION = "How do I make a table of contents in LaTeX?"


@pytest.fixture
def engine(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer) -> Engine:
    settings = settings_for(Path(corpus_kb.settings.data_dir), ollama_host=fake_ollama.url)
    return Engine(settings, corpus_kb.embeddings)


def test_ask_streams_typed_events_that_fold_into_the_answer(engine: Engine):
    events = list(engine.ask(QUESTION, options=AskOptions(k=3)))
    assert [type(e) for e in events[:2]] == [Searched, Sources]
    assert isinstance(events[-1], Checked)
    assert {type(e) for e in events[2:-1]} == {AnswerDelta}
    sources = events[1]
    assert [c.number for c in sources.citations] == [1, 2, 3]
    fold = AnswerFold(QUESTION)
    for event in events:
        fold.add(event)
    answer = fold.result()
    assert answer.answer == "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert "[1]" in answer.answer and answer.check.cited == [1]
    assert answer.citations == list(sources.citations) and answer.ttft_s is not None
    message = ChatMessage.from_answer(answer, num_predict=768)
    assert message.role == "assistant" and message.content == answer.answer
    assert message.check is answer.check and message.query == ""  # not rewritten


def test_answer_is_the_fold_of_ask(engine: Engine, fake_ollama: FakeOllamaServer):
    seen: list[object] = []
    answer = engine.answer(QUESTION, options=AskOptions(k=2), on_event=seen.append)
    assert isinstance(seen[0], Searched) and isinstance(seen[-1], Checked)
    assert len(answer.citations) == 2 and answer.check.cited == [1]
    assert not answer.error and answer.relevant


def test_reasoning_never_reaches_the_answer_text(engine: Engine, fake_ollama: FakeOllamaServer):
    fake_ollama.mode = "think-lone-close"
    events = list(engine.ask(QUESTION, options=AskOptions(k=3)))
    assert any(isinstance(e, AnswerRetracted) for e in events)
    answer = engine.answer(QUESTION, options=AskOptions(k=3))
    assert "</think>" not in answer.answer and answer.thinking.startswith("Okay, the user")
    assert any(isinstance(e, ThinkingDelta) for e in events)


def test_a_model_that_is_down_fails_after_the_sources(corpus_kb: KnowledgeBase):
    settings = settings_for(Path(corpus_kb.settings.data_dir), ollama_host="http://127.0.0.1:9")
    engine = Engine(settings, corpus_kb.embeddings)
    events = list(engine.ask(QUESTION, options=AskOptions(k=2)))
    assert isinstance(events[1], Sources) and len(events[1].citations) == 2
    assert isinstance(events[-1], Failed) and events[-1].code == "unreachable"
    answer = engine.answer(QUESTION, options=AskOptions(k=2))
    assert answer.error_code == "unreachable" and "ollama serve" in answer.error
    assert ChatMessage.from_answer(answer).check is None


def test_search_finds_passages_with_page_and_section(engine: Engine):
    hits = engine.search("table of contents", k=4)
    assert [c.number for c in hits.citations] == [1, 2, 3, 4]
    assert hits.queries[0] == "table of contents" and hits.relevant
    assert all(c.source and c.page >= 1 for c in hits.citations)
    assert any(c.section for c in hits.citations)


def test_reading_a_missing_collection_is_not_found_and_creates_nothing(engine: Engine):
    with pytest.raises(CollectionNotFoundError):
        engine.documents("no-such-collection")
    with pytest.raises(CollectionNotFoundError):
        engine.ask(QUESTION, "no-such-collection")
    with pytest.raises(CollectionNotFoundError):
        engine.search(QUESTION, "no-such-collection")
    assert "no-such-collection" not in engine.collections()


def test_ingest_search_and_delete_in_another_collection(
    tmp_path: Path, embeddings: Embeddings, fake_ollama: FakeOllamaServer
):
    engine = Engine(settings_for(tmp_path, ollama_host=fake_ollama.url), embeddings)
    result = engine.ingest("empty.pdf", b"", "notes")
    assert result.status == "failed"  # an empty file: a clear error, nothing stored
    text = "Walruses haul out on sea ice and rest there between dives. " * 20
    result = engine.ingest("walrus.txt", text.encode(), "notes")
    assert result.status == "indexed"
    assert engine.collections()["notes"] > 0
    [record] = engine.documents("notes")
    hits = engine.search("where do walruses rest", "notes", k=2, translate=False)
    assert hits.citations and hits.citations[0].source == "walrus.txt"
    both = engine.search("walruses", "notes", also=("documents",), k=2, translate=False)
    assert both.citations[0].source == "walrus.txt"
    assert engine.delete_document(record.sha256, "notes") == [record]
    assert engine.documents("notes") == []
