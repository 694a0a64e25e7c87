"""Backup and restore on the Documents page, headless: export, import, refusals (en, ko)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.engine import Engine
from rag_core.knowledge_base import KnowledgeBase
from tests.ollama_server import FakeOllamaServer


@pytest.fixture(scope="module")
def archive_bytes(corpus_kb: KnowledgeBase, embeddings: Embeddings, tmp_path_factory) -> bytes:
    """The session corpus as a snapshot archive (without the original files: smaller)."""
    target = tmp_path_factory.mktemp("ui-snapshot") / "corpus.zip"
    Engine(corpus_kb.settings, embeddings).export_collection(None, target)
    return target.read_bytes()


def _collections(app) -> list[str]:
    """The sidebar's collection picker options ([] when it is not shown: one collection)."""
    return [o for s in app.sidebar.selectbox if s.key == "collection" for o in s.options]


def _open_panel(app):
    app.switch_page("pages/documents.py").run()
    app.toggle(key="snapshots_open").set_value(True).run()
    assert not app.exception, app.exception
    return app


def test_an_editor_exports_the_collection(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    app = _open_panel(make_app(corpus_kb.settings.data_dir, fake_ollama.url))
    assert not app.get("download_button")
    app.checkbox(key="snapshot_with_files").set_value(False)
    app.button(key="snapshot_prepare").click().run()
    assert not app.exception, app.exception
    chunks = corpus_kb.chunk_count()
    assert any(f"Archive ready: 2 documents, {chunks} chunks" in s.value for s in app.success), [
        s.value for s in app.success
    ]
    [download] = app.get("download_button")
    assert download.proto.label == "Download the archive"


def test_an_archive_is_imported_as_a_new_collection_and_a_damaged_one_refused(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, archive_bytes: bytes
):
    app = _open_panel(make_app(tmp_path / "data", fake_ollama.url))
    app.file_uploader(key="snapshot_file").set_value(
        ("team backup.zip", archive_bytes[: len(archive_bytes) // 3], "application/zip")
    ).run()
    app.button(key="snapshot_import").click().run()
    errors = [e.value.replace("\\", "") for e in app.error]
    assert any("team backup.zip is not a snapshot archive" in e for e in errors), errors
    assert "restored" not in _collections(app)

    app.file_uploader(key="snapshot_file").set_value(
        ("team backup.zip", archive_bytes, "application/zip")
    ).run()
    app.text_input(key="snapshot_name").set_value("restored").run()
    app.button(key="snapshot_import").click().run()
    assert not app.exception, app.exception
    assert any("Imported the collection 'restored': 2 documents" in s.value for s in app.success)
    assert _collections(app) == ["documents", "restored"]

    # the same name again: refused, in Korean too
    app.sidebar.selectbox(key="ui_language").set_value("ko").run()
    app.file_uploader(key="snapshot_file").set_value(
        ("team backup.zip", archive_bytes, "application/zip")
    ).run()
    app.text_input(key="snapshot_name").set_value("restored").run()
    app.button(key="snapshot_import").click().run()
    errors = [e.value.replace("\\", "") for e in app.error]
    assert any("컬렉션 'restored'에 이미 문서가 있습니다" in e for e in errors), errors
