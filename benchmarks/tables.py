"""Table questions: is a cell retrieved with its row's label, with and without table handling?

Run from the repository root::

    python benchmarks/tables.py [--json]

It makes two documents with the same four allowance tables (one per office, 12 ranks x 6
amounts, every amount distinct), each under a caption naming its office, between
paragraphs of prose: a PDF (reportlab, ruled
grid, English) and an HWPX file (python-hwpx, Korean). Each goes through THE pipeline
(``KnowledgeBase.ingest_bytes``) into a fresh store twice:

* with table handling: the PDF with ``RAG_PDF_TABLES=auto`` (the worker's pdfplumber pass)
  and the HWPX parser write each table as Markdown rows, cut between rows with the
  caption and header repeated;
* without: the PDF with the default ``RAG_PDF_TABLES=off`` (pypdf's loose lines), the
  HWPX content as the plain text a table-unaware extractor gives (every cell on a line of
  its own, as ``.txt``).

Every cell gets a question ("What is the hotel allowance of a Manager at the Busan
office?"); a question counts when one of the top-5 hybrid passages holds the row's label
and the cell's value together. Prints the share per document and arm, and the HWPX parse
rate (paragraphs per second of the worker, a long generated regulation).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag_core.config import build_settings  # noqa: E402
from rag_core.ingestion.hwp_worker import HwpMeta, iter_hwp_blocks  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase  # noqa: E402
from tests.conftest import default_embeddings  # noqa: E402

OFFICES = [("Seoul", "서울"), ("Busan", "부산"), ("Jeju", "제주"), ("Daegu", "대구")]
RANKS = [
    ("Director", "이사"),
    ("Manager", "부장"),
    ("Deputy", "차장"),
    ("Section chief", "과장"),
    ("Assistant", "대리"),
    ("Senior staff", "주임"),
    ("Staff", "사원"),
    ("Intern", "인턴"),
    ("Researcher", "연구원"),
    ("Engineer", "기술원"),
    ("Driver", "운전원"),
    ("Guard", "경비원"),
]
COLUMNS = [
    ("daily", "일비"),
    ("hotel", "숙박비"),
    ("meals", "식비"),
    ("mileage", "교통비"),
    ("phone", "통신비"),
    ("parking", "주차비"),
]
N = len(COLUMNS)
PROSE_EN = (
    "Allowances are paid for each day of an approved trip. Claims are filed within seven "
    "days of return, with receipts for hotels; amounts below are the ceilings per day. "
)
PROSE_KO = (
    "여비는 승인된 출장 일수에 따라 지급한다. 출장자는 귀임 후 7일 이내에 영수증을 첨부하여 "
    "정산하며, 아래 금액은 하루 상한액이다. "
)


def amounts(seed: int = 15) -> dict[tuple[int, int, int], str]:
    """A distinct amount (KRW, e.g. "83,400") for every (office, rank, column)."""
    rng = random.Random(seed)
    values = rng.sample(range(100, 2000), len(OFFICES) * len(RANKS) * len(COLUMNS))
    keys = [(o, r, c) for o in range(len(OFFICES)) for r in range(len(RANKS)) for c in range(N)]
    return {key: f"{value * 100:,}" for key, value in zip(keys, values, strict=True)}


def table_pdf(values: dict[tuple[int, int, int], str]) -> bytes:
    """The English document as a PDF with ruled tables (reportlab platypus)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    story: list[object] = []
    for o, (office, _) in enumerate(OFFICES):
        story.append(Paragraph(PROSE_EN * 3, style))
        story.append(Paragraph(f"Table {o + 1}. {office} office: allowances per day", style))
        rows = [["Rank"] + [f"{name} (KRW)" for name, _ in COLUMNS]]
        rows += [[rank] + [values[o, r, c] for c in range(N)] for r, (rank, _) in enumerate(RANKS)]
        table = Table(rows)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
        story += [table, Paragraph(PROSE_EN * 2, style), PageBreak()]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def table_hwpx(values: dict[tuple[int, int, int], str]) -> bytes:
    """The Korean document as HWPX (python-hwpx)."""
    from hwpx import HwpxDocument

    doc = HwpxDocument.new()
    doc.paragraphs[0].text = "여비 지급 기준"
    for o, (_, office) in enumerate(OFFICES):
        doc.add_paragraph(PROSE_KO * 3, style="바탕글")
        doc.add_paragraph(f"<별표 {o + 1}> {office} 사무소 직급별 여비(일액)", style="바탕글")
        table = doc.add_table(len(RANKS) + 1, N + 1)
        header = ["직급"] + [f"{name}(원)" for _, name in COLUMNS]
        rows = [header] + [
            [rank] + [values[o, r, c] for c in range(N)] for r, (_, rank) in enumerate(RANKS)
        ]
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
        doc.add_paragraph(PROSE_KO * 2, style="바탕글")
    return doc.to_bytes()


def loose_text(values: dict[tuple[int, int, int], str]) -> bytes:
    """The Korean document as a table-unaware extractor gives it: one cell per line."""
    lines = ["여비 지급 기준"]
    for o, (_, office) in enumerate(OFFICES):
        lines.append(PROSE_KO * 3)
        lines.append(f"<별표 {o + 1}> {office} 사무소 직급별 여비(일액)")
        lines += ["직급"] + [f"{name}(원)" for _, name in COLUMNS]
        for r, (_, rank) in enumerate(RANKS):
            lines += [rank] + [values[o, r, c] for c in range(N)]
        lines.append(PROSE_KO * 2)
    return "\n".join(lines).encode()


def questions(
    values: dict[tuple[int, int, int], str], korean: bool
) -> Iterator[tuple[str, str, str]]:
    """``(question, row label, value)`` for every cell."""
    for (o, r, c), value in values.items():
        office, rank, column = OFFICES[o], RANKS[r], COLUMNS[c]
        if korean:
            yield f"{office[1]} 사무소 {rank[1]}의 {column[1]}는 얼마인가?", rank[1], value
        else:
            yield (
                f"What is the {column[0]} allowance of a {rank[0]} at the {office[0]} office?",
                rank[0],
                value,
            )


def score(name: str, data: bytes, korean: bool, values: dict, embeddings: object) -> float:
    """Share of cell questions whose top-5 passages hold the row label and value together."""
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(build_settings(data_dir=Path(tmp)), embeddings)  # type: ignore[arg-type]
        result = kb.ingest_bytes(name, data)
        assert result.status == "indexed", result.error
        hits = 0
        total = 0
        for question, label, value in questions(values, korean):
            total += 1
            passages = kb.retrieve(question, k=5)
            hits += any(label in p.page_content and value in p.page_content for p in passages)
        return hits / total


def hwpx_rate(copies: int = 3000) -> tuple[int, float]:
    """Paragraphs of a long generated regulation and the worker's seconds to read it."""
    from tests.hwp_docs import long_hwpx

    data = long_hwpx(copies)
    started = time.monotonic()
    items = list(iter_hwp_blocks("long.hwpx", data, timeout_s=300))
    seconds = time.monotonic() - started
    meta = items[0]
    assert isinstance(meta, HwpMeta)
    return meta.n_paragraphs, seconds


def main(argv: list[str] | None = None) -> int:
    """Print the table (or ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    values = amounts()
    embeddings = default_embeddings()
    rows = {}
    os.environ["RAG_PDF_TABLES"] = "auto"
    try:
        rows["pdf, tables"] = score("allowances.pdf", table_pdf(values), False, values, embeddings)
    finally:
        del os.environ["RAG_PDF_TABLES"]
    rows["pdf, no tables"] = score("allowances.pdf", table_pdf(values), False, values, embeddings)
    rows["hwpx, tables"] = score("여비.hwpx", table_hwpx(values), True, values, embeddings)
    rows["hwpx as loose text"] = score("여비.txt", loose_text(values), True, values, embeddings)
    paragraphs, seconds = hwpx_rate()
    if args.json:
        print(
            json.dumps(
                {"label_and_value_at_5": rows, "hwpx_paragraphs_per_s": paragraphs / seconds}
            )
        )
        return 0
    n = len(values)
    print("| document, arm | cell questions | label and value in one top-5 passage |")
    print("|---|---|---|")
    for name, share in rows.items():
        print(f"| {name} | {n} | {share:.2f} |")
    print(
        f"\nHWPX parse worker: {paragraphs} paragraphs in {seconds:.2f} s = "
        f"{paragraphs / seconds:.0f} paragraphs/s (process start and python-hwpx import included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
