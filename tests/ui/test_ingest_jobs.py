"""The Documents page's ingest queue: each file's status and a cancel button, headless."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag_core.ingestion.jobs import JobRecords
from rag_core.ingestion.loaders import sha256_hex
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, pdf_pages, settings_for
from tests.ollama_server import FakeOllamaServer
from tests.ui.conftest import settle

BIG = pdf_pages(LSHORT, 13, 60)  # 48 pages, ~10 s


def job_id(data_dir: Path, name: str) -> str:
    records = JobRecords(data_dir / "queue" / "jobs.sqlite3")
    try:
        [record] = [r for r in records.list() if r.name == name]
        return record.id
    finally:
        records.close()


def rows(app) -> list[str]:
    return [m.value.replace("\\", "") for m in app.main.markdown]


@pytest.mark.parametrize(
    ("language", "statuses", "cancel", "cancelled"),
    [
        ("en", ("queued", "reading", "embedding"), "Cancel", "big.pdf: cancelled"),
        ("ko", ("대기 중", "읽는 중", "임베딩 중"), "취소", "big.pdf: 취소했습니다"),
    ],
)
def test_a_running_file_is_listed_with_its_status_and_cancelled_leaving_nothing(
    make_app,
    tmp_path: Path,
    fake_ollama: FakeOllamaServer,
    embeddings,
    language: str,
    statuses: tuple[str, ...],
    cancel: str,
    cancelled: str,
):
    data_dir = tmp_path / "data"
    app = make_app(data_dir, fake_ollama.url)
    app.sidebar.selectbox(key="ui_language").set_value(language).run()
    app.switch_page("pages/documents.py").run()
    notes = ("notes.txt", b"Walruses live in the Arctic.", "text/plain")
    app.file_uploader[0].set_value([("big.pdf", BIG, "application/pdf"), notes]).run()
    assert not app.exception
    big_id = job_id(data_dir, "big.pdf")
    listed = rows(app)
    assert any(r.startswith("big.pdf: ") and r[9:].startswith(statuses) for r in listed), listed
    button = app.button(key=f"cancel_job_{big_id}")
    assert button.label == cancel
    button.click().run()
    assert not app.exception
    deadline = time.monotonic() + 120
    while any(key.startswith("cancel_job_") for key in (b.key or "" for b in app.button)):
        assert time.monotonic() < deadline, rows(app)
        time.sleep(0.25)
        app.run()
    settle(app)
    infos = [i.value.replace("\\", "") for i in app.info]
    assert any(i.startswith(cancelled) for i in infos), infos
    assert list(app.dataframe[0].value.iloc[:, 0]) == ["notes.txt"]

    kb = KnowledgeBase(settings_for(data_dir), embeddings)
    sha = sha256_hex(BIG)
    assert kb.registry.get(sha) is None and not kb.store.chunk_ids(sha)
    assert not kb.keyword_index.document_chunk_ids(sha) and kb.files.find(sha) is None
    assert not list((data_dir / "queue" / "spool").iterdir())


def test_the_app_takes_up_the_files_a_stopped_app_left_in_the_queue(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, embeddings
):
    from rag_core.engine import Engine

    data_dir = tmp_path / "data"
    stopped = Engine(settings_for(data_dir), embeddings).job_queue()
    stopped.start = lambda: False  # type: ignore[method-assign]  # stopped before it ran
    job = stopped.submit("documents", "left", "left.txt", b"Seals sleep in the water.")
    stopped.close()
    app = make_app(data_dir, fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    deadline = time.monotonic() + 120
    while not app.dataframe or list(app.dataframe[0].value.iloc[:, 0]) != ["left.txt"]:
        assert time.monotonic() < deadline, rows(app)
        time.sleep(0.25)
        app.run()
    assert not app.exception
    records = JobRecords(data_dir / "queue" / "jobs.sqlite3")
    assert records.get(job.id).status == "done"
    assert not list((data_dir / "queue" / "spool").iterdir())
