"""The Documents page, headless: uploads (bad, encrypted, hostile names), delete, re-index."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_core.index.embeddings import embedding_identity
from rag_core.ingestion.progress import IngestProgress
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, pdf_pages, settings_for, text_pdf
from tests.ollama_server import FakeOllamaServer
from tests.ui.conftest import settle
from ui.documents import progress_text
from ui.text import escape_markdown


def test_upload_indexes_good_files_and_reports_the_bad_one(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    assert any("No documents yet" in i.value for i in app.info)
    settle(
        app.file_uploader[0]
        .set_value(
            [
                ("intro.pdf", pdf_pages(LSHORT, 15, 16), "application/pdf"),
                ("broken.pdf", b"%PDF-1.5\n" + b"garbage" * 50, "application/pdf"),
                ("notes.txt", b"Walruses live in the Arctic.", "text/plain"),
            ]
        )
        .run()
    )
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


PASSWORD = "0pen-sesame-42"


def _errors(app) -> list[str]:
    return [e.value.replace("\\", "") for e in app.error]  # messages are escaped markdown


def test_encrypted_upload_asks_for_the_password_then_ingests(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    locked = text_pdf(["Narwhals have one long tusk."], user_password=PASSWORD)
    settle(
        app.file_uploader[0]
        .set_value(
            [
                ("locked.pdf", locked, "application/pdf"),
                ("notes.txt", b"Walruses live in the Arctic.", "text/plain"),
            ]
        )
        .run()
    )
    assert not app.exception
    assert any("locked.pdf" in e and "password" in e for e in _errors(app)), _errors(app)
    assert list(app.dataframe[0].value["Name"]) == ["notes.txt"]

    settle(app.text_input(key="pdf_password").set_value("wrong-one").run())
    assert any("locked.pdf: wrong password" in e for e in _errors(app)), _errors(app)
    assert list(app.dataframe[0].value["Name"]) == ["notes.txt"]

    settle(app.text_input(key="pdf_password").set_value(PASSWORD).run())
    assert not app.exception and not app.error
    assert sorted(app.dataframe[0].value["Name"]) == ["locked.pdf", "notes.txt"]
    successes = [s.value.replace("\\", "") for s in app.main.success]
    assert any(s.startswith("locked.pdf: 1 page") for s in successes), successes
    assert any(s.startswith("notes.txt") for s in successes), successes  # earlier report kept


def test_delete_with_confirmation_removes_the_document_everywhere(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    walrus = b"Walruses live in the Arctic and have long tusks."
    settle(
        app.file_uploader[0]
        .set_value(
            [
                ("walrus.txt", walrus, "text/plain"),
                ("penguin.txt", b"Penguins live in Antarctica and cannot fly.", "text/plain"),
                ("copy of walrus.txt", walrus, "text/plain"),
            ]
        )
        .run()
    )
    infos = [i.value.replace("\\", "") for i in app.info]
    assert "copy of walrus.txt is already indexed as walrus.txt (1 chunk)." in infos, infos
    assert sorted(app.dataframe[0].value["Name"]) == ["penguin.txt", "walrus.txt"]

    app.multiselect(key="delete_names").set_value(["walrus.txt"]).run()
    app.button(key="delete_button").click().run()
    assert any("Delete walrus.txt?" in w.value.replace("\\", "") for w in app.warning)
    assert sorted(app.dataframe[0].value["Name"]) == ["penguin.txt", "walrus.txt"]  # not yet
    app.button(key="delete_confirm").click().run()
    assert not app.exception
    assert "Deleted walrus.txt." in [s.value.replace("\\", "") for s in app.main.success]
    assert list(app.dataframe[0].value["Name"]) == ["penguin.txt"]
    assert "1 document, 1 chunk" in [c.value for c in app.caption]

    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value("Where do walruses with tusks live?").run()
    answer = next(m for m in app.chat_message if m.name == "assistant")
    labels = [e.label for e in answer.expander]
    assert any("penguin\\.txt" in label for label in labels), labels
    assert not any("walrus" in label for label in labels), labels


def test_hostile_file_names_are_shown_as_plain_text(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, monkeypatch
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    before = set(tmp_path.rglob("*"))
    settle(
        app.file_uploader[0]
        .set_value(
            [
                ("../../x.pdf", text_pdf(["Dugongs graze."]), "application/pdf"),
                (
                    "<img src=x onerror=alert(1)>.pdf",
                    text_pdf(["Manatees swim."]),
                    "application/pdf",
                ),
                ("evil\u202efdp.exe.pdf", text_pdf(["Seals sleep."]), "application/pdf"),
            ]
        )
        .run()
    )
    assert not app.exception and not app.error
    names = sorted(app.dataframe[0].value["Name"])  # a dataframe shows plain text
    assert names == ["<img src=x onerror=alert(1)>.pdf", "evilfdp.exe.pdf", "x.pdf"]
    raw = [s.value for s in app.main.success]
    shown = escape_markdown("<img src=x onerror=alert(1)>.pdf")
    assert shown == "\\<img src\\=x onerror\\=alert\\(1\\)\\>\\.pdf"
    assert any(r.startswith(shown + ":") for r in raw), raw
    assert not any("\u202e" in r for r in raw)
    written = set(tmp_path.rglob("*")) - before
    assert written and all(p.is_relative_to(tmp_path / "data") for p in written)


def test_model_switch_offers_a_reindex_button(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, embeddings
):
    data_dir = tmp_path / "data"
    old = KnowledgeBase(settings_for(data_dir), embeddings, model_name="old-model")
    assert old.ingest_bytes("otter.txt", b"Sea otters hold hands while sleeping.").chunks == 1
    app = make_app(data_dir, fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    assert any("old-model" in e and "re-index" in e for e in _errors(app)), _errors(app)
    assert not app.dataframe
    app.button(key="reindex_button").click().run()
    assert not app.exception and not app.error
    assert list(app.dataframe[0].value["Name"]) == ["otter.txt"]
    configured = settings_for(data_dir)
    reopened = KnowledgeBase(configured, embeddings)  # the configured model
    assert reopened.store.collection.metadata["embedding_model"] == embedding_identity(
        configured.embedding_model, configured.embedding_backend
    )
    assert reopened.retrieve("otters sleeping", k=1)[0].metadata["source"] == "otter.txt"


def test_progress_text_shows_units_and_eta():
    event = IngestProgress("a.pdf", "parse", 3, 30, 5.0, 3.0)
    assert progress_text(event, "a\\.pdf") == "a\\.pdf: reading pages 3/30, about 27 s left"
    done = IngestProgress("a.pdf", "embed", 30, 30, 9.0, 4.0)
    assert progress_text(done, "a.pdf") == "a.pdf: embedding chunks 30/30"


def test_documents_page_in_korean(make_app, tmp_path: Path, fake_ollama: FakeOllamaServer):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    app.sidebar.selectbox(key="ui_language").set_value("ko").run()
    assert app.title[0].value == "문서"
    assert any("아직 문서가 없습니다" in i.value for i in app.info)
    locked = text_pdf(["Narwhals have one long tusk."], user_password=PASSWORD)
    settle(
        app.file_uploader[0]
        .set_value(
            [
                ("notes.txt", b"Walruses live in the Arctic.", "text/plain"),
                ("locked.pdf", locked, "application/pdf"),
                ("renamed.pdf", b"just some notes\n" * 20, "application/pdf"),
            ]
        )
        .run()
    )
    assert not app.exception
    assert any("청크 1개를" in s.value and "색인했습니다" in s.value for s in app.main.success)
    assert any("비밀번호를 입력하세요" in e for e in _errors(app)), _errors(app)
    not_pdf = "renamed.pdf: PDF 파일이 아닙니다 (%PDF- 머리글 없음). 이름만 바꾼 파일인가요?"
    assert not_pdf in _errors(app), _errors(app)
    table = app.dataframe[0].value
    assert list(table.columns) == ["이름", "쪽 수", "청크 수", "추가한 때"]
    assert list(table["이름"]) == ["notes.txt"]


def test_ingest_goes_on_in_the_background_while_the_chat_page_answers(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    notes = ("notes.txt", b"Walruses live in the Arctic.", "text/plain")
    settle(app.file_uploader[0].set_value([notes]).run())
    big = ("big.pdf", pdf_pages(LSHORT, 13, 60), "application/pdf")  # 48 pages, ~10 s
    app.file_uploader[0].set_value([notes, big]).run()
    assert app.progress, "the upload returned before its ingest finished"

    app.switch_page("pages/chat.py").run()  # leaving the page does not stop the ingest
    notices = [c.value.replace("\\", "") for c in app.caption]
    assert "Indexing in the background: big.pdf" in notices, notices
    app.chat_input[0].set_value("Where do walruses live?").run()
    answer = next(m for m in app.chat_message if m.name == "assistant")
    assert any("notes\\.txt" in e.label for e in answer.expander)

    app.switch_page("pages/documents.py").run()
    settle(app)
    table = app.dataframe[0].value.set_index("Name")
    assert table.loc["big.pdf", "Pages"] == 48
    assert any(s.value.startswith("big\\.pdf: 48 pages") for s in app.main.success)


@pytest.mark.parametrize(
    ("language", "indexing", "none_yet"),
    [
        ("en", "Your first documents are being indexed", "No documents indexed yet"),
        ("ko", "첫 문서를 색인하는 중입니다", "아직 색인된 문서가 없습니다"),
    ],
)
def test_while_the_first_file_is_indexed_the_chat_page_says_so_once(
    make_app,
    tmp_path: Path,
    fake_ollama: FakeOllamaServer,
    language: str,
    indexing: str,
    none_yet: str,
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.sidebar.selectbox(key="ui_language").set_value(language).run()
    app.switch_page("pages/documents.py").run()
    big = ("big.pdf", pdf_pages(LSHORT, 13, 60), "application/pdf")  # 48 pages, ~10 s
    app.file_uploader[0].set_value([big]).run()
    assert app.progress, "the upload returned before its ingest finished"

    app.switch_page("pages/chat.py").run()
    infos = [i.value for i in app.info]
    assert any(indexing in i for i in infos), infos
    assert not any(none_yet in i for i in infos), infos  # not both at once
    assert any("big.pdf" in c.value.replace("\\", "") for c in app.caption)
    app.switch_page("pages/documents.py").run()
    settle(app)
    app.switch_page("pages/chat.py").run()
    assert not any(indexing in i.value or none_yet in i.value for i in app.info)


@pytest.mark.parametrize(
    ("language", "empty", "renamed"),
    [
        ("en", "empty.txt: the file is empty", "renamed.pdf: this is not a PDF file"),
        ("ko", "empty.txt: 빈 파일입니다", "renamed.pdf: PDF 파일이 아닙니다"),
    ],
)
def test_bad_files_are_reported_at_once_not_after_the_good_ones(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, language: str, empty: str, renamed: str
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.sidebar.selectbox(key="ui_language").set_value(language).run()
    app.switch_page("pages/documents.py").run()
    big = ("big.pdf", pdf_pages(LSHORT, 13, 60), "application/pdf")  # 48 pages, ~10 s
    empty_file = ("empty.txt", b"", "text/plain")
    not_pdf = ("renamed.pdf", b"just some notes\n" * 20, "application/pdf")
    app.file_uploader[0].set_value([big, empty_file, not_pdf]).run()
    assert app.progress, "the big file is still being indexed"  # (issue 21, item 2)
    errors = _errors(app)
    assert any(e.startswith(empty) for e in errors), errors
    assert any(e.startswith(renamed) for e in errors), errors
    settle(app)
    assert list(app.dataframe[0].value.iloc[:, 0]) == ["big.pdf"]


def test_collections_create_upload_search_together_and_delete(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    walrus = ("walrus.txt", b"Walruses live in the Arctic.", "text/plain")
    settle(app.file_uploader[0].set_value([walrus]).run())  # into "documents"

    form = app.get("form")[0]
    form.text_input[0].set_value("papers")
    form.button[0].click().run()  # create and switch
    assert app.sidebar.selectbox(key="collection").value == "papers"
    assert any("No documents yet" in i.value for i in app.info)
    penguin = ("penguin.txt", b"Penguins live in Antarctica.", "text/plain")
    settle(app.file_uploader[0].set_value([penguin]).run())
    assert list(app.dataframe[0].value["Name"]) == ["penguin.txt"]

    app.switch_page("pages/chat.py").run()
    app.sidebar.multiselect(key="also_search").set_value(["documents"]).run()
    app.chat_input[0].set_value("Where do walruses and penguins live?").run()
    answer = next(m for m in app.chat_message if m.name == "assistant")
    labels = " ".join(e.label for e in answer.expander)
    assert "walrus\\.txt" in labels and "penguin\\.txt" in labels, labels

    app.switch_page("pages/documents.py").run()
    app.button(key="delete_collection").click().run()
    app.button(key="delete_collection_confirm").click().run()
    assert not app.exception
    assert "collection" not in [w.key for w in app.sidebar.selectbox]  # one collection left
    assert list(app.dataframe[0].value["Name"]) == ["walrus.txt"]
    assert not (tmp_path / "data" / "collections" / "papers").exists()


def test_an_hwpx_document_counts_paragraphs_not_pages(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    from tests import hwp_docs

    app = make_app(tmp_path / "data", fake_ollama.url)
    app.sidebar.selectbox(key="ui_language").set_value("ko").run()
    app.switch_page("pages/documents.py").run()
    doc = ("여비규정.hwpx", hwp_docs.regulation_hwpx(), "application/octet-stream")
    settle(app.file_uploader[0].set_value([doc]).run())
    [done] = [s.value for s in app.main.success]
    assert "문단" in done and "쪽" not in done, done  # (issue 21, item 3)
    table = app.dataframe[0].value.set_index("이름")
    assert str(table.loc["여비규정.hwpx", "쪽 수"]).startswith("문단 ")
