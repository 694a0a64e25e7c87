"""The answer chain with the real langchain-ollama client against a fake Ollama server."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_core.generation.chain import build_rag_chain
from rag_core.generation.citations import cited_numbers
from rag_core.generation.respond import answer_question, stream_rag_answer
from rag_core.generation.types import AnswerDelta, ChatTurn, Checked, Searched, Sources
from rag_core.knowledge_base import KnowledgeBase
from rag_core.llm.ollama import build_chat_model, check_ollama
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer, closed_port_url

QUESTION = "When did Knuth start writing TeX?"


def _chain(kb: KnowledgeBase, host: str, model: str = "llama3.2"):
    settings = settings_for(Path(kb.settings.data_dir), ollama_host=host, ollama_model=model)
    llm = build_chat_model(settings)
    return build_rag_chain(kb.retriever(k=4), llm), settings


def test_status_reports_version_and_models(fake_ollama: FakeOllamaServer):
    fake_ollama.models = ["llama3.2:latest", "qwen2.5:7b"]
    status = check_ollama(fake_ollama.url)
    assert status.reachable and status.version == "0.12.0"
    assert status.models == ["llama3.2:latest", "qwen2.5:7b"]
    assert status.has_model("llama3.2") and not status.has_model("mistral")


def test_status_of_a_dead_host_says_what_to_do():
    host = closed_port_url()
    status = check_ollama(host)
    assert not status.reachable
    assert "ollama serve" in status.error and host in status.error


def test_answer_streams_after_the_sources(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer):
    """Plumbing: event order, context and options; the answer is the server's echo of [1]."""
    fake_ollama.token_delay = 0.001
    chain, settings = _chain(corpus_kb, fake_ollama.url)
    events = list(stream_rag_answer(chain, QUESTION, host=settings.ollama_host))
    kinds = [type(event) for event in events]
    assert kinds[:2] == [Searched, Sources]
    assert set(kinds[2:-1]) == {AnswerDelta} and len(kinds) > 6 and kinds[-1] == Checked
    searched, sources = events[0], events[1]
    assert searched.query == QUESTION  # no history: no rewrite
    # both languages are in the store: searched in Korean too, but the test server echoes
    # the question (no translation), so it is searched as asked over every document
    assert searched.queries == (QUESTION,)
    assert sources.relevant is True and sources.dropped == 0
    citations = sources.citations
    assert [c.number for c in citations] == [1, 2, 3, 4]
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert cited_numbers(answer) == [1]
    assert citations[0].text.split()[0] in answer
    request = fake_ollama.chat_requests[-1]
    assert request["options"]["num_ctx"] == settings.num_ctx
    system = request["messages"][0]["content"]
    assert f"[1] ({citations[0].source}, {citations[0].page_display})" in system
    assert request["messages"][-1]["content"] == QUESTION


def test_history_is_sent_with_a_follow_up(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer):
    chain, _ = _chain(corpus_kb, fake_ollama.url)
    answer_question(
        chain, "And when was it released?", history=[ChatTurn(QUESTION, "In 1977 [1].")]
    )
    roles = [(m["role"], m["content"]) for m in fake_ollama.chat_requests[-1]["messages"]]
    assert roles[1:] == [
        ("user", QUESTION),
        ("assistant", "In 1977 [1]."),
        ("user", "And when was it released?"),
    ]


def test_unreachable_ollama_keeps_the_sources(corpus_kb: KnowledgeBase):
    host = closed_port_url()
    chain, _ = _chain(corpus_kb, host)
    result = answer_question(chain, QUESTION, host=host, model="llama3.2")
    assert result.answer == ""
    assert len(result.citations) == 4
    assert "ollama serve" in result.error and host in result.error


def test_missing_model_says_ollama_pull(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer):
    chain, _ = _chain(corpus_kb, fake_ollama.url, model="mistral")
    result = answer_question(chain, QUESTION, host=fake_ollama.url, model="mistral")
    assert "ollama pull mistral" in result.error
    assert result.citations


@pytest.mark.parametrize("status", [503])
def test_busy_server_is_reported(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, status):
    fake_ollama.status_override = status
    chain, _ = _chain(corpus_kb, fake_ollama.url)
    result = answer_question(chain, QUESTION, host=fake_ollama.url, model="llama3.2")
    assert "busy" in result.error and result.citations


def test_timeout_is_reported(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer):
    fake_ollama.hang = True
    settings = settings_for(
        Path(corpus_kb.settings.data_dir), ollama_host=fake_ollama.url, ollama_timeout=1.0
    )
    chain = build_rag_chain(corpus_kb.retriever(k=2), build_chat_model(settings))
    result = answer_question(chain, QUESTION, host=fake_ollama.url, model="llama3.2")
    assert "did not answer in time" in result.error and len(result.citations) == 2
