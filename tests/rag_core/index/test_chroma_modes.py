"""The same store behaviour with the embedded Chroma and with a Chroma server (#6)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.errors import CollectionDeletedError, StoreUnavailableError
from rag_core.generation.chain import build_rag_chain
from rag_core.generation.respond import answer_question
from rag_core.index.collections import delete_collection, list_collections
from rag_core.index.vector_store import build_chroma_client
from rag_core.knowledge_base import KnowledgeBase
from rag_core.llm.ollama import build_chat_model
from tests.conftest import LSHORT, pdf_pages, settings_for
from tests.ollama_server import FakeOllamaServer

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


def test_two_app_instances_sharing_a_server_see_the_same_documents(
    tmp_path: Path, embeddings: Embeddings, chroma_server: str, fake_ollama: FakeOllamaServer
):
    """Two app instances (own data directories) on one Chroma server stay consistent."""
    collection = f"t{uuid.uuid4().hex[:12]}"
    one = KnowledgeBase(
        settings_for(tmp_path / "one", chroma_url=chroma_server, collection=collection),
        embeddings,
    )
    two_settings = settings_for(tmp_path / "two", chroma_url=chroma_server, collection=collection)
    two = KnowledgeBase(two_settings, embeddings)
    assert two.retriever(mode="bm25", k=3).invoke("walruses") == []  # builds two's index

    walrus = one.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.")
    assert one.ingest_bytes("ch1.pdf", pdf_pages(LSHORT, 15, 17)).status == "indexed"
    assert sorted(d.name for d in two.documents()) == ["ch1.pdf", "walrus.txt"]
    hits = two.retriever(mode="bm25", k=3).invoke("walruses")
    assert [h.metadata["source"] for h in hits] == ["walrus.txt"]
    assert "bm25_terms" not in hits[0].metadata  # stored for BM25, not shown
    assert "bm25_analyzer" not in hits[0].metadata
    # two took the terms stored with the chunks in Chroma: the same terms one computed
    ids = [str(i) for i in one.store.collection.get(include=[])["ids"]]
    assert two.keyword_index.chunk_terms(ids) == one.keyword_index.chunk_terms(ids)
    assert ("ch1.pdf", 1) in _pages(two, "hybrid")
    # the same content uploaded through two is one document, and embeds nothing
    again = two.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.")
    assert again.status == "unchanged" and again.embedded == 0

    one.delete("walrus.txt")
    assert [d.name for d in two.documents()] == ["ch1.pdf"]
    assert two.retriever(mode="bm25", k=3).invoke("walruses") == []
    assert walrus.sha256 not in {d.sha256 for d in two.documents(include_incomplete=True)}

    assert delete_collection(one.settings, collection)
    assert collection not in list_collections(two_settings)
    with pytest.raises(CollectionDeletedError, match="was deleted"):
        two.retriever(mode="hybrid", k=3).invoke("Knuth")
    # in a chat, that is an answer's error, not a crash
    llm = build_chat_model(settings_for(tmp_path / "two", ollama_host=fake_ollama.url))
    result = answer_question(build_rag_chain(two.retriever(k=3), llm), "Knuth?")
    assert f"collection '{collection}' was deleted" in result.error and result.citations == []
    assert fake_ollama.chat_requests == []


def test_a_document_list_of_an_earlier_version_is_imported_once(
    tmp_path: Path, embeddings: Embeddings
):
    settings = settings_for(tmp_path / "data")
    kb = KnowledgeBase(settings, embeddings)
    kb.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.")
    [record] = kb.documents()
    kb.registry.remove(record.sha256)  # as if the list were still in SQLite
    legacy = sqlite3.connect(settings.registry_path)
    legacy.execute(
        "CREATE TABLE documents (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " pages INTEGER NOT NULL, chunks INTEGER NOT NULL, added_at TEXT NOT NULL,"
        " status TEXT NOT NULL, empty_pages TEXT NOT NULL DEFAULT '')"
    )
    legacy.execute(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
        (record.sha256, "walrus.txt", 1, 1, record.added_at, "complete", ""),
    )
    legacy.commit()
    legacy.close()

    reopened = KnowledgeBase(settings, embeddings)
    assert [d.name for d in reopened.documents()] == ["walrus.txt"]
    assert not settings.registry_path.exists()
    assert settings.registry_path.with_name("documents.sqlite3.imported").exists()
    assert reopened.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.").status == (
        "unchanged"
    )


def test_reserved_collection_names_are_refused(tmp_path: Path):
    for name in ("papers.registry", "papers-reindex"):
        with pytest.raises(ValueError, match="reserved"):
            settings_for(tmp_path, collection=name)


def test_threads_opening_a_new_store_at_once_share_one_system(tmp_path: Path):
    # the app's page, ingest worker, warm-up and folder sync may open a store at once
    path = tmp_path / "chroma"
    start = threading.Barrier(4)
    clients: list[object] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            clients.append(build_chroma_client(path))
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(clients) == 4
    assert len({id(client._server) for client in clients}) == 1  # one system for the path
    assert clients[0].get_or_create_collection("docs").count() == 0
