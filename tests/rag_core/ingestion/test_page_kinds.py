"""Pages without text told apart: blank (no ink) is never a suspected scan (issue 21, item 3).

A blank page (no content stream, or rendered nearly white) is "blank"; a page that draws
images but has no text is a suspected scan; one that only draws paths has drawings. Each
kind gets its own note, in English here (the UI's Korean notes: tests/ui/test_page_notes.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.ingestion.loaders import PageStream
from rag_core.ingestion.ocr import OcrOptions
from rag_core.ingestion.progress import IngestProgress, IngestResult, PageNote
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT_KO, settings_for, text_pdf
from tests.scans import drawing_pdf, join_pdfs, scanned_copy, specked_scan_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no Tesseract")


@pytest.fixture(scope="module")
def mixed() -> bytes:
    """Page 1 text, 2 blank (no content stream), 3 a scan, 4 drawings, 5 a specked blank scan."""
    return join_pdfs(
        text_pdf(["Orcas hunt in pods.", ""]),
        scanned_copy(LSHORT_KO, [41], dpi=72),
        drawing_pdf(),
        specked_scan_pdf(),
    )


def read(data: bytes, options: OcrOptions) -> PageStream:
    """A PageStream read to its end (its attributes hold what happened to each page)."""
    with PageStream("mixed.pdf", data, ocr=options) as stream:
        list(stream)
    return stream


def test_with_ocr_off_blank_pages_are_blank_and_only_image_pages_suspected_scans(mixed):
    stream = read(mixed, OcrOptions(mode="off"))
    assert stream.empty_pages == [2, 3, 4, 5]
    assert stream.page_kinds == {2: "blank", 3: "scan", 4: "drawing", 5: "scan"}
    result = IngestResult("mixed.pdf", "", "indexed", empty_pages=[2, 3, 4, 5])
    result.page_kinds = stream.page_kinds
    assert result.notes == [
        PageNote("blank", [2]),
        PageNote("scan", [3, 5]),
        PageNote("drawing", [4]),
    ]
    assert result.warning == (
        "page 2: blank, nothing to read. pages 3, 5: images without text (scanned?); "
        "turn OCR on to read them. page 4: no text, only drawings."
    )


def test_without_tesseract_a_blank_page_is_not_a_page_that_could_not_be_ocrd(mixed, tmp_path: Path):
    stream = read(mixed, OcrOptions(tesseract_cmd=str(tmp_path / "no-tesseract")))
    assert stream.page_kinds == {2: "blank"}  # never sent to OCR: nothing drawn on it
    assert stream.ocr_skipped == {3: "unavailable", 4: "unavailable", 5: "unavailable"}


@needs_tesseract
def test_with_ocr_a_nearly_white_render_is_blank_and_not_read(
    mixed, tmp_path: Path, embeddings: Embeddings
):
    kb = KnowledgeBase(settings_for(tmp_path / "data", ocr_dpi=100), embeddings)
    events: list[IngestProgress] = []
    result = kb.ingest_bytes("mixed.pdf", mixed, progress=events.append)
    assert result.status == "indexed", result.error
    assert result.ocr_pages == [3]
    # 2: no content stream (not even rendered); 4: lines, no text; 5: five specks of dust
    assert result.page_kinds == {2: "blank", 4: "ocr_empty", 5: "blank"}
    assert [e.total for e in events if e.stage == "ocr"][-1] == 3  # pages 3, 4, 5
    assert "scanned" not in result.warning
    assert result.warning.startswith("pages 2, 5: blank, nothing to read. page 3: read by OCR.")
