"""The durable ingest queue with a real store, model and PDFs: statuses, cancel, restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import filelock
import pytest
from langchain_core.embeddings import Embeddings

from rag_core.access import Caller, Role
from rag_core.engine import Engine
from rag_core.errors import CollectionNotFoundError, PasswordRequiredError, PermissionDeniedError
from rag_core.ingest_queue import IngestJob, JobQueue, parallel_parses
from rag_core.ingestion.jobs import CANCELLED, DONE, FAILED
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, pdf_pages, settings_for, text_pdf

BIG = pdf_pages(LSHORT, 13, 60)  # 48 pages: several seconds of parse and embed


def wait_for(engine: Engine, job_id: str, statuses: tuple[str, ...], timeout_s: float = 240.0):
    """Poll the job until its status is one of ``statuses``; return the snapshot."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = engine.job_queue().get(job_id)
        assert job is not None
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"{job.name} stayed {job.status}"
        time.sleep(0.02)


def wait_all(engine: Engine) -> list[IngestJob]:
    assert engine.job_queue().wait(timeout_s=300)
    return engine.jobs()


def spool(data_dir: Path) -> list[Path]:
    return list((data_dir / "queue" / "spool").iterdir())


def assert_no_trace(kb: KnowledgeBase, sha256: str) -> None:
    """Nothing of the document ``sha256`` is stored: chunks, terms, registry row, file."""
    assert kb.registry.get(sha256) is None
    assert not kb.store.chunk_ids(sha256)
    assert not kb.keyword_index.document_chunk_ids(sha256)
    assert kb.files.find(sha256) is None


@pytest.fixture
def engine(tmp_path: Path, embeddings: Embeddings) -> Engine:
    return Engine(settings_for(tmp_path / "data", ingest_parallel_parses=1), embeddings)


def test_files_go_through_queued_reading_embedding_to_done_and_failed(engine: Engine):
    seen: dict[str, set[str]] = {}
    big = engine.submit("big", "big.pdf", BIG)
    notes = engine.submit("notes", "notes.txt", b"Walruses live in the Arctic.")
    empty = engine.submit("empty", "empty.txt", b"")
    assert empty.finished and empty.status == FAILED and "empty" in empty.reason
    assert {big.status, notes.status} <= {"queued", "reading"}
    both_running = False
    while not all(j.finished for j in engine.jobs()):
        jobs = engine.jobs()
        for job in jobs:
            seen.setdefault(job.name, set()).add(job.status)
        running = [j for j in jobs if j.state == "running"]
        both_running |= len(running) == 2  # one embeds while the next one parses
        time.sleep(0.01)
    assert {"reading", "embedding"} <= seen["big.pdf"], seen
    assert both_running, "the next file was not parsed while the first one embedded"
    jobs = {j.name: j for j in engine.jobs()}
    assert jobs["big.pdf"].status == DONE and jobs["big.pdf"].result.chunks > 0
    assert jobs["notes.txt"].status == DONE
    assert engine.job("big").status == DONE
    assert sorted(d.name for d in engine.documents()) == ["big.pdf", "notes.txt"]
    assert not spool(engine.settings.data_dir)
    assert engine.job_queue().unfinished() == 0
    again = engine.submit("big-again", "big.pdf", BIG)
    assert wait_for(engine, again.id, (DONE,)).result.status == "unchanged"


def test_cancel_of_a_queued_job_leaves_nothing(engine: Engine):
    big = engine.submit("big", "big.pdf", BIG)
    wait_for(engine, big.id, ("reading", "embedding"))
    small_pdf = text_pdf(["Narwhals have one long tusk."])
    small = engine.submit("small", "narwhal.pdf", small_pdf)
    other = engine.submit("other", "walrus.txt", b"Walruses live in the Arctic.")
    assert engine.cancel_job(small.id) in ("cancelled", "cancelling")
    jobs = {j.name: j for j in wait_all(engine)}
    assert jobs["narwhal.pdf"].status == CANCELLED
    assert jobs["walrus.txt"].status == DONE and jobs["big.pdf"].status == DONE
    assert other.id != small.id
    kb = engine.knowledge_base()
    from rag_core.ingestion.loaders import sha256_hex

    assert_no_trace(kb, sha256_hex(small_pdf))
    assert not spool(engine.settings.data_dir)
    assert sorted(d.name for d in engine.documents()) == ["big.pdf", "walrus.txt"]


def test_cancel_of_a_running_job_keeps_the_earlier_version(engine: Engine):
    kb = engine.knowledge_base()
    first = kb.ingest_bytes("report.pdf", pdf_pages(LSHORT, 13, 16))
    first_ids = kb.store.chunk_ids(first.sha256)
    job = engine.submit("v2", "report.pdf", BIG)
    wait_for(engine, job.id, ("embedding",))
    while engine.job_queue().get(job.id).progress.done < 32:  # a first batch is embedded
        time.sleep(0.02)
    assert engine.cancel_job(job.id) == "cancelling"
    assert wait_for(engine, job.id, (CANCELLED, DONE, FAILED)).status == CANCELLED
    from rag_core.ingestion.loaders import sha256_hex

    assert_no_trace(kb, sha256_hex(BIG))
    [doc] = engine.documents()
    assert (doc.sha256, doc.status) == (first.sha256, "complete")
    assert kb.store.chunk_ids(first.sha256) == first_ids
    assert kb.store.count() == len(first_ids)
    assert kb.keyword_index.document_chunk_ids(first.sha256) == first_ids
    assert kb.files.find(first.sha256) is not None
    assert not kb.registry.incomplete()
    assert not spool(engine.settings.data_dir)


def test_a_restarted_queue_takes_up_what_a_dead_worker_left(tmp_path: Path, embeddings):
    """A worker took an item and died (no ack): the next queue object runs it, once."""
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir)
    dead = Engine(settings, embeddings)
    queue = dead.job_queue()
    queue.start = lambda: False  # type: ignore[method-assign]  # the worker never runs here
    taken = queue.submit("documents", "a", "a.pdf", pdf_pages(LSHORT, 15, 17))
    waiting = queue.submit("documents", "b", "b.txt", b"Penguins live in Antarctica.")
    locked = queue.submit(
        "documents", "c", "locked.pdf", text_pdf(["Secret."], user_password="pw"), "pw"
    )
    item = queue._pending.get(block=False, raw=True)  # what a worker does first ...
    assert item["data"] == taken.id
    assert queue.records.start(taken.id)  # ... then it is killed
    queue.close()
    assert len(spool(data_dir)) == 3

    restarted = Engine(settings, embeddings)
    assert restarted.resume_jobs() == 3
    jobs = {j.name: j for j in wait_all(restarted)}
    assert jobs["a.pdf"].status == DONE and jobs["a.pdf"].result.status == "indexed"
    assert jobs["b.txt"].status == DONE
    assert jobs["locked.pdf"].status == FAILED
    assert isinstance(jobs["locked.pdf"].error, PasswordRequiredError)
    assert "enter the password again" in jobs["locked.pdf"].reason
    assert waiting.id == jobs["b.txt"].id and locked.id == jobs["locked.pdf"].id
    names = sorted(d.name for d in restarted.documents())
    assert names == ["a.pdf", "b.txt"]
    assert not spool(data_dir) and restarted.job_queue().unfinished() == 0


def test_a_store_that_fails_to_open_fails_its_file_and_the_worker_goes_on(
    tmp_path: Path, embeddings
):
    settings = settings_for(tmp_path / "data")
    engine = Engine(settings, embeddings)
    queue = engine.job_queue()
    opened = queue.open_kb
    failures = ["broken"]

    def open_kb(collection: str) -> KnowledgeBase:
        # in the worker, a chromadb error of its own (not a RagError), once
        if failures and threading.current_thread().name == "ingest-queue":
            raise ValueError(f"Could not connect to tenant ({failures.pop()})")
        return opened(collection)

    queue.open_kb = open_kb  # type: ignore[method-assign]
    first = queue.submit("documents", "a", "a.txt", b"Walruses live in the Arctic.")
    second = queue.submit("documents", "b", "b.txt", b"Penguins live in Antarctica.")
    assert queue.wait([first.id, second.id], timeout_s=120)
    first, second = queue.get(first.id), queue.get(second.id)
    assert first.status == FAILED and "a.txt: the collection could not be opened" in first.reason
    assert "Could not connect to tenant" in first.reason
    assert second.status == DONE
    assert [d.name for d in engine.documents()] == ["b.txt"]


def test_a_job_recorded_without_its_queue_item_is_repaired(tmp_path: Path, embeddings):
    """Killed between the record and the queue item: the spool is queued again."""
    settings = settings_for(tmp_path / "data")
    engine = Engine(settings, embeddings)
    queue = engine.job_queue()
    queue.start = lambda: False  # type: ignore[method-assign]
    job = queue.submit("documents", "a", "a.txt", b"Seals sleep in the water.")
    lost = queue.records
    lost.add("f" * 32, "gone", "documents", "gone.txt", password=False)  # no spool, no item
    queue._pending.get(block=False, raw=True)
    queue._pending.ack(id=1)  # the item is gone, the record and the spool stay
    with lost._sql() as db:  # both submitted long ago
        db.execute("UPDATE jobs SET submitted_at = 0")
    queue.close()
    restarted = Engine(settings, embeddings)
    restarted.job_queue()._pending.put("nothing-to-see")  # an item without a record
    restarted.resume_jobs()
    jobs = {j.name: j for j in wait_all(restarted)}
    assert jobs["a.txt"].status == DONE and job.id == jobs["a.txt"].id
    assert jobs["gone.txt"].status == FAILED and "add it again" in jobs["gone.txt"].reason
    assert [d.name for d in restarted.documents()] == ["a.txt"]


def test_a_worker_of_another_process_holds_the_queue(engine: Engine):
    """While another process holds the worker lock, jobs wait; then they run here."""
    lease = filelock.FileLock(str(engine.settings.queue_dir / "worker.lock"))
    engine.job_queue()
    holder = threading.Thread(target=lambda: (lease.acquire(), time.sleep(1.5), lease.release()))
    holder.start()
    time.sleep(0.2)
    job = engine.submit("a", "a.txt", b"Otters hold hands.")
    time.sleep(0.8)
    assert engine.job_queue().get(job.id).status == "queued"
    holder.join()
    assert wait_for(engine, job.id, (DONE,)).status == DONE


def test_jobs_and_cancel_check_permissions(tmp_path: Path, embeddings):
    from tests.rag_core.test_access import write_auth

    settings = settings_for(tmp_path / "data", auth_config=write_auth(tmp_path / "auth.yaml"))
    engine = Engine(settings, embeddings)
    alice, bob, dave = Caller("alice"), Caller("bob"), Caller("dave")
    job = engine.submit("a", "a.txt", b"Seals sleep.", "papers", caller=alice)
    engine.access.share("papers", "bob", Role.READER)
    assert [j.id for j in engine.jobs(caller=bob)] == [job.id]
    assert [j.id for j in engine.jobs("papers", caller=bob)] == [job.id]
    assert engine.jobs(caller=dave) == []
    with pytest.raises(PermissionDeniedError):
        engine.cancel_job(job.id, caller=bob)
    with pytest.raises(CollectionNotFoundError):
        engine.cancel_job(job.id, caller=dave)
    with pytest.raises(CollectionNotFoundError):
        engine.cancel_job("0" * 32, caller=alice)
    assert engine.cancel_job(job.id, caller=alice) in ("cancelled", "cancelling", DONE)
    wait_all(engine)


def test_parallel_parses_follow_cores_memory_and_the_setting(monkeypatch):
    assert parallel_parses(3) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert 1 <= parallel_parses() <= 4
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert parallel_parses() == 1


def test_the_queue_reopens_its_records_after_close(tmp_path: Path, embeddings):
    settings = settings_for(tmp_path / "data")
    engine = Engine(settings, embeddings)
    job = engine.submit("a", "a.txt", b"Seals sleep.")
    wait_all(engine)
    engine.job_queue().close()
    queue = JobQueue(settings, Engine(settings, embeddings).knowledge_base)
    assert queue.get(job.id).status == DONE
    assert queue.get(job.id).to_dict()["result"]["chunks"] == 1


def test_a_job_whose_password_a_live_process_holds_is_left_to_that_process(
    tmp_path: Path, embeddings
):
    """Another process's worker skips it (it has no password); the submitter runs it."""
    import os

    from rag_core.ingest_queue import process_token

    settings = settings_for(tmp_path / "data")
    submitter = Engine(settings, embeddings).job_queue()
    submitter.start = lambda: False  # type: ignore[method-assign]  # not yet
    locked = submitter.submit(
        "documents", "l", "locked.pdf", text_pdf(["Walrus secret."], user_password="pw"), "pw"
    )
    plain = submitter.submit("documents", "p", "plain.txt", b"Seals sleep.")
    other = Engine(settings, embeddings).job_queue()
    other.owner = process_token(os.getppid())  # stands for another live process
    assert other.start()
    assert other.wait([plain.id], timeout_s=120)
    time.sleep(0.5)
    assert submitter.get(locked.id).status == "queued"  # skipped, not failed
    del submitter.start  # the submitter's worker runs now, with the password
    assert submitter.start()
    assert submitter.wait([locked.id], timeout_s=120)
    done = submitter.get(locked.id)
    assert (done.status, done.result.status) == (DONE, "indexed")
    other.stop()
