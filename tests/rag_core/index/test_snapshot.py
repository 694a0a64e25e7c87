"""Snapshots: export a collection, import it elsewhere, same search results; bad archives refused."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from rag_core.engine import Engine
from rag_core.errors import RagError, SnapshotError
from rag_core.index.collections import list_collections
from rag_core.index.snapshot import MANIFEST, inspect_snapshot
from rag_core.index.vector_store import VectorStore
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import QA_DEV, settings_for

QUESTIONS = [json.loads(line)["question"] for line in QA_DEV.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def archive(corpus_kb: KnowledgeBase, embeddings: Embeddings, tmp_path_factory) -> Path:
    """The session corpus exported once, with its original files."""
    target = tmp_path_factory.mktemp("snapshot") / "corpus.zip"
    info = Engine(corpus_kb.settings, embeddings).export_collection(
        None, target, include_files=True
    )
    assert info.documents == 2 and info.chunks == corpus_kb.chunk_count() and info.files == 2
    return target


def _top5(kb: KnowledgeBase, mode: str = "hybrid") -> list[list[str]]:
    retriever = kb.retriever(mode=mode, k=5)  # type: ignore[arg-type]
    return [[str(d.id) for d in retriever.invoke(q)] for q in QUESTIONS]


def _dense_candidates(kb: KnowledgeBase, embeddings: Embeddings) -> list[list[str]]:
    """Each question's dense candidates as the store's HNSW index (approximate) answers."""
    return [
        kb.store.collection.query(
            query_embeddings=[embeddings.embed_query(q)], n_results=kb.settings.fetch_k
        )["ids"][0]
        for q in QUESTIONS
    ]


def _vectors(kb: KnowledgeBase, ids: list[str]) -> np.ndarray:
    got = kb.store.collection.get(ids=ids, include=["embeddings"])
    order = {i: n for n, i in enumerate(got["ids"])}
    return np.asarray(got["embeddings"], dtype=np.float32)[[order[i] for i in ids]]


def test_import_into_a_fresh_data_dir_gives_the_same_top5_for_every_dev_question(
    corpus_kb: KnowledgeBase, embeddings: Embeddings, archive: Path, tmp_path: Path
):
    engine = Engine(settings_for(tmp_path / "fresh"), embeddings)
    engine.knowledge_base()  # the app opens the (empty) default collection first
    info = engine.import_collection(archive)
    assert info.collection == "documents" and info.chunks == corpus_kb.chunk_count()

    restored = engine.knowledge_base()
    assert restored.chunk_count() == corpus_kb.chunk_count()
    assert [d.to_dict() for d in restored.documents()] == [
        d.to_dict() for d in corpus_kb.documents()
    ]
    assert len(QUESTIONS) == 62
    assert _top5(restored, "bm25") == _top5(corpus_kb, "bm25")  # no approximation in BM25
    # Hybrid: identical, except where the two HNSW graphs (approximate, built by several
    # threads in arrival order) return different dense candidates for the same vectors:
    # the session store's graph was seen to miss the rank-4 chunk of one question that
    # exact search and the imported graph find. Measured: 59 to 62 of 62 identical.
    ann = zip(
        _dense_candidates(restored, embeddings),
        _dense_candidates(corpus_kb, embeddings),
        strict=True,
    )
    same = 0
    for question, got, want, (ours, theirs) in zip(
        QUESTIONS, _top5(restored), _top5(corpus_kb), ann, strict=True
    ):
        assert got == want or ours != theirs, question
        same += got == want
    assert same >= 55, same
    # the archive holds the stored vectors bit for bit; Chroma's cosine space changes a
    # vector by at most a unit in the last place when it stores it again
    with zipfile.ZipFile(archive) as zf:
        first = np.load(io.BytesIO(zf.read("vectors/000000.npy")))
        ids = [json.loads(line)["id"] for line in zf.read("chunks/000000.jsonl").splitlines()]
    assert np.array_equal(first, _vectors(corpus_kb, ids))
    assert np.allclose(_vectors(restored, ids), first, rtol=0, atol=1e-6)
    # the keyword index took the stored terms, and the page view has the originals
    assert restored.keyword_index.search("Knuth TeX 1977", 3)
    for record in corpus_kb.documents():
        original = corpus_kb.files.find(record.sha256)
        copy = restored.files.find(record.sha256)
        assert original and copy and copy.read_bytes() == original.read_bytes()
    assert not (tmp_path / "fresh" / ".imports").exists()


def test_import_into_a_chroma_server_under_another_name(
    corpus_kb: KnowledgeBase, embeddings: Embeddings, archive: Path, tmp_path: Path, chroma_server
):
    name = f"restored-{uuid.uuid4().hex[:8]}"
    engine = Engine(settings_for(tmp_path / "data", chroma_url=chroma_server), embeddings)
    assert engine.import_collection(archive, name=name).collection == name
    restored = engine.knowledge_base(name)
    assert restored.chunk_count() == corpus_kb.chunk_count()
    assert _top5(restored)[:10] == _top5(corpus_kb)[:10]
    assert name in engine.collections()
    assert not (tmp_path / "data" / "chroma").exists()  # the vectors went to the server
    engine.delete_collection(name)


def test_a_collection_that_holds_documents_is_not_replaced(
    embeddings: Embeddings, archive: Path, tmp_path: Path
):
    engine = Engine(settings_for(tmp_path / "data"), embeddings)
    first = engine.import_collection(archive, name="copy")
    with pytest.raises(SnapshotError, match="already holds documents") as refused:
        engine.import_collection(archive, name="copy")
    assert refused.value.code == "exists"
    assert engine.knowledge_base("copy").chunk_count() == first.chunks
    assert set(list_collections(engine.settings)) == {"copy"}  # no staging left


def test_an_archive_of_another_embedding_model_is_refused_before_anything_is_written(
    embeddings: Embeddings, archive: Path, tmp_path: Path
):
    settings = settings_for(tmp_path / "data", embedding_backend="onnx")  # fp32 vectors
    with pytest.raises(SnapshotError, match="embedding model all-MiniLM-L6-v2#openvino-int8") as e:
        Engine(settings, embeddings).import_collection(archive)
    assert e.value.code == "model"
    assert not settings.chroma_dir.exists()


def _members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezip(members: dict[str, bytes], target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {**members, **(extra or {})}.items():
            zf.writestr(name, data)
    return target


def _with_manifest(members: dict[str, bytes], change: Callable[[dict], None]) -> dict[str, bytes]:
    manifest = json.loads(members[MANIFEST])
    change(manifest)
    return {**members, MANIFEST: json.dumps(manifest).encode()}


def _flip_a_vector_byte(archive: Path, out: Path) -> Path:
    raw = bytearray(archive.read_bytes())
    vectors = _members(archive)["vectors/000000.npy"]  # stored, not deflated: found verbatim
    at = bytes(raw).find(vectors[200:260]) + 10
    raw[at] ^= 0x01
    out.write_bytes(bytes(raw))
    return out


def _traversal(archive: Path, out: Path) -> Path:
    evil = b"owned"
    members = _with_manifest(
        _members(archive),
        lambda m: m["members"].update({"../../evil.txt": {"size": 5, "sha256": "0" * 64}}),
    )
    return _rezip(members, out, {"../../evil.txt": evil})


def _bomb(archive: Path, out: Path) -> Path:
    zeros = bytes(50 * 2**20)
    name = "files/" + "a" * 64 + ".pdf"
    entry = {"size": len(zeros), "sha256": hashlib.sha256(zeros).hexdigest()}
    members = _with_manifest(_members(archive), lambda m: m["members"].update({name: entry}))
    return _rezip(members, out, {name: zeros})


DAMAGES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "flipped byte": (_flip_a_vector_byte, "damaged"),
    "truncated": (
        lambda a, out: out.write_bytes(a.read_bytes()[: a.stat().st_size // 2]) and out,
        "not_archive",
    ),
    "not an archive": (lambda a, out: out.write_bytes(b"%PDF-1.7\n" * 100) and out, "not_archive"),
    "path traversal": (_traversal, "damaged"),
    "wrong checksum": (
        lambda a, out: _rezip(
            _with_manifest(
                _members(a), lambda m: m["members"][DOCUMENTS_MEMBER].update(sha256="f" * 64)
            ),
            out,
        ),
        "damaged",
    ),
    "unknown version": (
        lambda a, out: _rezip(_with_manifest(_members(a), lambda m: m.update(version=99)), out),
        "version",
    ),
    "decompression bomb": (_bomb, "damaged"),
    "unlisted member": (
        lambda a, out: _rezip(_members(a), out, {"chunks/000099.jsonl": b"{}\n"}),
        "damaged",
    ),
}
DOCUMENTS_MEMBER = "documents.jsonl"


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_archive_is_refused_and_leaves_nothing_behind(
    damage: str, embeddings: Embeddings, archive: Path, tmp_path: Path
):
    make, code = DAMAGES[damage]
    bad = make(archive, tmp_path / "bad.zip")
    engine = Engine(settings_for(tmp_path / "data"), embeddings)
    engine.knowledge_base()  # the empty default collection the app opens
    with pytest.raises(SnapshotError) as refused:
        engine.import_collection(bad)
    assert refused.value.code == code, str(refused.value)
    assert "bad.zip" in str(refused.value)
    assert list_collections(engine.settings) == {"documents": 0}
    assert not (tmp_path / "data" / ".imports").exists()
    assert not list((tmp_path / "data").rglob("evil.txt"))
    assert not list(tmp_path.glob("*evil*"))


def test_inspect_reads_the_manifest(archive: Path, corpus_kb: KnowledgeBase):
    info = inspect_snapshot(archive)
    assert info.collection == "documents" and info.embedding_dim == 384
    assert info.embedding_model == "all-MiniLM-L6-v2#openvino-int8"
    manifest = json.loads(_members(archive)[MANIFEST])
    assert manifest["format"] == "rag-pdf-chat-snapshot" and manifest["version"] == 1
    assert all(len(m["sha256"]) == 64 for m in manifest["members"].values())
    first = np.load(io.BytesIO(_members(archive)["vectors/000000.npy"]))
    assert first.dtype == np.float32 and first.shape[1] == 384


def test_a_store_failure_half_way_leaves_no_partial_collection(
    embeddings: Embeddings, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from rag_core.index import snapshot

    engine = Engine(settings_for(tmp_path / "data"), embeddings)
    calls = []

    def failing_upsert(self, records):
        calls.append(records)
        raise ValueError("the disk is full")

    monkeypatch.setattr(snapshot.DocumentRegistry, "upsert_many", failing_upsert)
    with pytest.raises(RagError, match=r"importing corpus\.zip failed, nothing kept"):
        engine.import_collection(archive, name="half")
    assert calls  # the chunks were written to staging before the failure
    assert list_collections(engine.settings) == {}
    assert not (tmp_path / "data" / ".imports").exists()


def test_an_import_killed_before_or_during_its_switch_is_undone_or_finished(
    embeddings: Embeddings, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from rag_core.index import snapshot

    engine = Engine(settings_for(tmp_path / "data"), embeddings)
    client = engine.knowledge_base().client
    # killed while writing: a staging collection and its directory are left
    leftover = "0123456789abcdef-import"
    VectorStore(client, leftover, model_name="m", dimension=lambda: 3)
    (tmp_path / "data" / ".imports" / leftover).mkdir(parents=True)

    # killed during the switch: the chunks have their name, the document list not yet
    real_switch = snapshot._switch

    def killed(client, settings, staged):
        target = (staged / snapshot.SWITCH_MARK).read_text()
        client.get_collection(staged.name).modify(name=target)
        raise KeyboardInterrupt  # stands for the kill

    monkeypatch.setattr(snapshot, "_switch", killed)
    with pytest.raises(KeyboardInterrupt):
        engine.import_collection(archive, name="moved")
    names = {c.name for c in client.list_collections()}
    assert leftover not in names  # undone by this import's start
    assert "moved" in names and "moved.registry" not in names

    monkeypatch.setattr(snapshot, "_switch", real_switch)
    assert snapshot.recover_interrupted_imports(client, engine.settings) == ["moved"]
    moved = engine.knowledge_base("moved")
    assert len(moved.documents()) == 2 and moved.keyword_index.search("Knuth TeX", 3)
    assert moved.files.find(moved.documents()[0].sha256) is not None
    assert not (tmp_path / "data" / ".imports").exists()
