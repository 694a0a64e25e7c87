"""'Show in the document' for HWP/HWPX: the cited paragraph with its neighbours, marked."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_core.errors import DocumentError
from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.splitting import build_splitter, iter_chunks
from rag_core.sources.document_view import paragraph_view
from tests import hwp_docs


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stored") / "0123.hwpx"
    path.write_bytes(hwp_docs.regulation_hwpx())
    return path


def test_every_chunk_is_located_in_its_paragraph(stored: Path):
    chunks = list(iter_chunks(load_bytes("r.hwpx", stored.read_bytes()).pages, build_splitter()))
    for chunk in chunks:
        view = paragraph_view(stored, chunk.metadata["page"], chunk.page_content, neighbours=1)
        assert view.found and view.n_paragraphs == 18
        marked = [p for p in view.paragraphs if p.highlighted]
        assert marked and all(p.number >= chunk.metadata["page"] for p in marked)
        squeezed = "".join(chunk.page_content.split())
        assert any("".join(p.text.split()) in squeezed for p in marked)
        label = marked[0].label or str(marked[0].number)  # no heading: the number
        assert label == chunk.metadata["page_label"]


def test_a_table_cell_passage_marks_the_table_with_one_neighbour_each_side(stored: Path):
    passage = "| 직급 | 일비(원) | 숙박비(원) | 식비(원) |\n| --- | --- | --- | --- |\n| 과장 | 50,000 | 110,000 | 35,000 |"
    view = paragraph_view(stored, 5, passage, neighbours=1)
    assert [(p.number, p.highlighted, p.table) for p in view.paragraphs] == [
        (7, False, False),
        (8, True, True),
        (9, False, False),
    ]
    assert view.paragraphs[0].text == hwp_docs.ALLOWANCE_CAPTION


def test_a_passage_not_in_the_document_shows_the_cited_paragraph_unmarked(stored: Path):
    view = paragraph_view(stored, 13, "전혀 다른 문장입니다", neighbours=1)
    assert not view.found
    assert [p.number for p in view.paragraphs] == [12, 13, 14]
    assert not any(p.highlighted for p in view.paragraphs)


def test_a_damaged_stored_file_raises_a_document_error(tmp_path: Path):
    path = tmp_path / "bad.hwpx"
    path.write_bytes(hwp_docs.regulation_hwpx()[:2000])
    with pytest.raises(DocumentError):
        paragraph_view(path, 1, "x")
