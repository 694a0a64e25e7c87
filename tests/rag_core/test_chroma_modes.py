"""The same store behaviour with the embedded Chroma and with a Chroma server (#6)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.errors import StoreUnavailableError
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, pdf_pages, settings_for

QUESTION = "When did Knuth start writing TeX?"


@pytest.fixture(params=["embedded", "server"])
def chroma_url(request: pytest.FixtureRequest) -> str:
    """ "" for the embedded client, else the URL of the session's Chroma server."""
    return "" if request.param == "embedded" else request.getfixturevalue("chroma_server")


def _pages(kb: KnowledgeBase, mode: str) -> list[tuple[str, int]]:
    docs = kb.retriever(mode=mode, k=5).invoke(QUESTION)  # type: ignore[arg-type]
    return [(d.metadata["source"], d.metadata["page"]) for d in docs]


def test_ingest_retrieve_reopen_delete(tmp_path: Path, embeddings: Embeddings, chroma_url: str):
    # a fresh collection per test: the server outlives the test's data directory
    settings = settings_for(
        tmp_path / "data", chroma_url=chroma_url, collection=f"t{uuid.uuid4().hex[:12]}"
    )
    kb = KnowledgeBase(settings, embeddings)
    result = kb.ingest_bytes("ch1.pdf", pdf_pages(LSHORT, 15, 17))
    assert result.status == "indexed" and result.chunks > 0
    assert kb.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.").chunks == 1
    assert kb.chunk_count() == result.chunks + 1
    for mode in ("dense", "bm25", "hybrid"):
        assert ("ch1.pdf", 1) in _pages(kb, mode), mode

    reopened = KnowledgeBase(settings, embeddings)
    assert reopened.chunk_count() == result.chunks + 1
    assert reopened.ingest_bytes("ch1.pdf", pdf_pages(LSHORT, 15, 17)).embedded == 0
    assert [d.name for d in reopened.delete("ch1.pdf")] == ["ch1.pdf"]
    assert reopened.chunk_count() == 1
    assert all(source != "ch1.pdf" for source, _ in _pages(reopened, "hybrid"))
    if chroma_url:
        assert not (tmp_path / "data" / "chroma").exists()  # vectors live on the server


def test_an_unreachable_chroma_server_gets_a_clear_error(tmp_path: Path, embeddings: Embeddings):
    settings = settings_for(tmp_path / "data", chroma_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailableError, match=r"no Chroma server answers at .*chroma run"):
        KnowledgeBase(settings, embeddings)
    with pytest.raises(StoreUnavailableError, match="must look like"):
        KnowledgeBase(settings_for(tmp_path / "data", chroma_url="127.0.0.1:8000"), embeddings)


def test_collections_in_one_data_dir_keep_their_own_documents(
    tmp_path: Path, embeddings: Embeddings
):
    data = tmp_path / "data"
    papers = KnowledgeBase(settings_for(data, collection="papers"), embeddings)
    notes = KnowledgeBase(settings_for(data), embeddings)
    walrus = b"Walruses live in the Arctic."
    assert papers.ingest_bytes("walrus.txt", walrus).status == "indexed"
    assert notes.ingest_bytes("walrus.txt", walrus).status == "indexed"  # not "unchanged"
    assert notes.ingest_bytes("penguin.txt", b"Penguins cannot fly.").status == "indexed"
    assert [d.name for d in papers.documents()] == ["walrus.txt"]
    assert sorted(d.name for d in notes.documents()) == ["penguin.txt", "walrus.txt"]
    papers.delete("walrus.txt")
    assert papers.chunk_count() == 0 and papers.documents() == []
    assert notes.chunk_count() == 2
    [kept] = [d for d in notes.documents() if d.name == "walrus.txt"]
    assert notes.files.find(kept.sha256) is not None  # the other collection's original
    hits = notes.retriever(mode="bm25", k=2).invoke("walruses")
    assert hits[0].metadata["source"] == "walrus.txt"
    with pytest.raises(ValueError, match="collection"):
        settings_for(data, collection="../escape")
