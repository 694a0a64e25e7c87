"""Streamlit's own widget texts on the Korean Documents page (issue 21, item 3).

In a ko-KR browser the delete picker said "Choose options" and offered "Select all"; the
file uploader said "Upload", "200MB per file", "Drag and drop files here" and refused a
file with "application/... files are not allowed." or "File must be 200.0MB or smaller.".
Streamlit 1.67 has no parameter or locale for the uploader's texts
(streamlit/streamlit#13500): ``ui.streamlit_texts`` replaces them with a stylesheet, so these
tests read both the page's text (Streamlit's English must be gone) and the generated
content drawn in its place (ours must be there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import serve_app
from tests.ollama_server import FakeOllamaServer

STREAMLIT_PICKER_TEXTS = ["Choose options", "Choose an option", "Select all"]
FILES = [("walrus.txt", "바다코끼리는 북극에 산다."), ("orca.txt", "범고래는 무리 지어 사냥한다.")]
STREAMLIT_UPLOADER_TEXTS = [
    "Drag and drop",
    "Browse files",
    "Upload",
    "per file",
    "not allowed",
    "or smaller",
    "Error",
]
UPLOADER = "[data-testid='stFileUploader']"
DROPZONE = "[data-testid='stFileUploaderDropzone']"
BUTTON_LABEL = f"{DROPZONE} button [data-testid='stMarkdownContainer']"
INSTRUCTIONS = "[data-testid='stFileUploaderDropzoneInstructions'] > div"
DRAG_NOTE = f"{DROPZONE} > div:not([data-testid])"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def after(page: Page, selector: str) -> str:
    """The CSS generated content (``::after``) of the first element matching ``selector``."""
    return page.eval_on_selector(selector, "e => getComputedStyle(e, '::after').content")


def drag_a_file_over(page: Page) -> None:
    transfer = page.evaluate_handle(
        "() => { const d = new DataTransfer();"
        " d.items.add(new File(['x'], 'a.txt', {type: 'text/plain'})); return d; }"
    )
    page.dispatch_event(DROPZONE, "dragenter", {"dataTransfer": transfer})


@dataclass
class KoreanDocuments:
    """The opened page and what its uploader showed before any file was dropped."""

    page: Page
    uploader_text: str  # the text of the page (Streamlit's own words would be here)
    button: str  # the generated content drawn instead
    instructions: str
    dragging_text: str
    dragging_note: str


@pytest.fixture(scope="module")
def korean_documents(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KoreanDocuments]:
    """The Documents page in a ko-KR browser, two text files indexed, the picker opened.

    Two: Streamlit offers "Select all" only while two or more options can be selected. A
    Word file is dropped with them: Streamlit no longer refuses it in English, the queue
    does, in Korean.
    """
    data_dir = tmp_path_factory.mktemp("korean-widgets")
    with FakeOllamaServer() as ollama, serve_app(Path(data_dir), ollama) as url:
        context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            page.goto(f"{url}/documents")
            uploader = page.locator(UPLOADER).first
            expect(uploader).to_contain_text("끌어다 놓으세요")  # our label
            expect(uploader.locator(INSTRUCTIONS)).to_be_attached()
            uploader_text = uploader.inner_text()  # before a file: the drop zone's own texts
            button, instructions = after(page, BUTTON_LABEL), after(page, INSTRUCTIONS)
            drag_a_file_over(page)
            expect(uploader.locator(DRAG_NOTE)).to_be_attached()
            dragging_text, dragging_note = uploader.inner_text(), after(page, DRAG_NOTE)
            page.dispatch_event(DROPZONE, "dragleave")
            page.locator("input[type=file]").first.set_input_files(
                files=[
                    {"name": name, "mimeType": "text/plain", "buffer": text.encode()}
                    for name, text in FILES
                ]
                + [{"name": "memo.docx", "mimeType": DOCX, "buffer": b"PK\x03\x04 not a txt"}]
            )
            expect(page.get_by_text("색인했습니다")).to_have_count(2)
            picker = page.locator("[data-testid='stMultiSelect']").first
            expect(picker.locator("input")).to_have_attribute("placeholder", "문서를 고르세요")
            picker.click()  # the drop-down: where "Select all" was
            expect(page.get_by_text("walrus.txt").last).to_be_visible()
            yield KoreanDocuments(
                page, uploader_text, button, instructions, dragging_text, dragging_note
            )
        finally:
            context.close()


def test_the_delete_picker_shows_no_streamlit_english(korean_documents: KoreanDocuments):
    page = korean_documents.page
    placeholders = page.eval_on_selector_all("[placeholder]", "els => els.map(e => e.placeholder)")
    text = page.locator("body").inner_text() + "\n".join(placeholders)  # drop-down: a portal
    assert "문서를 고르세요" in placeholders
    assert [s for s in STREAMLIT_PICKER_TEXTS if s in text] == []


def test_the_uploader_shows_no_streamlit_english(korean_documents: KoreanDocuments):
    text = korean_documents.uploader_text  # was "... Upload ... 200MB per file • HWP, ..."
    assert [s for s in STREAMLIT_UPLOADER_TEXTS if s in text] == []
    assert korean_documents.button == '"파일 선택"'
    assert korean_documents.instructions.startswith('"파일당 최대 200MB • ')
    assert "PDF" in korean_documents.instructions


def test_a_file_dragged_over_the_uploader_is_asked_for_in_korean(
    korean_documents: KoreanDocuments,
):
    assert "Drag and drop" not in korean_documents.dragging_text
    assert korean_documents.dragging_note == '"여기에 놓으세요"'


def test_the_pages_own_streamlit_texts_are_korean(korean_documents: KoreanDocuments):
    page = korean_documents.page
    link = "[data-testid='stSkipToContent']"  # shown when the keyboard reaches it
    assert after(page, link) == '"본문으로 건너뛰기"'
    assert page.eval_on_selector(link, "e => getComputedStyle(e).fontSize") == "0px"


def test_a_file_of_another_type_is_refused_in_korean_at_once(korean_documents: KoreanDocuments):
    page = korean_documents.page
    expect(page.get_by_text("memo.docx: 지원하지 않는 파일 형식입니다")).to_have_count(1)
    assert "not allowed" not in page.locator(UPLOADER).first.inner_text()


def test_the_english_page_keeps_streamlits_own_texts(
    korean_documents: KoreanDocuments, browser: Browser
):
    url = korean_documents.page.url
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        uploader = page.locator(UPLOADER).first
        expect(uploader).to_contain_text("Drop PDFs")
        expect(uploader.locator(f"{DROPZONE} button")).to_contain_text("Upload")
        expect(uploader).to_contain_text("200MB per file")
        assert after(page, BUTTON_LABEL) == "none"
        assert after(page, "[data-testid='stSkipToContent']") == "none"
    finally:
        context.close()


def test_a_file_over_the_limit_is_refused_in_korean(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
):
    data_dir = tmp_path_factory.mktemp("korean-upload-limit")
    with (
        FakeOllamaServer() as ollama,
        serve_app(Path(data_dir), ollama, STREAMLIT_SERVER_MAX_UPLOAD_SIZE="1") as url,
    ):
        context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{url}/documents")
            expect(page.locator(UPLOADER).first).to_contain_text("끌어다 놓으세요")
            page.locator("input[type=file]").first.set_input_files(
                files=[{"name": "big.txt", "mimeType": "text/plain", "buffer": b"a" * 2**21}]
            )
            chip = page.locator("[data-testid='stFileChip'][aria-invalid='true']")
            expect(chip).to_be_visible()
            assert after(page, "[data-testid='stFileChip'][aria-invalid='true']") == (
                '"1MB보다 커서 올리지 않았습니다"'
            )
            chip.hover()  # Streamlit's tooltip with the English reason
            tooltip = page.locator("[data-testid='stTooltipErrorContent']")
            expect(tooltip).to_be_attached()
            expect(tooltip).to_be_hidden()
            text = page.locator("body").inner_text()
            assert [s for s in STREAMLIT_UPLOADER_TEXTS if s in text] == []
        finally:
            context.close()
