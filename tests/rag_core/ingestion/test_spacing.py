"""Korean word spacing restored with Kiwi: only spaces inserted, offsets mapped back."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.spacing import (
    LOST_SPACING_SHARE,
    insert_spaces,
    long_token_share,
    lost_spacing,
    respace,
)
from rag_core.ingestion.splitting import build_splitter, split_pages
from rag_core.sources.page_view import render_cited_page
from tests.conftest import LSHORT_KO, pdf_pages

GLUED = re.compile(r"(?<=[\uac00-\ud7a3]) (?=[\uac00-\ud7a3])")


@pytest.fixture(scope="module")
def page43() -> str:
    """lshort-ko.pdf p. 43 as pypdf reads it ("가운데정렬한다": glued by the extractor)."""
    return PdfReader(LSHORT_KO).pages[42].extract_text()


def nonspace(text: str) -> str:
    return "".join(text.split())


def test_insert_spaces_keeps_whitespace_and_rejects_changed_characters():
    result = insert_spaces("가운데정렬한다\n다음 줄", "가운데 정렬한다 다음줄")
    assert result is not None
    assert result.text == "가운데 정렬한다\n다음 줄"  # the space removed by Kiwi stays
    assert result.inserted == 1
    assert insert_spaces("가운데정렬한다", "가운대 정렬한다") is None


def test_respace_restores_glued_words_and_maps_offsets_back(page43):
    assert "가운데정렬한다" in page43
    result = respace(page43)
    assert result is not None and result.inserted > 0
    assert "가운데 정렬한다" in result.text
    assert nonspace(result.text) == nonspace(page43)
    assert len(result.offsets) == len(result.text) + 1
    for index, char in enumerate(result.text):
        if not char.isspace():
            assert page43[result.to_original(index)] == char
    start = result.text.index("가운데 정렬한다")
    end = start + len("가운데 정렬한다")
    assert page43[result.to_original(start) : result.to_original(end)] == "가운데정렬한다"


def test_lost_spacing_is_detected_and_normal_korean_left_alone(page43):
    assert not lost_spacing(page43)
    glued = GLUED.sub("", page43)  # every space between Hangul syllables lost
    before = long_token_share(glued)
    assert before is not None and before >= LOST_SPACING_SHARE and lost_spacing(glued)
    result = respace(glued)
    assert result is not None and nonspace(result.text) == nonspace(page43)
    after = long_token_share(result.text)
    assert after is not None and after < LOST_SPACING_SHARE < before
    assert not lost_spacing("English only text " * 20)


def test_respaced_chunks_keep_offsets_into_the_extracted_text(page43):
    glued = GLUED.sub("", page43)
    loaded = load_bytes("glued.txt", glued.encode(), korean_spacing=True)
    chunks = split_pages(loaded.pages, build_splitter(500, 50))
    assert chunks and all(c.metadata["respaced"] for c in chunks)
    assert "_respaced" not in chunks[0].metadata
    for chunk in chunks:
        start, end = chunk.metadata["source_start_index"], chunk.metadata["source_end_index"]
        assert nonspace(glued[start:end]) == nonspace(chunk.page_content)
    plain = load_bytes("glued.txt", glued.encode(), korean_spacing=False)
    assert plain.pages[0].page_content == glued
    assert "respaced" not in split_pages(plain.pages, build_splitter(500, 50))[0].metadata


def test_page_view_locates_a_respaced_passage(tmp_path, page43):
    pdf = tmp_path / "p43.pdf"
    pdf.write_bytes(pdf_pages(LSHORT_KO, 43, 43))
    result = respace(page43)
    assert result is not None
    start = result.text.index("가운데 정렬한다")
    passage = result.text[max(0, start - 100) : start + 100]
    view = render_cited_page(pdf, 1, passage, scale=0.5)
    assert view.found and view.boxes
