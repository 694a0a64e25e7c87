"""The CLI searches across languages like the app: documents, retrieve and eval with the
test Ollama server translating from ``tests/data/translations.json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA, LSHORT, pdf_pages
from tests.e2e.test_cli import run_cli
from tests.ollama_server import FakeOllamaServer, translation_source

FIRST, LAST = 55, 66
"""Pages of lshort.pdf in the English store; page p of the PDF is p - FIRST + 1 there."""


@pytest.fixture(scope="module")
def en_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with twelve pages of lshort.pdf, ingested by the CLI."""
    root = tmp_path_factory.mktemp("cli-en")
    pdf = root / "lshort.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, FIRST, LAST))
    done = run_cli("ingest", str(pdf), data_dir=root / "data")
    assert done.returncode == 0, done.stderr
    return root / "data"


@pytest.fixture
def translator() -> Iterator[FakeOllamaServer]:
    table = json.loads((DATA / "translations.json").read_text(encoding="utf-8"))
    with FakeOllamaServer(translations=table) as server:
        yield server


def _korean_items(tmp_path: Path) -> tuple[Path, list[dict]]:
    """The Korean questions of qa_dev_en2ko.jsonl whose answer pages are in the store."""
    rows = [json.loads(line) for line in (DATA / "qa_dev_en2ko.jsonl").read_text().splitlines()]
    picked = [
        {**row, "pages": [p - FIRST + 1 for p in row["pages"]]}
        for row in rows
        if row["pages"] and all(FIRST <= p <= LAST for p in row["pages"])
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked))
    return path, picked


def test_documents_json_lists_each_documents_languages(en_store: Path):
    listed = run_cli("documents", "--json", data_dir=en_store)
    [doc] = json.loads(listed.stdout.strip().splitlines()[-1])
    assert doc["languages"] == "en"


def test_eval_json_lists_the_queries_of_each_question(
    en_store: Path, translator: FakeOllamaServer, tmp_path: Path
):
    qa, items = _korean_items(tmp_path)
    assert len(items) >= 2
    done = run_cli("eval", str(qa), "--json", data_dir=en_store, ollama=translator.url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["translated"] == len(items)
    assert [q["queries"] for q in report["per_question"]] == [
        [item["question"], item["source_question"]] for item in items
    ]
    assert report["overall"]["recall@5"] == 1.0
    sent = [translation_source(body) for body in translator.chat_requests]
    assert sent == [item["question"] for item in items]  # one request per question


def test_eval_show_queries_prints_a_table_and_notes_a_missing_model(en_store: Path, tmp_path: Path):
    qa, items = _korean_items(tmp_path)
    done = run_cli("eval", str(qa), "--show-queries", data_dir=en_store)  # no Ollama
    assert done.returncode == 0, done.stderr
    assert "queries searched" in done.stdout
    for item in items:
        assert f"{item['id']}" in done.stdout and item["question"] in done.stdout
    assert "could not translate" in done.stderr and "ollama serve" in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["translated"] == 0


def test_retrieve_searches_in_translation(en_store: Path, translator: FakeOllamaServer):
    row = json.loads((DATA / "qa_dev_en2ko.jsonl").read_text().splitlines()[13])  # lshort-14
    assert row["id"] == "lshort-14"
    done = run_cli("retrieve", row["question"], "--json", data_dir=en_store, ollama=translator.url)
    assert done.returncode == 0, done.stderr
    assert row["source_question"] in done.stderr  # (searched for: ...)
    pages = [c["page"] for c in json.loads(done.stdout.strip().splitlines()[-1])]
    assert row["pages"][0] - FIRST + 1 in pages
