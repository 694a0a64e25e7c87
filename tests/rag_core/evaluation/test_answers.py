"""The answer-quality metrics tell an honest citer from a wrong one (test server modes;
plumbing only: no model writes these answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_core.evaluation.answers import run_answers
from rag_core.evaluation.retrieval import load_qa
from rag_core.generation.chain import ChainOptions, build_rag_chain
from rag_core.generation.respond import answer_question
from rag_core.knowledge_base import KnowledgeBase
from rag_core.llm.ollama import build_chat_model
from tests.conftest import QA_DEV, settings_for
from tests.ollama_server import FakeOllamaServer


def _summary(kb: KnowledgeBase, mode: str) -> dict:
    items = load_qa(QA_DEV)
    sample = [i for i in items if i.pages][::5] + [i for i in items if not i.pages][::3]
    with FakeOllamaServer(mode=mode, token_delay=0.0) as server:
        settings = settings_for(Path(kb.settings.data_dir), ollama_host=server.url)
        chain = build_rag_chain(
            kb.retriever(k=5), build_chat_model(settings), ChainOptions.from_settings(settings)
        )
        _, summary = run_answers(sample, lambda q: answer_question(chain, q))
    assert summary["questions"] == len(sample) and summary["errors"] == 0
    return summary


@pytest.fixture(scope="module")
def honest(corpus_kb: KnowledgeBase) -> dict:
    return _summary(corpus_kb, "honest")


def test_honest_citations_are_judged_supported(honest: dict):
    assert honest["citation_support"] >= 0.8
    assert honest["citation_coverage"] >= 0.8 and honest["invalid_citation_rate"] == 0.0
    assert honest["abstention_recall"] == 1.0  # the gate refuses the off-topic questions
    assert honest["ttft_ms_p50"] > 0


def test_wrong_citations_are_judged_unsupported(corpus_kb: KnowledgeBase, honest: dict):
    wrong = _summary(corpus_kb, "wrong-citation")
    assert wrong["citation_support"] <= 0.3
    assert wrong["citation_coverage"] == pytest.approx(honest["citation_coverage"], abs=0.2)


def test_numbers_beyond_the_sources_are_counted(corpus_kb: KnowledgeBase):
    summary = _summary(corpus_kb, "out-of-range")
    assert 0.3 <= summary["invalid_citation_rate"] <= 0.6  # [1] and [9] in every answer
