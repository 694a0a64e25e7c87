"""The Documents page, headless: upload several files, one of them bad."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LSHORT, pdf_pages
from tests.ollama_server import FakeOllamaServer


def test_upload_indexes_good_files_and_reports_the_bad_one(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    assert any("No documents yet" in i.value for i in app.info)
    app.file_uploader[0].set_value(
        [
            ("intro.pdf", pdf_pages(LSHORT, 15, 16), "application/pdf"),
            ("broken.pdf", b"%PDF-1.5\n" + b"garbage" * 50, "application/pdf"),
            ("notes.txt", b"Walruses live in the Arctic.", "text/plain"),
        ]
    ).run()
    assert not app.exception
    errors = [e.value.replace("\\", "") for e in app.error]  # messages are escaped markdown
    assert any("broken.pdf" in e and "damaged" in e for e in errors), errors
    assert len(app.main.success) == 2
    table = app.dataframe[0].value
    assert sorted(table["Name"]) == ["intro.pdf", "notes.txt"]
    assert table.set_index("Name").loc["intro.pdf", "Pages"] == 2
    assert table.set_index("Name").loc["intro.pdf", "Chunks"] > 0

    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value("Where do walruses live?").run()
    answer = next(m for m in app.chat_message if m.name == "assistant")
    assert any("notes\\.txt" in e.label for e in answer.expander)  # escaped markdown
