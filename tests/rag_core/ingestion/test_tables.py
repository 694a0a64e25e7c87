"""Tables as Markdown rows: spans, the row-wise split with the header repeated, read back."""

from __future__ import annotations

from langchain_core.documents import Document

from rag_core.ingestion.splitting import build_splitter
from rag_core.ingestion.tables import (
    TABLE_KEY,
    fill_spans,
    has_table,
    markdown_table,
    parse_markdown_table,
    split_page_with_tables,
    split_table,
    table_spans,
)

HEADER = "| 직급 | 일비(원) | 숙박비(원) |\n| --- | --- | --- |"


def big_table(rows: int = 40) -> str:
    body = [f"| 직급{i:02d} | {i * 1000:,} | {i * 2000:,} |" for i in range(rows)]
    return HEADER + "\n" + "\n".join(body)


def test_markdown_table_escapes_pipes_collapses_breaks_and_pads_rows():
    text = markdown_table([["a", "b|c"], ["x\ny", None, "z"], ["", ""]])
    assert text.split("\n") == ["| a | b\\|c |  |", "| --- | --- | --- |", "| x y |  | z |"]
    assert markdown_table([["", None]]) == ""


def test_merged_cells_repeat_their_text_in_every_slot():
    grid = fill_spans([(0, 0, 2, 1, "국내"), (0, 1, 1, 1, "일비"), (1, 1, 1, 1, "숙박비")], 2, 2)
    assert grid == [["국내", "일비"], ["국내", "숙박비"]]
    # a crafted span cannot grow the grid beyond the table
    assert fill_spans([(0, 0, 10**9, 10**9, "x")], 2, 2) == [["x", "x"], ["x", "x"]]


def test_tables_are_found_and_prose_with_pipes_is_not_a_table():
    text = "intro line\n" + big_table(3) + "\nafter"
    ((start, end),) = table_spans(text)
    assert text[start:end] == big_table(3)
    assert not has_table("a | b | c\nno separator here")


def test_every_table_chunk_repeats_the_header_and_no_row_is_split():
    table = big_table(40)
    pieces = split_table(table, 100, chunk_size=200)
    assert len(pieces) > 3
    rows = table.split("\n")[2:]
    seen = []
    for piece in pieces:
        lines = piece.text.split("\n")
        assert "\n".join(lines[:2]) == HEADER
        assert all(line in rows for line in lines[2:])  # whole rows only
        seen.extend(lines[2:])
        first_row = lines[2]
        if piece is not pieces[0]:
            assert table[piece.start - 100 :].startswith(first_row)
        assert table[: piece.end - 100].endswith(lines[-1])
    assert seen == rows


def test_a_row_longer_than_the_chunk_size_stays_whole():
    long_row = "| " + "가" * 600 + " | 1 | 2 |"
    pieces = split_table(HEADER + "\n" + long_row, 0, chunk_size=100)
    assert [p.text for p in pieces] == [HEADER + "\n" + long_row]


def test_a_page_with_prose_and_a_table_is_split_apart():
    prose = "제3조(일비) 국내 출장의 일비는 별표 1에 따라 지급한다. " * 12
    page = Document(
        page_content=prose + "\n\n" + big_table(30) + "\n\n끝맺음 문단입니다.",
        metadata={"source": "r.hwpx", "page": 5, "sha256": "0" * 64},
    )
    chunks = split_page_with_tables(page, build_splitter(300, 30))
    tables = [c for c in chunks if c.metadata.get(TABLE_KEY)]
    texts = [c for c in chunks if not c.metadata.get(TABLE_KEY)]
    assert len(tables) >= 3 and all(c.page_content.startswith(HEADER) for c in tables)
    assert texts and all("|" not in c.page_content for c in texts)
    assert chunks[-1].page_content == "끝맺음 문단입니다."
    for chunk in texts:
        start, end = chunk.metadata["start_index"], chunk.metadata["end_index"]
        assert page.page_content[start:end] == chunk.page_content
    assert all(c.metadata["page"] == 5 for c in chunks)


def test_a_chunk_reads_back_as_header_and_rows():
    header, rows = parse_markdown_table(HEADER + "\n| 과장 | 50,000 | a\\|b |")
    assert header == ["직급", "일비(원)", "숙박비(원)"]
    assert rows == [["과장", "50,000", "a|b"]]
    assert parse_markdown_table("no table") is None


def _ruled_pdf() -> bytes:
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    rows = [["Rank", "Daily (KRW)", "Hotel (KRW)"], ["Director", "80,000", "150,000"]]
    rows += [["Manager", "50,000", "110,000"], ["Staff", "40,000", "90,000"]]
    table = Table(rows)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    out = io.BytesIO()
    story = [Paragraph("Table 1. Allowances per day", style), table, Paragraph("End.", style)]
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def test_pdf_tables_are_markdown_rows_only_when_switched_on(monkeypatch):
    from rag_core.ingestion.worker import iter_pdf_pages

    data = _ruled_pdf()
    monkeypatch.setenv("RAG_PDF_TABLES", "auto")
    ((_, text),) = [item for item in iter_pdf_pages("t.pdf", data) if isinstance(item, tuple)]
    assert "Table 1. Allowances per day\n\n| Rank | Daily (KRW) | Hotel (KRW) |\n| --- |" in text
    assert "| Manager | 50,000 | 110,000 |" in text and text.endswith("End.")
    monkeypatch.setenv("RAG_PDF_TABLES", "off")
    ((_, text),) = [item for item in iter_pdf_pages("t.pdf", data) if isinstance(item, tuple)]
    assert "|" not in text and "Manager\n50,000\n110,000" in text  # pypdf: a cell a line
