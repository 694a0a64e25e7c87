"""The hard development set as the retrieval test floor (issue 18).

The 14 documents of ``tests/data/hard`` (plus lshort, lshort-ko and gnuplot) in ONE real
Chroma store, ingested once per run, searched through the app's search path with the test
Ollama server translating from the set's own ``translation`` fields (plumbing: a model
that translates correctly, not a model's quality). Floors sit a few questions below what
``benchmarks/hard_set.py`` measured, so a real regression fails and noise does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from langchain_core.embeddings import Embeddings
from pypdf import PdfReader

from rag_core.evaluation.retrieval import evaluate_modes, load_qa
from rag_core.knowledge_base import KnowledgeBase
from rag_core.language import question_language
from rag_core.retrieval.translation import clean_translation
from tests.hard_set import HARD_DOCUMENTS, QA_HARD, build_hard_kb, translation_table
from tests.ollama_server import FakeOllamaServer

ROWS = [json.loads(line) for line in QA_HARD.read_text(encoding="utf-8").splitlines() if line]

RECALL_FLOOR = 0.67
"""Hybrid recall@5 of the 193 answerable questions: 0.71 when set (docs/retrieval.md);
0.47 at the start of issue 18. Eight questions below it fail."""
SAME_LANGUAGE_FLOOR = 0.64
"""Hybrid recall@5 of the 125 questions asked in their document's language: 0.69 when set."""
CROSSLINGUAL_FLOOR = 0.68
"""Hybrid recall@5 of the 68 questions asked in the other language, in the mixed store:
0.75 when set (0.09 at the start of issue 18, when a mixed store never translated)."""
MAX_REFUSED = 2
"""Answerable questions the "not in the documents" gate may refuse (target: at most 1%)."""


def test_the_set_is_as_hard_as_issue_18_asks():
    answerable = [r for r in ROWS if r["pages"]]
    assert len(HARD_DOCUMENTS) >= 8
    pages = sum(len(PdfReader(p).pages) for p in HARD_DOCUMENTS if p.suffix == ".pdf")
    assert pages >= 1500
    assert len(ROWS) >= 200 and len({r["id"] for r in ROWS}) == len(ROWS)
    assert sum(r["style"] == "paraphrase" for r in answerable) >= len(answerable) / 2
    assert sum(not r["pages"] for r in ROWS) >= 30
    korean_docs = {r["doc"] for r in answerable if r["lang"] == "ko"} & {
        p.name for p in HARD_DOCUMENTS if p.suffix == ".hwpx" or "-ko" in p.name
    }
    assert korean_docs  # Korean questions on Korean documents too
    for row in ROWS:  # the recorded language is the one the app sees
        assert question_language(row["question"]) == row["lang"], row["id"]
        assert question_language(row["translation"]) != row["lang"], row["id"]
    assert {r["doc"] for r in ROWS} <= {p.name for p in HARD_DOCUMENTS}


@pytest.fixture(scope="session")
def hard_server() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer(translations=translation_table(), token_delay=0.0) as server:
        yield server


@pytest.fixture(scope="session")
def hard_kb(
    tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings, hard_server
) -> KnowledgeBase:
    return build_hard_kb(
        tmp_path_factory.mktemp("hard-set"), embeddings, ollama_host=hard_server.url
    )


@pytest.fixture(scope="session")
def hybrid(hard_kb: KnowledgeBase) -> dict:
    assert hard_kb.settings.retrieval_mode == "hybrid"  # the product default
    results, notices = evaluate_modes(hard_kb, load_qa(QA_HARD), ["hybrid"], 5)
    assert notices == {}
    return results["hybrid"]


def test_every_document_is_indexed_with_its_language(hard_kb: KnowledgeBase):
    docs = {d.name: d.languages for d in hard_kb.documents()}
    assert set(docs) == {p.name for p in HARD_DOCUMENTS}
    assert docs["gnuplot.pdf"] == "en" and docs["gangbuk-festival-rfp.hwpx"] == "ko"
    assert docs["lshort-ko.pdf"] == "ko" and docs["kotex-utf-doc.pdf"] == "ko"


def test_hybrid_recall_on_the_hard_set_stays_above_its_floors(hybrid: dict):
    misses = hybrid["misses"]
    assert hybrid["overall"]["recall@5"] >= RECALL_FLOOR, misses
    assert hybrid["same_language"]["recall@5"] >= SAME_LANGUAGE_FLOOR, misses
    assert hybrid["crosslingual"]["recall@5"] >= CROSSLINGUAL_FLOOR, misses
    assert hybrid["crosslingual"]["questions"] >= 60


def test_every_question_is_also_searched_in_the_other_language(hybrid: dict):
    by_id = {r["id"]: r for r in ROWS}
    for q in hybrid["per_question"]:  # a mixed store: both languages, whatever was asked
        row = by_id[q["id"]]
        other = "en" if row["lang"] == "ko" else "ko"
        translation = clean_translation(row["translation"], row["question"], other)
        assert q["queries"] == [row["question"], translation]


def test_the_gate_refuses_almost_no_answerable_question(hybrid: dict):
    gate = hybrid["abstention"]
    assert gate["answerable"] >= 170 and gate["unanswerable"] >= 30
    assert gate["refused"] <= MAX_REFUSED, hybrid["abstention_by_language"]
