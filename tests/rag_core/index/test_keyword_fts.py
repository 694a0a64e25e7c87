"""The keyword index grows and shrinks document by document (SQLite FTS5, #20 item 5)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.index import keyword
from rag_core.index.analyzer import ANALYZER_VERSION
from rag_core.index.keyword import INDEX_FILE, OLD_INDEX_FILE, KeywordIndex, StoreKeywordSource
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import settings_for
from tests.rag_core.index.test_keyword_sync import ListedDocuments

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any call of the old full rebuild fail the test."""

    def rebuild(self: KeywordIndex) -> int:
        raise AssertionError("the keyword index was rebuilt")

    monkeypatch.setattr(KeywordIndex, "rebuild", rebuild)


def _rows(index: KeywordIndex, sha256: str) -> list[tuple[int, str]]:
    """The FTS5 rows (rowid, encoded terms) of one document's chunks."""
    with sqlite3.connect(index.directory / INDEX_FILE) as db:
        rows = db.execute(
            "SELECT f.rowid, f.terms FROM fts f JOIN chunks c ON c.id = f.rowid"
            " WHERE c.sha256 = ? ORDER BY f.rowid",
            (sha256,),
        ).fetchall()
    db.close()
    return rows


def _ids(index: KeywordIndex, terms: list[str], **kwargs: object) -> list[str]:
    return [chunk_id for chunk_id, _ in index.search("", 10, terms=terms, **kwargs)]


def test_adding_and_deleting_a_document_touches_only_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _no_rebuild(monkeypatch)
    index = KeywordIndex(tmp_path / "kw")
    index.add_terms(["a-0", "a-1"], [A, A], [["walrus", "arctic"], ["seal", "ice"]])
    before = _rows(index, A)
    assert _ids(index, ["penguin"]) == []

    index.add_terms(["b-0"], [B], [["penguin", "ice", "penguin"]])
    assert _ids(index, ["penguin"]) == ["b-0"]
    assert set(_ids(index, ["ice"])) == {"a-1", "b-0"}
    assert _rows(index, A) == before  # the other document's rows are untouched
    assert index.chunk_terms(["b-0"]) == {"b-0": ["penguin", "ice", "penguin"]}
    assert index.document_chunk_ids(B) == {"b-0"}

    index.delete_document(B)
    assert _ids(index, ["penguin"]) == [] and _ids(index, ["ice"]) == ["a-1"]
    assert _rows(index, A) == before and _rows(index, B) == []
    assert index.document_chunk_ids(B) == set() and index.chunk_terms(["b-0"]) == {}

    # a chunk added again under its id replaces its old terms
    index.add_terms(["a-0"], [A], [["walrus", "tusk"]])
    assert _ids(index, ["arctic"]) == [] and _ids(index, ["tusk"]) == ["a-0"]


def test_bm25_ranks_by_term_frequency_and_rarity(tmp_path: Path):
    index = KeywordIndex(tmp_path / "kw")
    index.add_terms(
        [f"x-{i}" for i in range(6)],
        [A] * 6,
        [["tex", "macro"], ["tex", "macro", "macro"], ["tex", "font"], ["table"], ["font"], []],
    )
    hits = index.search("", 6, terms=["macro", "tex"])
    assert [chunk_id for chunk_id, _ in hits] == ["x-1", "x-0", "x-2"]
    assert all(score > 0 for _, score in hits)
    assert hits[0][1] > hits[1][1] > hits[2][1]
    assert len(index.search("", 1, terms=["macro"])) == 1

    # a term in more than half the chunks weighs nothing in FTS5's BM25: left out of the
    # query, unless it is all the query has
    index.add_terms(["x-6"], [A], [["tex"]])
    assert _ids(index, ["macro", "tex"]) == ["x-1", "x-0"]
    assert set(_ids(index, ["tex"])) == {"x-0", "x-1", "x-2", "x-6"}


def test_ingest_and_delete_through_the_knowledge_base_never_rebuild(
    tmp_path: Path, embeddings: Embeddings, monkeypatch: pytest.MonkeyPatch
):
    _no_rebuild(monkeypatch)
    kb = KnowledgeBase(settings_for(tmp_path / "data"), embeddings)
    assert kb.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.").status == "indexed"
    penguin = kb.ingest_bytes("penguin.txt", b"Penguins cannot fly.")
    hits = kb.retriever(mode="bm25", k=3).invoke("walruses")
    assert [h.metadata["source"] for h in hits] == ["walrus.txt"]
    assert [d.name for d in kb.delete("walrus.txt")] == ["walrus.txt"]
    assert kb.retriever(mode="bm25", k=3).invoke("walruses") == []
    assert kb.keyword_index.document_chunk_ids(penguin.sha256)


def test_instances_sharing_a_chroma_server_sync_only_the_changed_documents(
    tmp_path: Path, embeddings: Embeddings, chroma_server: str, monkeypatch: pytest.MonkeyPatch
):
    _no_rebuild(monkeypatch)
    collection = f"t{uuid.uuid4().hex[:12]}"
    one = KnowledgeBase(
        settings_for(tmp_path / "one", chroma_url=chroma_server, collection=collection),
        embeddings,
    )
    two = KnowledgeBase(
        settings_for(tmp_path / "two", chroma_url=chroma_server, collection=collection),
        embeddings,
    )
    assert one.keyword_index.directory != two.keyword_index.directory
    read: list[str] = []
    source = two.keyword_index.source
    assert isinstance(source, StoreKeywordSource)
    chunks_of = source.document_chunks
    monkeypatch.setattr(source, "document_chunks", lambda sha: read.append(sha) or chunks_of(sha))

    walrus = one.ingest_bytes("walrus.txt", b"Walruses live in the Arctic.")
    assert [c for c, _ in two.keyword_index.search("walruses", 3)] != []
    assert read == [walrus.sha256]
    kept = _rows(two.keyword_index, walrus.sha256)

    penguin = one.ingest_bytes("penguin.txt", b"Penguins cannot fly.")
    hits = two.retriever(mode="bm25", k=3).invoke("penguins")
    assert [h.metadata["source"] for h in hits] == ["penguin.txt"]
    assert read == [walrus.sha256, penguin.sha256]  # only the added document was read
    assert _rows(two.keyword_index, walrus.sha256) == kept

    one.delete("penguin.txt")
    assert two.retriever(mode="bm25", k=3).invoke("penguins") == []
    assert two.keyword_index.document_chunk_ids(penguin.sha256) == set()
    assert _rows(two.keyword_index, walrus.sha256) == kept
    assert read == [walrus.sha256, penguin.sha256]


def _old_format(directory: Path, rows: list[tuple[str, str, str]], analyzer: int | None) -> None:
    """Write an index directory as the bm25s version left it: token table + index-N."""
    directory.mkdir(parents=True)
    with sqlite3.connect(directory / OLD_INDEX_FILE) as db:
        db.execute(
            "CREATE TABLE tokens (chunk_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
            " terms TEXT NOT NULL)"
        )
        db.execute("CREATE INDEX tokens_sha ON tokens (sha256)")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER)")
        db.executemany("INSERT INTO tokens VALUES (?, ?, ?)", rows)
        db.execute("INSERT INTO meta VALUES ('version', 3)")
        if analyzer is not None:
            db.execute("INSERT INTO meta VALUES ('analyzer', ?)", (analyzer,))
    db.close()
    (directory / "index-3").mkdir()
    (directory / "index-3" / "ids.json").write_text(json.dumps([r[0] for r in rows]))


def test_an_old_bm25s_directory_is_migrated_once_without_losing_terms(tmp_path: Path):
    rows = [
        ("a-0", A, "walrus arctic walrus"),
        ("a-1", A, "검색 팀 만들"),
        ("b-0", B, "penguin c++ ko.tex"),
    ]
    _old_format(tmp_path / "kw", rows, ANALYZER_VERSION)
    source = ListedDocuments()
    for sha in (A, B):
        source.put(sha, [(i, "", t) for i, s, t in rows if s == sha])
    source.token = 0  # the version the old index had synced to is not known: sync once

    index = KeywordIndex(tmp_path / "kw", source=source)
    assert not (tmp_path / "kw" / OLD_INDEX_FILE).exists()
    assert not list((tmp_path / "kw").glob("index-*"))
    assert index.chunk_terms(["a-0", "a-1", "b-0"]) == {i: t.split() for i, _, t in rows}
    assert source.chunk_reads == 0  # nothing was read again from the source
    assert _ids(index, ["walrus"]) == ["a-0"] and _ids(index, ["검색"]) == ["a-1"]
    assert _ids(index, ["c++"]) == ["b-0"]
    assert index.document_chunk_ids(A) == {"a-0", "a-1"}

    reopened = KeywordIndex(tmp_path / "kw", source=source)  # nothing left to migrate
    assert reopened.chunk_terms(["a-0"]) == {"a-0": ["walrus", "arctic", "walrus"]}
    assert _ids(reopened, ["penguin"]) == ["b-0"]


def test_an_old_directory_of_another_analyzer_version_is_analysed_again(tmp_path: Path):
    """An index made by analyzer version 1 ("package." -> "pack" + "age.") is redone."""
    _old_format(tmp_path / "kw", [("a-0", A, "pack age.")], analyzer=None)  # v1 wrote none
    source = ListedDocuments()
    source.put(A, [("a-0", "You need the package.", None)])
    index = KeywordIndex(tmp_path / "kw", source=source)
    terms = index.chunk_terms(["a-0"])["a-0"]
    assert "packag" in terms and "age." not in terms
    assert _ids(index, index.analyzer.analyze(["packages"])[0]) == ["a-0"]
    reads = source.chunk_reads
    assert KeywordIndex(tmp_path / "kw", source=source).chunk_terms(["a-0"])["a-0"] == terms
    assert source.chunk_reads == reads  # redone once: kept on the next open


SYNTAX_TERMS = [
    '"',
    '""',
    "*",
    "-",
    ":",
    "^",
    "(",
    ")",
    "NEAR",
    "near",
    "NEAR(",
    "AND",
    "or",
    "NOT",
    "c++",
    "ko.tex",
    "terms:x",
    "a*b",
    "-x",
    "{terms}",
    "검색",
    "漢字",
    "'",
    "1",
    "0",
]


def test_terms_with_fts5_syntax_characters_are_searched_safely(tmp_path: Path):
    index = KeywordIndex(tmp_path / "kw")
    ids = [f"s-{i}" for i in range(len(SYNTAX_TERMS))]
    index.add_terms(ids, [A] * len(ids), [[term, "common"] for term in SYNTAX_TERMS])
    for chunk_id, term in zip(ids, SYNTAX_TERMS, strict=True):
        assert _ids(index, [term]) == [chunk_id], term
        assert index.chunk_terms([chunk_id]) == {chunk_id: [term, "common"]}
    assert set(_ids(index, ['"', "NEAR", "unknown"])) == {"s-0", "s-8"}
    # a question full of syntax goes through the analyzer and never errors
    assert index.search('"c++" AND (검색* OR NEAR(x y)) -tex ^title: NOT', 5) is not None


def test_the_documents_filter_keeps_collection_statistics(tmp_path: Path):
    index = KeywordIndex(tmp_path / "kw")
    index.add_terms(["a-0", "a-1"], [A, A], [["walrus", "ice"], ["walrus"]])
    index.add_terms(["b-0"], [B], [["walrus", "walrus"]])
    index.add_terms(["c-0", "c-1", "c-2"], [C] * 3, [["penguin"], ["seal"], ["fish"]])
    everything = dict(index.search("", 10, terms=["walrus"]))
    only_a = dict(index.search("", 10, terms=["walrus"], documents={A}))
    assert set(only_a) == {"a-0", "a-1"} and set(everything) == {"a-0", "a-1", "b-0"}
    assert only_a == {i: everything[i] for i in only_a}  # same scores: collection-wide
    assert _ids(index, ["walrus"], documents={C}) == []
    assert _ids(index, ["walrus"], documents=set()) == []
    assert set(_ids(index, ["walrus", "penguin"], documents={B, C})) == {"b-0", "c-0"}


def test_candidates_of_the_rarest_terms_get_the_scores_fts5_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Above FULL_SCORING_ROWS, the rarest terms select chunks and every term scores them."""
    import random

    rng = random.Random(7)
    words = [f"w{i}" for i in range(40)]
    index = KeywordIndex(tmp_path / "kw")
    chunks = [
        rng.choices(words, weights=range(40, 0, -1), k=rng.randint(3, 30)) for _ in range(300)
    ]
    index.add_terms([f"c-{i}" for i in range(300)], [A] * 300, chunks)
    query = ["w0", "w1", "w1", "w5", "w30", "w39", "unknown"]
    exact = dict(index.search("", 300, terms=query))  # FTS5 ranks every matching chunk
    monkeypatch.setattr(keyword, "FULL_SCORING_ROWS", 0)  # the rarest term selects
    monkeypatch.setattr(keyword, "CANDIDATES", 300)
    rescored = index.search("", 300, terms=query)
    rarest = {f"c-{i}" for i, chunk in enumerate(chunks) if "w39" in chunk}
    assert {c for c, _ in rescored} == rarest and len(rarest) > 3
    assert [s for _, s in rescored] == sorted((s for _, s in rescored), reverse=True)
    for chunk_id, score in rescored:  # scored with every term, as FTS5's bm25() does
        assert score == pytest.approx(exact[chunk_id], rel=1e-9)
    monkeypatch.setattr(keyword, "CANDIDATES", 2)
    assert len(index.search("", 5, terms=query)) == 5  # at least k candidates
