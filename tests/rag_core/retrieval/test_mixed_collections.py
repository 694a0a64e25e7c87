"""Search in a collection holding Korean and English documents (issue 18).

One real Chroma store with pages of ``gnuplot.pdf`` (English) and ``lshort-ko.pdf``
(Korean), the real embedding model, and the test Ollama server answering translation
requests from a lookup table (a model that translates correctly: plumbing, not a
model's translations). Each question is also searched in the other language, each query
only over the documents in its own language.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.evaluation.retrieval import build_kb_search
from rag_core.knowledge_base import KnowledgeBase
from rag_core.retrieval.crosslingual import (
    LANGUAGE_RRF_K,
    DocumentLanguages,
    fuse_rankings,
    match_strength,
)
from tests.conftest import DATA, LSHORT_KO, REPO, pdf_pages, reset_translating, settings_for
from tests.ollama_server import FakeOllamaServer, translation_source

GNUPLOT = REPO / "benchmarks" / "data" / "gnuplot.pdf"
EN_PAGES = (30, 40)
KO_PAGES = (50, 60)
EN_QUESTION = (
    "How do I write a function name that is not in the predefined list as an upright "
    "(roman) operator in a formula?"
)
"""``lshort-ko-10`` of ``qa_dev_ko2en.jsonl``: its answer is on lshort-ko.pdf p. 57."""
KO_QUESTION = "gnuplot 식에서 정수 두 개를 나누면 왜 소수 부분이 버려지나요? 소수 부분을 유지하려면 어떻게 하나요?"
KO_TRANSLATION = (
    "Why does dividing two whole numbers in a gnuplot expression throw away the fractional "
    "part, and how do I keep it?"
)
"""``gnuplot-03`` of the hard set, asked in Korean: its answer is on gnuplot.pdf p. 36."""
TRANSLATIONS = {
    **json.loads((DATA / "translations.json").read_text(encoding="utf-8")),
    KO_QUESTION: KO_TRANSLATION,
    KO_TRANSLATION: KO_QUESTION,
}


@pytest.fixture(scope="module")
def mixed_kb(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> KnowledgeBase:
    """Eleven pages of gnuplot.pdf and eleven of lshort-ko.pdf in one store."""
    kb = KnowledgeBase(settings_for(tmp_path_factory.mktemp("mixed")), embeddings)
    for source, pages in ((GNUPLOT, EN_PAGES), (LSHORT_KO, KO_PAGES)):
        result = kb.ingest_bytes(source.name, pdf_pages(source, *pages))
        assert result.status == "indexed", result.error
    return kb


@pytest.fixture
def ollama(module_ollama: FakeOllamaServer) -> FakeOllamaServer:
    reset_translating(module_ollama, TRANSLATIONS)
    return module_ollama


def _search(kb: KnowledgeBase, host: str, **overrides: object):
    settings = settings_for(Path(kb.settings.data_dir), ollama_host=host, **overrides)
    return build_kb_search(KnowledgeBase(settings, kb.embeddings), None, 5)


def _found(docs: list[Document]) -> list[tuple[str, int]]:
    return [(d.metadata["source"], d.metadata["page"]) for d in docs]


def test_documents_are_listed_by_language(mixed_kb: KnowledgeBase):
    by_language = DocumentLanguages(mixed_kb.registry, mixed_kb.store).by_language()
    names = {d.sha256: d.name for d in mixed_kb.documents()}
    assert {lang: {names[s] for s in shas} for lang, shas in by_language.items()} == {
        "en": {"gnuplot.pdf"},
        "ko": {"lshort-ko.pdf"},
    }


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_a_search_can_be_limited_to_some_documents(mixed_kb: KnowledgeBase, mode: str):
    korean = {d.sha256 for d in mixed_kb.documents() if d.name == "lshort-ko.pdf"}
    retriever = mixed_kb.retriever(mode=mode, k=5)  # type: ignore[arg-type]
    # an English question whose words are in the English pages only
    assert "gnuplot.pdf" in {s for s, _ in _found(retriever.retrieve(KO_TRANSLATION))}
    limited = retriever.retrieve(KO_TRANSLATION, documents=korean)
    assert limited and {s for s, _ in _found(limited)} == {"lshort-ko.pdf"}
    assert retriever.retrieve(KO_TRANSLATION, documents=set()) == []


def test_an_english_question_about_a_korean_document_is_searched_in_korean(
    mixed_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    result = _search(mixed_kb, ollama.url).search(EN_QUESTION)
    assert result.queries == [EN_QUESTION, TRANSLATIONS[EN_QUESTION]]
    assert ("lshort-ko.pdf", 57 - KO_PAGES[0] + 1) in _found(result.docs)
    assert result.notices == []
    # without the translation the English question finds English pages only
    alone = _search(mixed_kb, ollama.url, translate_queries=False).search(EN_QUESTION)
    assert ("lshort-ko.pdf", 57 - KO_PAGES[0] + 1) not in _found(alone.docs)


def test_a_korean_question_about_an_english_document_is_searched_in_english(
    mixed_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    result = _search(mixed_kb, ollama.url).search(KO_QUESTION)
    assert result.queries == [KO_QUESTION, KO_TRANSLATION]
    assert ("gnuplot.pdf", 36 - EN_PAGES[0] + 1) in _found(result.docs)
    alone = _search(mixed_kb, ollama.url, translate_queries=False).search(KO_QUESTION)
    assert ("gnuplot.pdf", 36 - EN_PAGES[0] + 1) not in _found(alone.docs)


def test_a_failed_translation_searches_every_document_without_a_notice(
    mixed_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    result = _search(mixed_kb, "http://127.0.0.1:9").search(KO_QUESTION)
    assert result.queries == [KO_QUESTION] and result.translations[0].error_code
    assert result.notices == []  # the question's language is in the collection
    assert len(result.docs) == 5
    assert [translation_source(b) for b in ollama.chat_requests] == []


def test_a_collection_in_the_questions_language_only_makes_no_model_call(
    tmp_path: Path, embeddings: Embeddings, ollama: FakeOllamaServer
):
    kb = KnowledgeBase(settings_for(tmp_path), embeddings)
    assert kb.ingest_bytes("gnuplot.pdf", pdf_pages(GNUPLOT, *EN_PAGES)).status == "indexed"
    result = _search(kb, ollama.url).search(KO_TRANSLATION)
    assert result.queries == [KO_TRANSLATION] and ollama.chat_requests == []


def _chunk(chunk_id: str, **meta: object) -> Document:
    return Document(id=chunk_id, page_content=chunk_id, metadata=dict(meta))


def test_match_strength_is_the_best_coverage_or_covered_similarity_of_the_first_chunks():
    ranking = [
        _chunk("a", keyword_coverage=0.2, similarity=0.9, embedding_covered=False),
        _chunk("b", keyword_coverage=0.5, similarity=0.3, embedding_covered=True),
        _chunk("c", keyword_coverage=0.1, similarity=0.6, embedding_covered=True),
        _chunk("d", keyword_coverage=1.0, similarity=1.0, embedding_covered=True),  # 4th
    ]
    assert match_strength(ranking) == pytest.approx(0.6)
    assert match_strength([]) == 0.0


def test_per_language_rankings_alternate_at_equal_strength_and_the_weaker_yields():
    english = [_chunk(f"en{i}") for i in range(1, 6)]
    korean = [_chunk(f"ko{i}") for i in range(1, 6)]
    equal = fuse_rankings([english, korean], 4, rrf_k=LANGUAGE_RRF_K, weights=[0.6, 0.6])
    assert [d.id for d in equal] == ["en1", "ko1", "en2", "ko2"]
    # half as strong: its first chunk comes after the other's third, still in the top 5
    weaker = [
        d.id for d in fuse_rankings([english, korean], 5, rrf_k=LANGUAGE_RRF_K, weights=[0.8, 0.4])
    ]
    assert weaker[:3] == ["en1", "en2", "en3"] and "ko1" in weaker
