"""Job records: statuses from the pipeline's stages, moves that a cancel cannot race."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_core.errors import PasswordRequiredError, StoreBusyError
from rag_core.ingestion.jobs import (
    CANCELLED,
    DONE,
    EMBEDDING,
    FAILED,
    OCR,
    QUEUED,
    READING,
    JobRecords,
    status_of_stage,
)
from rag_core.ingestion.progress import IngestProgress, IngestResult


@pytest.fixture
def records(tmp_path: Path) -> JobRecords:
    return JobRecords(tmp_path / "queue" / "jobs.sqlite3")


def event(stage: str, done: int = 1, total: int = 4) -> IngestProgress:
    return IngestProgress("a.pdf", stage, done, total, 1.0, 0.5)


def test_stages_map_to_statuses():
    assert status_of_stage("parse") == READING
    assert status_of_stage("ocr") == OCR
    for stage in ("model", "split", "embed", "store"):
        assert status_of_stage(stage) == EMBEDDING


def test_a_job_moves_from_queued_through_the_stages_to_done(records: JobRecords, tmp_path):
    assert records.add("j1", "k1", "documents", "a.pdf", password=False)
    assert not records.add("j2", "k1", "documents", "a.pdf", password=False)  # same key
    assert records.add("j3", "k1", "papers", "a.pdf", password=True)  # other collection
    assert records.get("j1").status == QUEUED and records.get("j1").progress is None
    records.progress("j1", event("parse"))  # not running yet: ignored
    assert records.get("j1").status == QUEUED
    assert records.start("j1") and not records.start("j1")
    for stage, status in (("parse", READING), ("ocr", OCR), ("embed", EMBEDDING)):
        records.progress("j1", event(stage, 2, 4))
        record = records.get("j1")
        assert (record.status, record.progress.stage, record.progress.done) == (status, stage, 2)
    result = IngestResult("a.pdf", "ab" * 32, "indexed", pages=4, chunks=9, page_kinds={2: "scan"})
    records.finish("j1", DONE, result=result)
    again = JobRecords(tmp_path / "queue" / "jobs.sqlite3").get("j1")  # another connection
    assert again.status == DONE and again.result == result and again.finished_at
    assert records.by_key("papers", "k1").password is True
    assert [r.id for r in records.list()] == ["j1", "j3"]
    assert [r.id for r in records.list("papers", active_only=True)] == ["j3"]


def test_cancel_of_a_queued_job_is_final_and_of_a_running_one_a_request(records: JobRecords):
    records.add("q", "kq", "documents", "q.pdf", password=False)
    assert records.request_cancel("q") == CANCELLED
    assert not records.start("q")  # a worker taking it now finds it cancelled
    assert records.get("q").status == CANCELLED
    records.add("r", "kr", "documents", "r.pdf", password=False)
    records.start("r")
    assert not records.cancel_requested("r")
    assert records.request_cancel("r") == "cancelling"
    assert records.cancel_requested("r") and records.get("r").status == READING
    records.finish("r", CANCELLED)
    assert records.request_cancel("r") == CANCELLED  # already finished: its status
    assert records.request_cancel("nope") == ""


def test_errors_come_back_as_their_own_types(records: JobRecords):
    records.add("p", "kp", "documents", "locked.pdf", password=True)
    records.start("p")
    error = PasswordRequiredError("locked.pdf", "enter the password again", "password_required")
    records.finish("p", FAILED, error=error)
    back = records.get("p")
    assert isinstance(back.error, PasswordRequiredError) and back.error.code == "password_required"
    assert back.reason == "locked.pdf: enter the password again"
    records.add("b", "kb", "documents", "b.pdf", password=False)
    records.finish("b", FAILED, error=StoreBusyError("busy"))
    assert isinstance(records.get("b").error, StoreBusyError)
    failed = IngestResult("c.pdf", "", "failed", error="c.pdf: damaged")
    records.add("c", "kc", "documents", "c.pdf", password=False)
    records.finish("c", FAILED, result=failed)
    assert records.get("c").reason == "c.pdf: damaged"
