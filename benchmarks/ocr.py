"""OCR quality: a scanned copy of Korean pages against the same pages as a text PDF.

Run from the repository root::

    python benchmarks/ocr.py [--dpi 400] [--scan-dpi 200] [--angle 1.0] [--quality 75] [--json]

Takes the pages of ``tests/data/lshort-ko.pdf`` that the Korean development questions
(``tests/data/qa_dev.jsonl``) point to and makes two PDFs of them: a text copy (the pages
themselves, pypdf) and a scanned copy (each page rendered with pypdfium2 at ``--scan-dpi``,
rotated by ``--angle`` degrees, JPEG-compressed at ``--quality``, written as an image-only
PDF by Pillow; :func:`tests.scans.scanned_copy`). Each is ingested into a fresh store
through the one pipeline (``KnowledgeBase.ingest_bytes``, OCR in "auto" mode, so the scan is
read by Tesseract at ``--dpi``), and the Korean questions are asked in dense, BM25 and
hybrid mode. Prints recall@5 per mode and copy, the scan's share of the text copy's
recall (the issue's target: hybrid >= 0.8), and OCR time per page. The machine is shared,
so times are only comparable within a run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from pypdf import PdfReader, PdfWriter  # noqa: E402

from rag_core.config import build_settings  # noqa: E402
from rag_core.evaluation.retrieval import QAItem, evaluate, load_qa  # noqa: E402
from rag_core.index.embeddings import build_embeddings  # noqa: E402
from rag_core.ingestion.progress import IngestProgress  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase, resolve_embedding_backend  # noqa: E402
from tests.scans import scanned_copy  # noqa: E402

SOURCE = REPO / "tests" / "data" / "lshort-ko.pdf"
QA = REPO / "tests" / "data" / "qa_dev.jsonl"
MODES = ("dense", "bm25", "hybrid")


def korean_questions() -> tuple[list[QAItem], list[int]]:
    """The answerable Korean development questions and the pages they point to, sorted."""
    items = [q for q in load_qa(QA) if q.doc == SOURCE.name and q.pages]
    return items, sorted({page for q in items for page in q.pages})


def text_copy(pages: list[int]) -> bytes:
    """The ``pages`` of lshort-ko.pdf as a PDF of their own (text layer kept)."""
    writer = PdfWriter()
    reader = PdfReader(SOURCE)
    for number in pages:
        writer.add_page(reader.pages[number - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def measure(name: str, data: bytes, items: list[QAItem], settings_kw: dict[str, Any]) -> dict:
    """Ingest one copy into a fresh store and evaluate the questions in every mode."""
    stages: dict[str, float] = {}

    def on_progress(event: IngestProgress) -> None:
        stages[event.stage] = event.stage_elapsed_s

    with tempfile.TemporaryDirectory(prefix="rag-ocr-bench-") as tmp:
        # the backend of the user's data directory ("auto": its remembered choice)
        backend = resolve_embedding_backend(build_settings()).embedding_backend
        settings = build_settings(data_dir=Path(tmp), embedding_backend=backend, **settings_kw)
        embeddings = build_embeddings(settings.embedding_model, backend=backend)
        kb = KnowledgeBase(settings, embeddings, parse_timeout_s=600)
        started = time.monotonic()
        result = kb.ingest_bytes(name, data, progress=on_progress)
        seconds = time.monotonic() - started
        recall = {}
        for mode in MODES:
            retriever = kb.retriever(mode=mode, k=5)
            report = evaluate(items, retriever.invoke, 5)
            recall[mode] = report["overall"]["recall"]
    return {
        "pages": result.pages,
        "chunks": result.chunks,
        "ocr_pages": len(result.ocr_pages),
        "ingest_s": round(seconds, 1),
        "ocr_s": round(stages.get("ocr", 0.0), 1),
        "recall@5": recall,
        "warning": result.warning,
    }


def main() -> None:
    """Build both copies, measure them, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dpi", type=int, default=400, help="OCR render resolution")
    parser.add_argument("--scan-dpi", type=int, default=200, help="resolution of the scan")
    parser.add_argument("--angle", type=float, default=1.0, help="scan rotation, degrees")
    parser.add_argument("--quality", type=int, default=75, help="JPEG quality of the scan")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    items, pages = korean_questions()
    position = {page: i + 1 for i, page in enumerate(pages)}
    settings_kw: dict[str, Any] = {"ocr": "auto", "ocr_dpi": args.dpi}
    runs = {}
    for kind, data in (
        ("text", text_copy(pages)),
        ("scan", scanned_copy(SOURCE, pages, dpi=args.scan_dpi, angle=args.angle,
                              quality=args.quality)),
    ):  # fmt: skip
        name = f"lshort-ko-{kind}.pdf"
        copies = [
            QAItem(q.id, name, q.question, tuple(position[p] for p in q.pages)) for q in items
        ]
        runs[kind] = measure(name, data, copies, settings_kw)
    ratio = {
        mode: round(runs["scan"]["recall@5"][mode] / runs["text"]["recall@5"][mode], 3)
        if runs["text"]["recall@5"][mode]
        else None
        for mode in MODES
    }
    scan = runs["scan"]
    per_page = scan["ocr_s"] / scan["ocr_pages"] if scan["ocr_pages"] else None
    report = {
        "questions": len(items),
        "pages": len(pages),
        "settings": vars(args),
        "runs": runs,
        "scan_to_text_recall": ratio,
        "ocr_s_per_page": round(per_page, 2) if per_page else None,
        "ocr_pages_per_s": round(1 / per_page, 3) if per_page else None,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"{len(items)} Korean questions on {len(pages)} pages of {SOURCE.name}; recall@5")
    print(f"{'copy':<6} {'dense':>7} {'bm25':>7} {'hybrid':>7} {'chunks':>7} {'OCR s':>7}")
    for kind, run in runs.items():
        r = run["recall@5"]
        row = f"{kind:<6} {r['dense']:>7.3f} {r['bm25']:>7.3f} {r['hybrid']:>7.3f}"
        print(f"{row} {run['chunks']:>7} {run['ocr_s']:>7.1f}")
    cells = " ".join(f"{ratio[m] if ratio[m] is not None else '-':>7}" for m in MODES)
    print(f"{'ratio':<6} {cells}")
    if per_page:
        print(f"OCR: {per_page:.2f} s/page ({1 / per_page:.3f} pages/s) at {args.dpi} dpi")


if __name__ == "__main__":
    main()
