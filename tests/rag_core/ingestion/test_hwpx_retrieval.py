"""HWPX through THE pipeline into a real knowledge base: articles, cells, citations.

The 여비 규정 of tests/hwp_docs.py (built with python-hwpx) is ingested once; every article
and every table cell must be findable, a question about one cell must get a passage with
the row's label and the value together, and a source is cited by its heading path and
paragraph number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.splitting import build_splitter, iter_chunks
from rag_core.ingestion.tables import TABLE_KEY
from rag_core.knowledge_base import KnowledgeBase
from tests import hwp_docs
from tests.conftest import settings_for
from tests.hwp_docs import (
    ALLOWANCE_CAPTION,
    ALLOWANCE_HEADER,
    ALLOWANCES,
    ARTICLES,
    FARE_CAPTION,
    FARE_HEADER,
    FARES,
)

TABLES = [(ALLOWANCE_HEADER, ALLOWANCES), (FARE_HEADER, FARES)]
CAPTIONS = {ALLOWANCE_CAPTION, FARE_CAPTION}


@pytest.fixture(scope="module")
def regulation_kb(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings):
    """A knowledge base holding the regulation as HWPX."""
    data_dir: Path = tmp_path_factory.mktemp("hwpx-kb")
    kb = KnowledgeBase(settings_for(data_dir), embeddings)
    result = kb.ingest_bytes("여비규정.hwpx", hwp_docs.regulation_hwpx())
    assert result.status == "indexed", result.error
    assert result.pages == 18  # paragraphs
    return kb


@pytest.mark.parametrize(("title", "body"), ARTICLES, ids=[a[0] for a in ARTICLES])
def test_every_article_is_findable_and_cited_by_its_heading_path(regulation_kb, title, body):
    hits = regulation_kb.retrieve(body, k=5)
    found = [d for d in hits if f"{title} {body}" in d.page_content]
    assert found, [d.page_content[:60] for d in hits]
    meta = found[0].metadata
    assert meta["page_label"].endswith(title) and meta["kind"] == "hwpx"
    assert meta["page"] >= 2  # the paragraph number (1 is the title)


def cell_questions():
    for header, rows in TABLES:
        for row in rows:
            for column, value in zip(header[1:], row[1:], strict=True):
                name = column.split("(")[0]
                yield pytest.param(row[0], name, value, id=f"{row[0]}-{name}")


@pytest.mark.parametrize(("label", "column", "value"), list(cell_questions()))
def test_a_question_about_one_cell_gets_its_row_label_and_value_together(
    regulation_kb, label, column, value
):
    hits = regulation_kb.retrieve(f"{label}의 {column}는 얼마인가?", k=5)
    rows = [line for d in hits for line in d.page_content.split("\n") if line.startswith("|")]
    assert any(f"| {label} |" in line and f" {value} " in line for line in rows)


def test_the_chapter_and_article_make_the_label_of_a_table_passage(regulation_kb):
    hits = regulation_kb.retrieve("과장 숙박비 식비 일비 직급", k=5)
    table = next(d for d in hits if d.metadata.get(TABLE_KEY))
    assert table.metadata["page_label"] == "제2장 국내 출장 > 제3조(일비)"
    assert table.page_content.startswith(
        ALLOWANCE_CAPTION + "\n| 직급 | 일비(원) | 숙박비(원) | 식비(원) |\n| --- |"
    )


@pytest.mark.parametrize("make", [hwp_docs.regulation_hwpx, hwp_docs.regulation_hwp])
def test_every_chunk_of_a_table_repeats_its_caption_and_header_and_keeps_rows_whole(make):
    loaded = load_bytes("r.hwpx" if make is hwp_docs.regulation_hwpx else "r.hwp", make())
    chunks = list(iter_chunks(loaded.pages, build_splitter(120, 20)))
    tables = [c for c in chunks if c.metadata.get(TABLE_KEY)]
    assert len(tables) >= 4  # small chunks: each table is cut into several
    all_rows = {"| " + " | ".join(r) + " |" for _, rows in TABLES for r in rows}
    seen = set()
    for chunk in tables:
        caption, head, separator, *rows = chunk.page_content.split("\n")
        assert caption in CAPTIONS  # the line above the table, repeated like the header
        assert head in {"| " + " | ".join(h) + " |" for h, _ in TABLES}
        assert separator.startswith("| --- |") and rows
        assert set(rows) <= all_rows
        seen.update(rows)
    assert seen == all_rows
    assert len({c.id for c in chunks}) == len(chunks)
