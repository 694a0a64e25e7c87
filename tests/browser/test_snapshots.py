"""Back up and restore a collection in a real browser: download the archive, upload it."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import Embeddings
from playwright.sync_api import Page, expect

from rag_core.engine import Engine
from rag_core.index.snapshot import inspect_snapshot
from tests.browser.conftest import serve_app
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer


def test_download_the_archive_then_import_it_as_a_new_collection(
    page: Page, tmp_path: Path, embeddings: Embeddings
):
    data = tmp_path / "data"
    engine = Engine(settings_for(data), embeddings)
    walrus = b"Walruses live in the Arctic and use their tusks to climb onto the ice."
    assert engine.ingest("walrus.txt", walrus).status == "indexed"
    with FakeOllamaServer(token_delay=0.0) as ollama, serve_app(data, ollama) as url:
        page.goto(f"{url}/documents")
        page.get_by_text("Back up or restore a collection").click()  # the toggle
        page.get_by_role("button", name="Prepare the archive").click()
        expect(page.get_by_text("Archive ready: 1 documents, 1 chunks")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the archive").click()
        archive = tmp_path / download.value.suggested_filename
        download.value.save_as(archive)
        assert archive.name.startswith("documents-") and archive.suffix == ".zip"
        info = inspect_snapshot(archive)
        assert (info.documents, info.chunks, info.files) == (1, 1, 1)

        page.locator("input[type=file]").last.set_input_files(str(archive))
        name = page.get_by_role("textbox", name="New collection name (empty: the archive's)")
        name.fill("walrus-copy")
        name.press("Enter")
        page.get_by_role("button", name="Import", exact=True).click()
        expect(
            page.get_by_text("Imported the collection 'walrus-copy': 1 documents, 1 chunks")
        ).to_be_visible()
    copy = Engine(settings_for(data), embeddings)
    assert [d.name for d in copy.documents("walrus-copy")] == ["walrus.txt"]
