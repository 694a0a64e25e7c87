"""Switching a collection's embedding model without downtime (rag_core.ingestion.model_switch).

The two models are genuinely different setups of the packaged all-MiniLM-L6-v2: the
suite's openvino-int8 run (identity ``all-MiniLM-L6-v2#openvino-int8``) and the torch fp32
run (identity ``all-MiniLM-L6-v2``), whose vectors differ.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.__main__ import main
from rag_core.config import Settings
from rag_core.index.collections import delete_collection, list_collections
from rag_core.index.embeddings import build_embeddings, embedding_identity, resolve_model_path
from rag_core.index.vector_store import build_chroma_client, run_chroma_server
from rag_core.index.vectors import read_pointer, vectors_name
from rag_core.ingestion.model_switch import SwitchCancelledError, switch_model
from rag_core.ingestion.pipeline import STORE_BATCH
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import REPO, settings_for

NEW = "all-MiniLM-L6-v2"
"""Identity of the torch fp32 vectors."""
TEXTS = {
    "walrus.txt": b"Walruses use their long tusks to haul out onto Arctic sea ice.",
    "penguin.txt": b"Emperor penguins huddle together through the Antarctic winter.",
    "otter.txt": b"Sea otters hold hands while they sleep so they do not drift apart.",
    "camel.txt": b"Camels store fat in their humps and cross deserts for days.",
    "owl.txt": b"Barn owls hunt at night and find mice by sound alone.",
    "bee.txt": b"Honey bees dance to tell the hive where the flowers are.",
}


class Counting(Embeddings):
    """A real model, counting what it embeds; optionally paused or interrupted mid-build."""

    def __init__(self, inner: Embeddings, *, fail_on_call: int = 0) -> None:
        self.inner = inner
        self.documents = 0
        self.queries = 0
        self.calls = 0
        self.fail_on_call = fail_on_call
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("killed")  # as if the process died here
        self.started.set()
        assert self.release.wait(60)
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def torch_minilm() -> Embeddings:
    """all-MiniLM-L6-v2 on PyTorch fp32 (identity "all-MiniLM-L6-v2")."""
    return build_embeddings(NEW, backend="torch")


def _filled(settings: Settings, embeddings: Embeddings, **kwargs: object) -> KnowledgeBase:
    kb = KnowledgeBase(settings, embeddings, **kwargs)  # type: ignore[arg-type]
    for name, text in TEXTS.items():
        assert kb.ingest_bytes(name, text).status == "indexed"
    return kb


def _top(kb: KnowledgeBase, question: str) -> str:
    return str(kb.retriever(mode="dense", k=1).invoke(question)[0].metadata["source"])


def test_the_old_index_answers_during_the_build_the_new_one_after_the_swap(
    tmp_path: Path, embeddings: Embeddings, torch_minilm: Embeddings
):
    settings = settings_for(tmp_path / "data")
    old_model = Counting(embeddings)
    new_model = Counting(torch_minilm)
    kb = _filled(settings, old_model, embeddings_for={NEW: new_model}.__getitem__)
    old_identity = kb.identity
    assert old_identity == embedding_identity(NEW, "openvino-int8") != NEW
    new_model.release.clear()  # the build stops in its first batch
    switch = threading.Thread(
        target=switch_model, args=(settings, new_model, NEW), kwargs={"drop_grace_s": 0.0}
    )
    switch.start()
    assert new_model.started.wait(60)

    before = (old_model.queries, new_model.queries)  # (the dimension probes)
    assert _top(kb, "animals with tusks on the ice") == "walrus.txt"
    assert (old_model.queries, new_model.queries) == (before[0] + 1, before[1])  # the old model
    assert kb.identity == old_identity and read_pointer(kb.client, "documents") is None
    # written meanwhile: reaches the new index by the catch-up under the lock
    assert kb.ingest_bytes("crab.txt", b"Hermit crabs move into bigger shells.").chunks == 1
    assert kb.delete("bee.txt")

    new_model.release.set()
    switch.join(60)
    assert not switch.is_alive()
    kb.follow_vectors()  # what each search does first (it may probe the new model's dimension)
    assert kb.identity == NEW
    before = (old_model.queries, new_model.queries)
    assert _top(kb, "animals with tusks on the ice") == "walrus.txt"
    assert (old_model.queries, new_model.queries) == (before[0], before[1] + 1)  # the new model
    assert kb.store.collection.name == vectors_name("documents", NEW)
    assert kb.store.collection.metadata["embedding_model"] == NEW
    sources = {m["source"] for m in kb.store.collection.get(include=["metadatas"])["metadatas"]}
    assert sources == set(TEXTS) - {"bee.txt"} | {"crab.txt"}
    assert _top(kb, "which animal changes its shell") == "crab.txt"
    # the old vectors are dropped; the collection is listed once, under its own name
    names = {c.name for c in kb.client.list_collections()}
    assert names == {vectors_name("documents", NEW), "documents.registry"}
    assert list_collections(settings) == {"documents": len(TEXTS)}
    # another instance opening it now answers with the new model too
    other = KnowledgeBase(settings, old_model, embeddings_for={NEW: new_model}.__getitem__)
    assert other.identity == NEW and _top(other, "sleeping otters") == "otter.txt"
    assert delete_collection(settings, "documents")
    assert not list(build_chroma_client(settings.chroma_dir).list_collections())


def test_an_interrupted_build_resumes_without_embedding_finished_chunks_again(
    tmp_path: Path, embeddings: Embeddings, torch_minilm: Embeddings
):
    settings = settings_for(tmp_path / "data")
    kb = _filled(settings, embeddings)
    cancel = threading.Event()

    def cancel_after_first_batch(event: object) -> None:
        if getattr(event, "stage", "") == "embed" and getattr(event, "done", 0) >= 2:
            cancel.set()

    first = Counting(torch_minilm)
    with pytest.raises(SwitchCancelledError):
        switch_model(
            settings, first, NEW, batch_size=2, cancel=cancel, progress=cancel_after_first_batch
        )
    killed = Counting(torch_minilm, fail_on_call=2)  # dies in its second batch
    with pytest.raises(RuntimeError, match="killed"):
        switch_model(settings, killed, NEW, batch_size=2)
    assert (first.documents, killed.documents) == (2, 2)
    assert read_pointer(kb.client, "documents") is None  # the old index still answers
    assert _top(kb, "bees dancing") == "bee.txt"

    last = Counting(torch_minilm)
    assert switch_model(settings, last, NEW, batch_size=2, drop_grace_s=0.0) == 2
    assert last.documents == len(TEXTS) - 4  # only what the two runs did not finish
    assert switch_model(settings, last, NEW) == 0  # already switched: nothing to do
    reopened = KnowledgeBase(settings, embeddings, embeddings_for={NEW: torch_minilm}.__getitem__)
    assert reopened.chunk_count() == len(TEXTS)
    assert _top(reopened, "bees dancing") == "bee.txt"


def test_searches_in_a_loop_never_fail_across_the_swap_on_a_shared_chroma_server(
    tmp_path: Path, embeddings: Embeddings, torch_minilm: Embeddings
):
    with run_chroma_server(tmp_path / "server") as url:
        settings = settings_for(tmp_path / "data", chroma_url=url)
        _filled(settings, embeddings)
        # a second app instance (its own data directory) on the same Chroma server
        reader = KnowledgeBase(
            settings_for(tmp_path / "other", chroma_url=url),
            embeddings,
            embeddings_for={NEW: torch_minilm}.__getitem__,
        )
        seen: list[tuple[str, str]] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def search_in_a_loop() -> None:
            while not stop.is_set():
                try:
                    seen.append((reader.identity, _top(reader, "owls hunting mice")))
                except BaseException as exc:  # every failure counts
                    errors.append(exc)

        loop = threading.Thread(target=search_in_a_loop)
        loop.start()
        try:
            switch_model(settings, torch_minilm, NEW, batch_size=2, drop_grace_s=1.0)
            time.sleep(0.5)
        finally:
            stop.set()
            loop.join(30)
    assert not errors, errors[:3]
    identities = [identity for identity, _ in seen]
    assert identities[0] != NEW and identities[-1] == NEW
    assert identities == sorted(identities, key=lambda i: i == NEW)  # old, then new, once
    assert {source for _, source in seen} == {"owl.txt"}


def test_kill_9_during_a_cli_switch_then_the_rerun_embeds_only_what_was_missing(
    tmp_path: Path, embeddings: Embeddings
):
    copy = tmp_path / "models" / "minilm-copy"  # another model: a local folder
    shutil.copytree(resolve_model_path(NEW), copy)
    lines = [
        f"Line {i}: the {i % 97}th walrus counted {i * 7} fish near floe {i % 13}."
        for i in range(800)
    ]
    with run_chroma_server(tmp_path / "server") as url:
        # short chunks: a few hundred of them are quick to embed
        settings = settings_for(tmp_path / "data", chroma_url=url, chunk_size=120, chunk_overlap=0)
        kb = KnowledgeBase(settings, embeddings)
        assert kb.ingest_bytes("census.txt", "\n".join(lines).encode()).status == "indexed"
        assert kb.ingest_bytes("owl.txt", TEXTS["owl.txt"]).status == "indexed"
        total = kb.chunk_count()
        env = {**os.environ, "RAG_CHROMA_URL": url, "RAG_EMBEDDING_BACKEND": "torch"}
        command = [sys.executable, "-m", "rag_core", "--data-dir", str(settings.data_dir)]
        process = subprocess.Popen(
            [*command, "reindex", "--model", str(copy), "--grace", "0"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        staging = vectors_name("documents", str(copy))
        deadline = time.monotonic() + 300
        staged = 0
        while staged < STORE_BATCH:  # the first batches are written: kill it
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
            names = {c.name for c in kb.client.list_collections()}
            staged = kb.client.get_collection(staging).count() if staging in names else 0
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        staged = kb.client.get_collection(staging).count()
        assert STORE_BATCH <= staged < total
        assert read_pointer(kb.client, "documents") is None  # the old index still answers
        assert _top(kb, TEXTS["owl.txt"].decode()) == "owl.txt"

        rerun = Counting(build_embeddings(str(copy), backend="torch"))
        assert switch_model(settings, rerun, str(copy), drop_grace_s=0.0) == total - staged
        assert rerun.documents == total - staged  # nothing embedded twice
        assert kb.retriever(mode="dense", k=1) and kb.identity == str(copy)
        assert kb.chunk_count() == total and _top(kb, TEXTS["owl.txt"].decode()) == "owl.txt"


def test_cli_switches_only_the_collection_named_after_the_command(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    embeddings: Embeddings,
):
    data = tmp_path / "data"
    _filled(settings_for(data), embeddings)
    notes = KnowledgeBase(settings_for(data, collection="notes"), embeddings)
    notes.ingest_bytes("owl.txt", TEXTS["owl.txt"])
    copy = tmp_path / "models" / "minilm-copy"
    shutil.copytree(resolve_model_path(NEW), copy)
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "torch")
    args = ["--data-dir", str(data), "reindex", "--model", str(copy), "--collection", "notes"]
    assert main([*args, "--grace", "0"]) == 0
    captured = capsys.readouterr()
    assert f"re-indexed 1 chunks with {copy}" in captured.out
    assert f"swapped: the collection now answers with {copy}" in captured.err
    pointer = read_pointer(notes.client, "notes")
    assert pointer is not None and pointer.identity == str(copy)
    assert read_pointer(notes.client, "documents") is None  # the other collection: untouched
    assert list_collections(settings_for(data)) == {"documents": len(TEXTS), "notes": 1}
