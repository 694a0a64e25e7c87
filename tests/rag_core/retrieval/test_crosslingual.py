"""Cross-lingual search: document languages, translated queries, fusion, the gate, events.

Real Chroma stores of one language each (pages of lshort.pdf / lshort-ko.pdf), the real
embedding model, and the test Ollama server answering translation requests from
``tests/data/translations.json`` (a model that translates correctly; it proves the
plumbing, not a model's translations).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.config import Settings
from rag_core.generation.chain import ChainOptions, build_rag_chain
from rag_core.generation.report import answer_json
from rag_core.generation.respond import answer_question
from rag_core.generation.types import AnswerEvent, Searched
from rag_core.knowledge_base import KnowledgeBase
from rag_core.language import chunk_languages, document_languages
from rag_core.llm.ollama import build_chat_model
from rag_core.retrieval.crosslingual import DocumentLanguages, fuse_rankings
from rag_core.retrieval.translation import clean_translation
from tests.conftest import DATA, LSHORT, LSHORT_KO, pdf_pages, reset_translating, settings_for
from tests.ollama_server import FakeOllamaServer, translation_source

EN_PAGES = (55, 66)
"""lshort.pdf pages of the English store (58: equation labels, 63: \\dfrac)."""
KO_PAGES = (50, 60)
"""lshort-ko.pdf pages of the Korean store (57: \\DeclareMathOperator, 59: line breaks)."""
DEAD_OLLAMA = "http://127.0.0.1:9"


def _qa(name: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    return {row["id"]: row for row in rows}


EN2KO = _qa("qa_dev_en2ko.jsonl")
KO2EN = _qa("qa_dev_ko2en.jsonl")
TRANSLATIONS = json.loads((DATA / "translations.json").read_text(encoding="utf-8"))


def _store(root: Path, embeddings: Embeddings, source: Path, pages: tuple[int, int]):
    kb = KnowledgeBase(settings_for(root), embeddings)
    result = kb.ingest_bytes(source.name, pdf_pages(source, *pages))
    assert result.status == "indexed", result.error
    return kb


@pytest.fixture(scope="session")
def en_kb(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> KnowledgeBase:
    """Twelve pages of lshort.pdf alone (English)."""
    return _store(tmp_path_factory.mktemp("en-store"), embeddings, LSHORT, EN_PAGES)


@pytest.fixture(scope="session")
def ko_kb(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> KnowledgeBase:
    """Eleven pages of lshort-ko.pdf alone (Korean)."""
    return _store(tmp_path_factory.mktemp("ko-store"), embeddings, LSHORT_KO, KO_PAGES)


@pytest.fixture
def ollama(module_ollama: FakeOllamaServer) -> FakeOllamaServer:
    reset_translating(module_ollama, TRANSLATIONS)
    return module_ollama


def _settings(kb: KnowledgeBase, host: str, **overrides: object) -> Settings:
    return settings_for(Path(kb.settings.data_dir), ollama_host=host, **overrides)


def _ask(kb: KnowledgeBase, question: str, host: str, **overrides: object):
    s = _settings(kb, host, **overrides)
    chain = build_rag_chain(kb.retriever(k=5), build_chat_model(s), ChainOptions.from_settings(s))
    events: list[AnswerEvent] = []
    result = answer_question(chain, question, host=host, on_event=events.append)
    [searched] = [e for e in events if isinstance(e, Searched)]
    return result, searched


def _translation_requests(server: FakeOllamaServer) -> list[dict]:
    return [body for body in server.chat_requests if translation_source(body) is not None]


def _pages(result) -> list[int]:
    return [c.page for c in result.citations]


def _local(page: int, pages: tuple[int, int]) -> int:
    """The page number in the extracted store of a page of the whole PDF."""
    return page - pages[0] + 1


def test_the_registry_records_each_documents_languages(en_kb: KnowledgeBase, ko_kb):
    assert [d.languages for d in en_kb.documents()] == ["en"]
    assert [d.languages for d in ko_kb.documents()] == ["ko"]
    assert en_kb.documents()[0].to_dict()["languages"] == "en"  # documents --json
    assert en_kb.retriever().document_languages() == {"en"}


def test_document_languages_by_page_share():
    korean = "한국어로 쓴 문단입니다. 수식은 \\frac{a}{b} 처럼 씁니다. 이 문장은 한국어입니다."
    english = "This page is written in English and explains how fractions are typeset."
    assert document_languages([korean] * 3 + [english]) == "ko"  # 1 English page in 4
    assert document_languages([korean, english]) == "en,ko"
    assert document_languages(["12", ""]) == ""  # no page with enough letters
    assert chunk_languages([(1, english[:40]), (1, english[40:]), (2, korean)]) == "en,ko"


def test_documents_indexed_before_languages_were_recorded_get_them_from_their_chunks(
    ko_kb: KnowledgeBase,
):
    record = ko_kb.documents()[0]
    languages = DocumentLanguages(ko_kb.registry, ko_kb.store)
    ko_kb.registry.upsert(replace(record, languages=""))  # as an older version wrote it
    try:
        assert languages() == {"ko"}
    finally:
        ko_kb.registry.upsert(record)


def test_a_korean_question_on_an_english_store_is_searched_in_translation(
    en_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    item = EN2KO["lshort-14"]  # \dfrac: a fraction in running text as large as displayed
    question, english = item["question"], item["source_question"]
    result, events = _ask(en_kb, question, ollama.url)
    assert result.queries == [question, english]
    assert events.queries == (question, english)
    assert not events.notices
    [request] = _translation_requests(ollama)
    assert "into English" in request["messages"][0]["content"]
    assert _local(item["pages"][0], EN_PAGES) in _pages(result)
    assert result.relevant  # the translation's coverage and similarity count in the gate
    assert answer_json(result)["queries"] == [question, english]


def test_an_english_question_on_a_korean_store_is_searched_in_translation(
    ko_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    item = KO2EN["lshort-ko-10"]  # an operator name missing from the predefined list
    result, _ = _ask(ko_kb, item["question"], ollama.url)
    assert result.queries == [item["question"], item["source_question"]]
    assert "into Korean" in _translation_requests(ollama)[0]["messages"][0]["content"]
    assert _local(item["pages"][0], KO_PAGES) in _pages(result)


def test_no_translation_when_the_questions_language_is_in_the_documents(
    en_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    question = EN2KO["lshort-14"]["source_question"]
    result, events = _ask(en_kb, question, ollama.url)
    assert result.queries == [question] and events.queries == (question,)
    assert _translation_requests(ollama) == []


def test_without_a_reachable_model_the_question_alone_is_searched_and_a_notice_says_why(
    en_kb: KnowledgeBase,
):
    question = EN2KO["lshort-14"]["question"]
    result, events = _ask(en_kb, question, DEAD_OLLAMA)
    assert result.queries == [question]
    [(code, params)] = events.notices
    assert code == "translation_unavailable"
    assert params["error_code"] == "unreachable" and params["languages"] == "English"
    assert "ollama serve" in params["error"]
    assert result.citations  # the passages are still shown
    assert "could not translate" in answer_json(result)["notices"][0]


def test_translate_queries_off_sends_no_translation_request(
    en_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    question = EN2KO["lshort-14"]["question"]
    result, events = _ask(en_kb, question, ollama.url, translate_queries=False)
    assert result.queries == [question]
    assert _translation_requests(ollama) == []
    assert not result.relevant  # the symptom: "not in the documents" without it
    assert not events.notices


def test_a_translation_is_asked_for_once_per_question(
    en_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    question = EN2KO["lshort-13"]["question"]
    first, _ = _ask(en_kb, question, ollama.url)
    second, _ = _ask(en_kb, question, ollama.url)  # a new chain, as the app builds one
    assert first.queries == second.queries == [question, EN2KO["lshort-13"]["source_question"]]
    assert len(_translation_requests(ollama)) == 1


def test_an_unusable_translation_is_not_searched(en_kb: KnowledgeBase, ollama):
    question = "이 질문은 번역표에 없습니다: 표의 열 간격은 어떻게 바꾸나요?"
    result, events = _ask(en_kb, question, ollama.url)  # the server echoes it unchanged
    assert result.queries == [question]
    assert [code for code, _ in events.notices] == ["translation_unusable"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("How do I write a fraction?", "How do I write a fraction?"),
        (
            'Here is the English translation:\n\n"How do I write a fraction?"',
            "How do I write a fraction?",
        ),
        ("Translation: How do I write a fraction?", "How do I write a fraction?"),
        (
            "<think>The user wants English.</think>\nHow do I write a fraction?",
            "How do I write a fraction?",
        ),
        ('Sure! The translation is "How do I write a fraction?"', "How do I write a fraction?"),
        (
            "**English:** How do I write a fraction?\n\n(Note: 분수 means fraction.)",
            "How do I write a fraction?",
        ),
        ("", ""),
        ("분수는 어떻게 쓰나요?", ""),  # not translated: still Korean
        ("How do I write a fraction? " + "You use \\frac{a}{b} in math mode. " * 10, ""),
    ],
)
def test_clean_translation_into_english(reply: str, expected: str):
    assert clean_translation(reply, "분수는 어떻게 쓰나요?", "en") == expected


@pytest.mark.parametrize(
    "reply",
    [
        "분수는 어떻게 쓰나요?",
        "번역: 분수는 어떻게 쓰나요?",
        "다음은 번역입니다:\n분수는 어떻게 쓰나요?",
        "번역하면 다음과 같습니다: 「분수는 어떻게 쓰나요?」",
    ],
)
def test_clean_translation_into_korean(reply: str):
    assert clean_translation(reply, "How do I write a fraction?", "ko") == "분수는 어떻게 쓰나요?"


def test_fusion_keeps_the_scores_that_count_for_the_gate():
    def chunk(chunk_id: str, **meta: object) -> Document:
        return Document(id=chunk_id, page_content=chunk_id, metadata=dict(meta))

    original = [
        chunk("a", similarity=0.1, embedding_covered=False, keyword_coverage=0.1),
        chunk("b", similarity=0.2, embedding_covered=False, keyword_coverage=0.0),
    ]
    translated = [
        chunk("b", similarity=0.6, embedding_covered=True, keyword_coverage=0.8),
        chunk("c", similarity=0.5, embedding_covered=True, keyword_coverage=0.5),
    ]
    fused = fuse_rankings([original, translated], 3, weights=[0.5, 1.0])
    assert [d.id for d in fused] == ["b", "c", "a"]
    assert [d.metadata["rank"] for d in fused] == [1, 2, 3]
    b = fused[0].metadata
    assert b["embedding_covered"] is True and b["similarity"] == 0.6
    assert b["keyword_coverage"] == 0.8
