"""The cited page view: the passage highlighted at its place on the rendered page."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from rag_core.errors import DocumentError
from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.splitting import build_splitter, split_pages
from rag_core.sources.page_view import render_cited_page
from tests.conftest import LSHORT, LSHORT_KO, pdf_pages


def _chunks(path, first, last):
    loaded = load_bytes(path.name, pdf_pages(path, first, last))
    return split_pages(loaded.pages, build_splitter(500, 50))


def test_highlight_covers_the_cited_passage(tmp_path):
    pdf = tmp_path / "part.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, 15, 15))
    chunk = next(c for c in _chunks(LSHORT, 15, 15) if "Knuth started writing" in c.page_content)
    view = render_cited_page(pdf, 1, chunk.page_content, scale=1.0)
    assert view.found and len(view.boxes) >= 3
    document = pdfium.PdfDocument(str(pdf))
    textpage = document[0].get_textpage()
    covered = " ".join(
        textpage.get_text_bounded(b.left, b.bottom, b.right, b.top) for b in view.boxes
    )
    document.close()
    assert "Knuth started writing" in " ".join(covered.split())
    assert "Chapter 1" not in covered
    width, height = view.image.size
    assert (width, height) == (596, 842)  # A4 in points at scale 1
    box = view.boxes[0]
    x, y = int((box.left + box.right) / 2), int(height - (box.top + box.bottom) / 2)
    r, g, b = view.image.getpixel((x, y))
    assert b < r - 40 or (r, g, b) < (120, 120, 120)  # yellow tint, or a glyph's ink


def test_korean_passage_is_located(tmp_path):
    pdf = tmp_path / "ko.pdf"
    pdf.write_bytes(pdf_pages(LSHORT_KO, 19, 19))
    chunks = _chunks(LSHORT_KO, 19, 19)
    assert chunks
    assert all(render_cited_page(pdf, 1, c.page_content, scale=0.3).found for c in chunks)


def test_passage_from_another_page_is_not_highlighted(tmp_path):
    pdf = tmp_path / "part.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, 15, 16))
    other = _chunks(LSHORT, 16, 16)[0].page_content
    view = render_cited_page(pdf, 1, other, scale=0.5)
    assert not view.found and view.boxes == [] and view.image.size[0] > 0
    with pytest.raises(DocumentError, match="has no page 9"):
        render_cited_page(pdf, 9, other)


def _covered(pdf, boxes) -> str:
    document = pdfium.PdfDocument(str(pdf))
    textpage = document[0].get_textpage()
    text = " ".join(textpage.get_text_bounded(b.left, b.bottom, b.right, b.top) for b in boxes)
    document.close()
    return " ".join(text.split())


def test_supporting_sentence_is_highlighted_instead_of_the_whole_passage(tmp_path):
    pdf = tmp_path / "part.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, 15, 15))
    chunk = next(c for c in _chunks(LSHORT, 15, 15) if "Knuth started writing" in c.page_content)
    passage = chunk.page_content
    start = passage.index("Knuth started writing")
    sentence = passage[start : passage.index(".", start) + 1]
    whole = render_cited_page(pdf, 1, passage, scale=1.0)
    view = render_cited_page(pdf, 1, passage, sentences=[sentence], scale=1.0)
    assert view.found and view.highlighted == "sentences"
    assert whole.highlighted == "passage"
    assert len(view.boxes) < len(whole.boxes)
    covered = _covered(pdf, view.boxes)
    assert "Knuth started writing" in covered
    first_line_of_passage = " ".join(passage.split())[:30]
    assert first_line_of_passage not in covered

    # a sentence that is not on the page: the whole passage, as before
    fallback = render_cited_page(pdf, 1, passage, sentences=["Not on this page at all."])
    assert fallback.found and fallback.highlighted == "passage"
    assert len(fallback.boxes) == len(whole.boxes)
