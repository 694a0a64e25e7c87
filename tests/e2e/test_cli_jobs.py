"""The durable ingest queue through the command line: kill -9 and resume, jobs, cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from langchain_core.embeddings import Embeddings

from rag_core.engine import Engine
from rag_core.ingestion.jobs import JobRecords
from rag_core.ingestion.loaders import sha256_hex
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, LSHORT_KO, REPO, pdf_pages, settings_for
from tests.e2e.test_cli import run_cli


def start_cli(*args: str, data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, RAG_OLLAMA_HOST="http://127.0.0.1:9", HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "rag_core", "--data-dir", str(data_dir), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class HeldEmbeddings(Embeddings):
    """The real model; once :attr:`hold` is set, its second call waits for :attr:`released`.

    So a running job is still running when another process cancels it, however fast
    this machine embeds (a 153-page PDF took half a minute on a busy machine and less
    than the CLI's start-up on a quiet one).
    """

    def __init__(self, model: Embeddings) -> None:
        self.model = model
        self.hold = threading.Event()
        self.held = threading.Event()
        self.released = threading.Event()
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.hold.is_set():
            self.calls += 1
            if self.calls == 2:  # the first batch is stored: the job is embedding
                self.held.set()
                self.released.wait(120)
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def wait_for_status(
    data_dir: Path, name: str, status: str, stage: str = "", timeout_s: float = 240.0
):
    """Poll the queue's records (another process's view) until ``name`` reaches ``status``.

    With ``stage``, also until its latest progress event is of that stage ("store": a
    batch of its chunks is stored).
    """
    path = data_dir / "queue" / "jobs.sqlite3"
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    records = JobRecords(path)
    try:
        while True:
            found = [r for r in records.list() if r.name == name]
            if found and found[-1].status == status:
                progress = found[-1].progress
                if not stage or (progress is not None and progress.stage == stage):
                    return found[-1]
            assert time.monotonic() < deadline, [(r.name, r.status) for r in records.list()]
            time.sleep(0.02)
    finally:
        records.close()


def all_chunk_ids(kb: KnowledgeBase) -> set[str]:
    return set(kb.store.collection.get(include=[])["ids"])


def make_files(tmp_path: Path) -> list[Path]:
    files = []
    for name, source, first, last in (
        ("one.pdf", LSHORT, 13, 22),
        ("two.pdf", LSHORT, 23, 62),  # 40 pages: embedding takes a while
        ("three.pdf", LSHORT_KO, 13, 22),
    ):
        path = tmp_path / name
        path.write_bytes(pdf_pages(source, first, last))
        files.append(path)
    return files


def test_kill_9_during_a_multi_file_ingest_then_resume_gives_a_clean_ingest(
    tmp_path: Path, embeddings: Embeddings
):
    files = make_files(tmp_path)
    data = tmp_path / "data"
    cli = start_cli("ingest", *map(str, files), data_dir=data)
    try:
        wait_for_status(data, "two.pdf", "embedding", "store")  # some chunks are stored
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    assert cli.returncode == -signal.SIGKILL
    kb = KnowledgeBase(settings_for(data), embeddings)
    two = sha256_hex(files[1].read_bytes())
    assert [d.name for d in kb.documents()] == ["one.pdf"]  # two.pdf is not listed half-done
    assert kb.store.chunk_ids(two), "the kill came after some chunks of two.pdf were stored"
    assert len(list((data / "queue" / "spool").iterdir())) == 2  # two.pdf, three.pdf

    resumed = run_cli("jobs", "resume", data_dir=data)
    assert resumed.returncode == 0, resumed.stderr
    assert "indexed: two.pdf" in resumed.stdout and "indexed: three.pdf" in resumed.stdout
    again = run_cli("ingest", *map(str, files), data_dir=data)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged:") == 3 and "0 embedded" in again.stdout

    clean_dir = tmp_path / "clean"
    clean = KnowledgeBase(settings_for(clean_dir), embeddings)
    for path in files:
        assert clean.ingest_path(path).status == "indexed"
    kb = KnowledgeBase(settings_for(data), embeddings)
    assert all_chunk_ids(kb) == all_chunk_ids(clean)
    assert kb.store.count() == clean.store.count()  # no chunk twice
    names = [d.name for d in kb.documents(include_incomplete=True)]
    assert sorted(names) == ["one.pdf", "three.pdf", "two.pdf"]  # each once, all complete
    assert not kb.registry.incomplete()
    for path in files:
        sha = sha256_hex(path.read_bytes())
        assert kb.keyword_index.document_chunk_ids(sha) == clean.keyword_index.document_chunk_ids(
            sha
        )
    assert not list((data / "queue" / "spool").iterdir())
    listed = run_cli("jobs", "--json", data_dir=data)
    jobs = json.loads(listed.stdout.strip().splitlines()[-1])
    assert {j["status"] for j in jobs} == {"done"}


def test_the_cli_cancels_a_job_another_process_is_running(tmp_path: Path, embeddings: Embeddings):
    data = tmp_path / "data"
    held = HeldEmbeddings(embeddings)
    engine = Engine(settings_for(data), held)  # the app
    kb = engine.knowledge_base()
    old = kb.ingest_bytes("manual.pdf", pdf_pages(LSHORT, 13, 15))
    new_bytes = LSHORT.read_bytes()  # 153 pages
    held.hold.set()  # the new file's second embedding call waits until the CLI cancelled
    job = engine.submit("upload-1", "manual.pdf", new_bytes)
    assert held.held.wait(120)  # its first batch is stored, the second one waits
    assert engine.job_queue().get(job.id).status in ("reading", "embedding")

    cancelled = run_cli("jobs", "cancel", job.id[:8], data_dir=data)
    held.released.set()
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelling: manual.pdf" in cancelled.stdout
    assert engine.job_queue().wait([job.id], timeout_s=120)
    assert engine.job_queue().get(job.id).status == "cancelled"
    new_sha = sha256_hex(new_bytes)
    assert kb.registry.get(new_sha) is None and not kb.store.chunk_ids(new_sha)
    assert not kb.keyword_index.document_chunk_ids(new_sha) and kb.files.find(new_sha) is None
    [doc] = engine.documents()
    assert doc.sha256 == old.sha256 and kb.store.chunk_ids(old.sha256)
    assert kb.store.count() == len(kb.store.chunk_ids(old.sha256))
    assert not list((data / "queue" / "spool").iterdir())

    listed = run_cli("jobs", "--json", data_dir=data)
    assert listed.returncode == 0, listed.stderr
    [shown] = json.loads(listed.stdout.strip().splitlines()[-1])
    assert set(shown) == {
        "id", "key", "collection", "name", "status", "reason", "stage", "done", "total",
        "result",
    }  # fmt: skip
    assert (shown["id"], shown["name"], shown["collection"]) == (job.id, "manual.pdf", "documents")
    assert (shown["status"], shown["result"]) == ("cancelled", None)
    text = run_cli("jobs", data_dir=data)
    assert f"{job.id[:12]}\tdocuments\tcancelled\tmanual.pdf" in text.stdout
    assert run_cli("--collection", "papers", "jobs", "--json", data_dir=data).stdout.strip() == "[]"
    unknown = run_cli("jobs", "cancel", "ffffffff", data_dir=data)
    assert unknown.returncode == 1 and "no job" in unknown.stderr
    assert "nothing to resume" in run_cli("jobs", "resume", data_dir=data).stdout
