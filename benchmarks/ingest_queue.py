"""Multi-file ingest throughput: one file at a time against the queue's parallel parsing.

Run from the repository root::

    python benchmarks/ingest_queue.py [--files 10] [--pages 15] [--parses 1 2] [--json]

Makes ``--files`` real PDFs of ``--pages`` pages each from the test manuals
(``tests/data/lshort.pdf`` and ``lshort-ko.pdf``, alternately, each a different page range)
and ingests them all into a fresh temporary data directory per row:

* ``sequential``: ``KnowledgeBase.ingest_bytes`` one file after the other, as the
  one-worker queue before the durable queue did (each file parsed, then embedded);
* ``queue, N parses ahead``: every file submitted to the durable queue
  (:class:`rag_core.ingest_queue.JobQueue`) at once, then waited for; the next N files are
  parsed while one embeds. ``auto`` is :func:`rag_core.ingest_queue.parallel_parses` on
  this machine.

The embedding model is loaded and warmed up once, before the rows, and left out of every
figure. Prints files/s and seconds per row; the machine may be shared, so compare rows of
one run. The last line of ``--json`` output is one JSON object with every row.
"""

from __future__ import annotations

import argparse
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
os.environ.setdefault("RAG_EMBEDDING_BACKEND", "openvino-int8")

from rag_core.config import build_settings  # noqa: E402
from rag_core.engine import Engine  # noqa: E402
from rag_core.index.embeddings import build_embeddings  # noqa: E402
from rag_core.ingest_queue import parallel_parses  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase  # noqa: E402
from tests.conftest import LSHORT, LSHORT_KO, pdf_pages  # noqa: E402


def make_pdfs(count: int, pages: int) -> list[tuple[str, bytes]]:
    """``count`` PDFs of ``pages`` pages, alternately from the English and Korean manual."""
    files = []
    for i in range(count):
        source = LSHORT if i % 2 == 0 else LSHORT_KO
        first = 13 + (i // 2) * pages
        files.append((f"part{i:02d}.pdf", pdf_pages(source, first, first + pages - 1)))
    return files


def run_sequential(files: list[tuple[str, bytes]], embeddings: Any) -> float:
    """Seconds to ingest ``files`` one after the other through the pipeline."""
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(build_settings(data_dir=Path(tmp)), embeddings)
        _ = kb.keyword_index.analyzer  # Kiwi's model, loaded with the store in the app
        started = time.perf_counter()
        for name, data in files:
            assert kb.ingest_bytes(name, data).status == "indexed"
        return time.perf_counter() - started


def run_queue(files: list[tuple[str, bytes]], embeddings: Any, parses: int) -> float:
    """Seconds to ingest ``files`` through the durable queue, ``parses`` parsed ahead."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = build_settings(data_dir=Path(tmp), ingest_parallel_parses=parses)
        engine = Engine(settings, embeddings)
        _ = engine.knowledge_base().keyword_index.analyzer
        queue = engine.job_queue()
        started = time.perf_counter()
        ids = [engine.submit(f"k{i}", name, data).id for i, (name, data) in enumerate(files)]
        assert queue.wait(ids, timeout_s=3600)
        seconds = time.perf_counter() - started
        assert all(queue.get(i).status == "done" for i in ids)
        queue.close()
        return seconds


def main() -> None:
    """Print the table (and one JSON object with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--pages", type=int, default=15)
    parser.add_argument("--parses", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = build_settings()
    embeddings = build_embeddings(
        settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        backend=settings.embedding_backend,
    )
    embeddings.embed_documents(["warm up"] * 8)
    files = make_pdfs(args.files, args.pages)
    rows = [("sequential (one file at a time)", run_sequential(files, embeddings))]
    for parses in args.parses:
        label = f"queue, {parses} parse(s) ahead"
        if parses == parallel_parses():
            label += " (auto here)"
        rows.append((label, run_queue(files, embeddings, parses)))
    print(f"{args.files} PDFs x {args.pages} pages, {os.cpu_count()} cores")
    print(f"{'run':<40} {'seconds':>8} {'files/s':>8}")
    for label, seconds in rows:
        print(f"{label:<40} {seconds:8.1f} {args.files / seconds:8.2f}")
    if args.json:
        out = {
            "files": args.files,
            "pages": args.pages,
            "cores": os.cpu_count(),
            "rows": [{"run": r, "seconds": s, "files_per_s": args.files / s} for r, s in rows],
        }
        print(json.dumps(out))


if __name__ == "__main__":
    main()
