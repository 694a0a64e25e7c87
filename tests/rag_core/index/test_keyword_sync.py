"""The BM25 index follows the shared document list (#6): KeywordIndex.sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag_core.index.analyzer import ANALYZER_VERSION
from rag_core.index.keyword import (
    ANALYZER_METADATA_KEY,
    TERMS_METADATA_KEY,
    KeywordIndex,
    StoreKeywordSource,
)


class ListedDocuments:
    """A document list like the Chroma registry's: a version token and chunks by document."""

    def __init__(self) -> None:
        self.token = 0
        self.complete: dict[str, bool] = {}
        self.chunks: dict[str, list[tuple[str, str, str | None]]] = {}
        self.chunk_reads = 0

    def put(self, sha: str, chunks: list[tuple[str, str, str | None]], complete: bool = True):
        self.complete[sha], self.chunks[sha] = complete, chunks
        self.token += 1

    def drop(self, sha: str) -> None:
        del self.complete[sha], self.chunks[sha]
        self.token += 1

    def version(self) -> str:
        return str(self.token)

    def documents(self) -> dict[str, bool]:
        return dict(self.complete)

    def document_chunks(self, sha256: str) -> list[tuple[str, str, str | None]]:
        self.chunk_reads += 1
        return self.chunks[sha256]


def _ids(index: KeywordIndex, query: str) -> list[str]:
    return [chunk_id for chunk_id, _ in index.search(query, 5)]


def test_search_follows_documents_added_and_removed_elsewhere(tmp_path: Path):
    source = ListedDocuments()
    index = KeywordIndex(tmp_path / "bm25", source=source)
    assert index.search("walrus", 5) == []

    # stored terms are used as they are; a chunk without them (an older store) is analysed
    source.put(
        "a" * 64, [("a-0", "ignored text", "walrus arctic"), ("a-1", "검색팀을 만들었다", None)]
    )
    assert _ids(index, "walrus") == ["a-0"]
    assert _ids(index, "검색팀") == ["a-1"]
    assert index.chunk_terms(["a-0"]) == {"a-0": ["walrus", "arctic"]}
    assert source.chunk_reads == 1  # unchanged version: nothing read again

    # a document still being indexed elsewhere is neither added nor dropped
    source.put("b" * 64, [("b-0", "penguins", "penguin")], complete=False)
    index.add_terms(["c-0"], ["c" * 64], [["seal"]])  # this instance's own ingest, not listed
    assert _ids(index, "penguin") == []
    source.put("b" * 64, [("b-0", "penguins", "penguin")])
    assert _ids(index, "penguin") == ["b-0"]
    assert _ids(index, "seal") == []  # listed nowhere: dropped

    source.drop("a" * 64)
    assert _ids(index, "walrus") == [] and _ids(index, "penguin") == ["b-0"]


def test_a_second_index_on_the_same_directory_sees_the_added_rows(tmp_path: Path):
    source = ListedDocuments()
    first = KeywordIndex(tmp_path / "bm25", source=source)
    second = KeywordIndex(tmp_path / "bm25", source=source)
    source.put("a" * 64, [("a-0", "", "walrus")])
    assert _ids(first, "walrus") == ["a-0"]
    assert _ids(second, "walrus") == ["a-0"]  # the shared file already had it


class _Chunks:
    def __init__(self, chunks: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.chunks = chunks

    def document_chunks(self, sha256: str) -> list[tuple[str, str, dict[str, Any]]]:
        return self.chunks


def test_store_terms_count_only_when_this_analyzer_version_made_them():
    old = {TERMS_METADATA_KEY: "pack age."}
    current = {TERMS_METADATA_KEY: "need packag", ANALYZER_METADATA_KEY: ANALYZER_VERSION}
    store = _Chunks([("a-0", "You need the package.", old), ("a-1", "Need it.", current)])
    chunks = StoreKeywordSource(registry=None, store=store).document_chunks("a" * 64)
    assert [(chunk_id, terms) for chunk_id, _, terms in chunks] == [
        ("a-0", None),  # analysed again by the index
        ("a-1", "need packag"),
    ]
