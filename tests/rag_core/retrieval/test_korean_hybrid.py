"""Korean-aware keyword search, language-aware fusion, "not in the documents", follow-up
rewriting, the context budget and the optional reranker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.generation.chain import ChainOptions, build_rag_chain
from rag_core.generation.prompts import NOT_FOUND_ANSWERS
from rag_core.generation.respond import answer_question
from rag_core.generation.types import ChatTurn
from rag_core.knowledge_base import KnowledgeBase
from rag_core.language import embedding_covers, question_language
from rag_core.llm.ollama import build_chat_model
from rag_core.retrieval.fusion import reciprocal_rank_fusion
from rag_core.retrieval.relevance import keyword_coverage
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer, default_responder


def test_bm25_finds_a_word_that_only_appears_with_a_particle(empty_kb: KnowledgeBase):
    empty_kb.ingest_bytes(
        "team.txt", "우리는 새로운 검색팀을 만들었다. 회의는 월요일이다.".encode()
    )
    empty_kb.ingest_bytes("other.txt", "오늘 날씨가 맑고 바람이 분다.".encode())
    docs = empty_kb.retriever(mode="bm25", k=2).invoke("검색팀")
    assert docs and docs[0].metadata["source"] == "team.txt"
    assert docs[0].metadata["bm25"] > 0


def test_weighted_rrf_can_leave_a_ranking_out():
    fused = reciprocal_rank_fusion([["a", "b"], ["c", "a"]], k=60, weights=[0.0, 1.0])
    assert [i for i, _ in fused] == ["c", "a"]
    assert dict(fused)["a"] == pytest.approx(1 / 62)


def test_language_coverage_of_the_embedding_model():
    assert question_language("한국어 윈도우에서 인코딩은?") == "ko"
    assert question_language("What is LaTeX?") == "en"
    assert embedding_covers("What is LaTeX?", "en")
    assert not embedding_covers("kotex 패키지의 옵션은 무엇인가요?", "en")
    assert embedding_covers("kotex 패키지의 옵션은 무엇인가요?", "multilingual")
    assert keyword_coverage(["how", "tex", "instal"], ["instal", "tex", "linux"]) == 1.0
    assert keyword_coverage(["what", "capit", "franc"], ["capit"]) == 0.5


def test_korean_hybrid_ranks_by_keywords_when_the_model_is_english_only(
    corpus_kb: KnowledgeBase,
):
    question = (
        "xeCJK 패키지로 한글을 조판할 때 띄어쓰기가 제대로 나오게 하려면 어떤 설정이 필요한가요?"
    )
    hybrid = corpus_kb.retriever(mode="hybrid", k=5).invoke(question)
    bm25 = corpus_kb.retriever(mode="bm25", k=5).invoke(question)
    assert [d.id for d in hybrid] == [d.id for d in bm25]
    assert all(d.metadata["embedding_covered"] is False for d in hybrid)
    english = corpus_kb.retriever(mode="hybrid", k=5).invoke("How do I install LaTeX on Linux?")
    assert any("similarity" in d.metadata and d.metadata["embedding_covered"] for d in english)


def _chain(kb: KnowledgeBase, server: FakeOllamaServer, **options: Any):
    settings = settings_for(Path(kb.settings.data_dir), ollama_host=server.url)
    return build_rag_chain(kb.retriever(k=4), build_chat_model(settings), ChainOptions(**options))


@pytest.mark.parametrize(
    ("question", "language"),
    [("How do I bake sourdough bread at home?", "en"), ("비트코인 가격은 왜 오르나요?", "ko")],
)
def test_out_of_scope_question_gets_not_in_the_documents(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, question: str, language: str
):
    result = answer_question(_chain(corpus_kb, fake_ollama), question)
    assert result.relevant is False
    assert result.answer == NOT_FOUND_ANSWERS[language]
    assert len(result.citations) == 4  # the closest matches are still shown
    # the mixed store is searched in translation too, but no answer is asked of the model
    assert [r["kind"] for r in fake_ollama.replies] == ["translate"]


def test_in_scope_korean_question_passes_the_gate_and_reaches_the_model(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    """Plumbing only: the test server echoes passage [1]; no answer quality is checked."""
    result = answer_question(
        _chain(corpus_kb, fake_ollama), "한국어 윈도우에서 .tex 파일은 어떤 인코딩으로 저장하나요?"
    )
    assert result.relevant is True and "[1]" in result.answer


def test_follow_up_is_rewritten_with_the_history(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    standalone = "When was the TeX typesetting engine released?"

    def responder(body: dict[str, Any]) -> str:
        if "standalone question" in body["messages"][0]["content"]:
            return f'Standalone question: "{standalone}"'
        return default_responder(body)

    fake_ollama.responder = responder
    history = [ChatTurn("Who wrote TeX?", "Donald Knuth wrote TeX [1].")]
    result = answer_question(
        _chain(corpus_kb, fake_ollama), "And when was it released?", history=history
    )
    rewrite, answer = fake_ollama.answer_requests
    assert [m["content"] for m in rewrite["messages"][1:]] == [
        "Who wrote TeX?",
        "Donald Knuth wrote TeX [1].",
        "And when was it released?",
    ]
    assert result.query == standalone
    assert ("lshort.pdf", 15) in [(c.source, c.page) for c in result.citations]
    assert answer["messages"][-1]["content"] == "And when was it released?"


def test_rewrite_can_be_turned_off(corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer):
    history = [ChatTurn("Who wrote TeX?", "Knuth [1].")]
    result = answer_question(
        _chain(corpus_kb, fake_ollama, rewrite_followups=False),
        "When was TeX released?",
        history=history,
    )
    assert len(fake_ollama.answer_requests) == 1 and result.query == "When was TeX released?"


def test_context_budget_drops_passages_instead_of_overflowing(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    result = answer_question(
        _chain(corpus_kb, fake_ollama, num_ctx=1024, num_predict=256),
        "When did Knuth start writing TeX?",
    )
    assert 1 <= len(result.citations) < 4 and result.dropped == 4 - len(result.citations)
    system = fake_ollama.chat_requests[-1]["messages"][0]["content"]
    assert f"[{len(result.citations)}] " in system
    assert f"[{len(result.citations) + 1}] " not in system
    assert len(system.encode()) / 3 <= 1024 - 256


def test_reranker_reorders_candidates(corpus_kb: KnowledgeBase, embeddings: Embeddings):
    class LengthReranker:
        """A stand-in with CrossEncoder's predict(pairs) API: longer passages first."""

        def predict(self, pairs):
            return [float(len(passage)) for _, passage in pairs]

    plain = corpus_kb.retriever(mode="hybrid", k=5)
    reranked = plain.model_copy(update={"reranker": LengthReranker(), "rerank_candidates": 10})
    docs = reranked.invoke("How do I install LaTeX on Linux?")
    lengths = [len(d.page_content) for d in docs]
    assert lengths == sorted(lengths, reverse=True) and len(docs) == 5
    candidates = plain.retrieve("How do I install LaTeX on Linux?", k=10)
    assert {d.id for d in docs} <= {d.id for d in candidates}
    assert docs[0].metadata["score"] == docs[0].metadata["rerank"]


def test_unavailable_reranker_is_skipped(monkeypatch: pytest.MonkeyPatch):
    from rag_core.retrieval.reranker import build_reranker

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert build_reranker("") is None
    assert build_reranker("no-such-org/no-such-cross-encoder") is None
