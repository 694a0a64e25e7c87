"""The Documents page in Korean: notes on pages and refusals wholly in Korean (issue 21).

Item 3: the notice on pages without text was English inside a Korean sentence ("pages 2,
6 have no text: scanned?"), and called blank pages scans; Streamlit's "Choose options"
and "Select all" showed in the delete picker. Item 8: pages over the pixel limit are named
with their size and the limit, and the parse timeout with its seconds, in both languages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ui.documents
import ui.i18n
from rag_core.ingestion.progress import PageNote
from tests.conftest import LSHORT_KO, text_pdf
from tests.ollama_server import FakeOllamaServer
from tests.scans import drawing_pdf, join_pdfs, scanned_copy
from tests.ui.conftest import settle
from ui.documents import error_text, notes_text

LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
ALLOWED = {"OCR", "apt", "get", "install", "tesseract", "ocr", "kor", "dpi"}
"""Latin words a Korean text may hold: the acronym the Korean UI uses for 글자 인식, and
the install command (a command, typed as it is)."""


def english_words(text: str, name: str = "") -> list[str]:
    """Latin words of ``text`` outside ``ALLOWED`` and the file ``name``."""
    plain = text.replace("\\", "").replace(name, "")
    return [w for w in LATIN_WORD.findall(plain) if w not in ALLOWED]


@pytest.fixture
def korean(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI language is Korean for the helpers called outside a page."""
    monkeypatch.setattr(ui.i18n, "ui_language", lambda default="auto": "ko")
    monkeypatch.setattr(ui.documents, "ui_language", lambda default="auto": "ko")


def test_korean_upload_notes_tell_blank_from_scanned_pages_in_korean(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAG_UI_LANGUAGE", "ko")
    monkeypatch.setenv("RAG_OCR", "off")
    data = join_pdfs(
        text_pdf(["Orcas hunt in pods.", ""]),
        scanned_copy(LSHORT_KO, [41], dpi=72),
        drawing_pdf(),
    )
    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    settle(app.file_uploader[0].set_value([("orcas.pdf", data, "application/pdf")]).run())

    [done] = [s.value.replace("\\", "") for s in app.main.success]  # escaped markdown
    assert "2쪽: 빈 쪽이라 읽을 내용이 없습니다." in done
    assert "3쪽: 글자 없이 이미지만 있습니다 (스캔한 쪽?)" in done
    assert "4쪽: 글자 없이 그림만 있습니다." in done
    assert english_words(done, "orcas.pdf") == [], done

    picker = app.multiselect(key="delete_names")
    assert picker.proto.placeholder == "문서를 고르세요"  # not Streamlit's "Choose options"
    assert picker.proto.select_all == 0  # its "Select all" has no text parameter: off


def test_pages_over_the_pixel_limit_are_named_with_size_and_limit(korean):
    notes = [
        PageNote("too_large_image", [2], {"width": 50000, "height": 50000, "limit_mp": 179}),
        PageNote(
            "too_large_page", [3], {"width": 20000, "height": 20000, "limit_mp": 40, "dpi": 100}
        ),
        PageNote("timeout", [5, 6], {"seconds": 60}),
        PageNote(
            "unavailable",
            [7],
            {
                "problem": "Tesseract is not installed: apt-get install tesseract-ocr tesseract-ocr-kor",
                "command": "apt-get install tesseract-ocr tesseract-ocr-kor",
            },
        ),
    ]
    text = notes_text(notes).replace("\\", "")
    assert (
        "2쪽: 이미지 하나가 50000 x 50000 화소로, 글자 인식(OCR)의 이미지 한도 179메가화소" in text
    )
    assert "3쪽: 쪽이 너무 커서" in text and "20000 x 20000 화소라 한도 40메가화소" in text
    assert "5, 6쪽: 글자 인식(OCR)이 제한 시간 60초를 넘겨" in text
    assert "7쪽:" in text and "apt-get install tesseract-ocr tesseract-ocr-kor" in text
    assert english_words(text) == [], text


def test_the_parse_timeout_states_its_seconds_in_korean(korean):
    text = error_text(
        "cpu.pdf",
        "too_complex",
        "cpu.pdf: the PDF is too complex: reading it took longer than 120 s",
        {"seconds": 120},
    )
    assert text.replace("\\", "") == (
        "cpu.pdf: PDF가 너무 복잡합니다. 읽는 데 제한 시간 120초를 넘겼습니다"
    )
    # an error without the seconds (from an older caller) keeps the engine's message
    assert "120 s" in error_text("cpu.pdf", "too_complex", "cpu.pdf: ... longer than 120 s")


def test_the_ocr_bomb_is_refused_in_korean_as_a_bomb(korean):
    text = error_text(
        "bomb.pdf",
        "limit",
        "bomb.pdf: the PDF exceeds the reader's safety limits (decompression bomb?): ...",
        {"page": 2, "limit_mb": 2048},
    )
    assert text.replace("\\", "") == "bomb.pdf: PDF가 읽기 안전 한도를 넘습니다 (압축 폭탄?)"


def test_a_file_over_the_pixel_limit_is_refused_with_its_size_in_korean(korean):
    params = {"page": 1, "width": 50000, "height": 50000, "limit_mp": 179}
    text = error_text("huge.pdf", "ocr_too_large", "huge.pdf: ...", params).replace("\\", "")
    assert "1쪽: 50000 x 50000 화소, 한도 179메가화소" in text
    assert english_words(text, "huge.pdf") == [], text
