"""The knowledge base on a real Chroma on disk with the real embedding model."""

from __future__ import annotations

from rag_core.evaluation.retrieval import evaluate, load_qa
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, QA_SAMPLE, pdf_pages


def test_documents_are_listed_with_pages_and_chunks(corpus_kb: KnowledgeBase):
    docs = {d.name: d for d in corpus_kb.documents()}
    assert set(docs) == {"lshort.pdf", "lshort-ko.pdf"}
    assert docs["lshort.pdf"].pages == 153
    assert docs["lshort-ko.pdf"].pages == 143
    assert corpus_kb.chunk_count() == sum(d.chunks for d in docs.values())


def test_reingesting_the_same_file_embeds_nothing(corpus_kb: KnowledgeBase):
    before = corpus_kb.chunk_count()
    result = corpus_kb.ingest_path(LSHORT)
    assert result.status == "unchanged"
    assert result.embedded == 0
    assert corpus_kb.chunk_count() == before


def test_retrieval_finds_the_answer_page(corpus_kb: KnowledgeBase):
    for mode in ("dense", "hybrid"):
        docs = corpus_kb.retriever(mode=mode, k=5).invoke("When did Knuth start writing TeX?")
        assert len(docs) == 5
        hits = [(d.metadata["source"], d.metadata["page"]) for d in docs]
        assert ("lshort.pdf", 15) in hits, (mode, hits)
        assert [d.metadata["rank"] for d in docs] == [1, 2, 3, 4, 5]


def test_korean_question_finds_the_korean_page(corpus_kb: KnowledgeBase):
    docs = corpus_kb.retriever(mode="hybrid", k=5).invoke(
        "한국어 윈도우에서 .tex 파일을 저장할 때 어떤 인코딩으로 저장해야 하나요?"
    )
    assert ("lshort-ko.pdf", 19) in [(d.metadata["source"], d.metadata["page"]) for d in docs]


def test_evaluation_on_the_sample_questions(corpus_kb: KnowledgeBase):
    items = load_qa(QA_SAMPLE)
    report = evaluate(items, corpus_kb.retriever(mode="hybrid", k=5).invoke, 5)
    assert report["overall"]["questions"] == len(items) == 10
    assert set(report["per_doc"]) == {"lshort.pdf", "lshort-ko.pdf"}
    # hybrid must beat an empty retriever and match the per-question hits it reports
    assert report["overall"]["recall"] == 1 - len(report["misses"]) / len(items)
    assert report["overall"]["recall"] >= 0.5


def test_upload_of_a_changed_file_replaces_the_old_version(empty_kb: KnowledgeBase):
    first = empty_kb.ingest_bytes("part.pdf", pdf_pages(LSHORT, 15, 16))
    assert first.status == "indexed" and first.embedded == first.chunks > 0
    second = empty_kb.ingest_bytes("part.pdf", pdf_pages(LSHORT, 17, 17))
    assert second.status == "indexed"
    assert second.replaced == [first.sha256]
    assert [d.name for d in empty_kb.documents()] == ["part.pdf"]
    assert empty_kb.chunk_count() == second.chunks


def test_a_bad_file_stores_nothing_and_keeps_the_others(empty_kb: KnowledgeBase):
    good = empty_kb.ingest_bytes("notes.txt", b"The walrus lives in the Arctic Ocean.")
    bad = empty_kb.ingest_bytes("broken.pdf", LSHORT.read_bytes()[:5000])
    assert good.status == "indexed"
    assert bad.status == "failed" and "broken.pdf" in bad.error
    assert [d.name for d in empty_kb.documents()] == ["notes.txt"]
    assert empty_kb.chunk_count() == good.chunks


def test_delete_removes_chunks_and_keyword_terms(empty_kb: KnowledgeBase):
    empty_kb.ingest_bytes("a.txt", b"Walruses have tusks and whiskers.")
    empty_kb.ingest_bytes("b.txt", b"Penguins cannot fly but swim well.")
    removed = empty_kb.delete("a.txt")
    assert [r.name for r in removed] == ["a.txt"]
    assert [d.name for d in empty_kb.documents()] == ["b.txt"]
    sources = {
        d.metadata["source"] for d in empty_kb.retriever(mode="bm25", k=5).invoke("walrus tusks")
    }
    assert "a.txt" not in sources


def test_original_file_is_kept_under_its_hash_and_deleted_with_the_document(
    empty_kb: KnowledgeBase,
):
    data = pdf_pages(LSHORT, 15, 15)
    result = empty_kb.ingest_bytes("../../evil name.pdf", data)
    stored = empty_kb.files.find(result.sha256)
    assert stored is not None and stored.read_bytes() == data
    assert stored.name == f"{result.sha256}.pdf"
    assert stored.parent == empty_kb.settings.data_dir / "files"
    empty_kb.delete(result.sha256)
    assert empty_kb.files.find(result.sha256) is None
