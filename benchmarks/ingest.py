"""Ingestion speed: our pipeline per embedding backend against the plain LangChain seed.

Run from the repository root::

    python benchmarks/ingest.py [--pdf benchmarks/data/gnuplot.pdf] [--backend onnx-int8] [--json]

The header names the CPU (model and instruction-set flags: avx2, avx512f, avx512_vnni,
amx..., read from ``/proc/cpuinfo`` by :func:`rag_core.index.embeddings.choice.cpu_info`),
since which backend is fastest depends on it; the last line of ``--json`` output is one
JSON object with the CPU and every row.

For each backend it ingests the PDF into a fresh temporary store with
``KnowledgeBase.ingest_path`` (parse in the worker subprocess, split, embed, Chroma upsert,
BM25 index; the stages overlap) and times it end to end, with timers around the embedding
calls and the writes and the progress callback for the last page read. In the same run
it times the plain seed pipeline: ``PyPDFLoader.load``,
``RecursiveCharacterTextSplitter(500, 50)``, ``HuggingFaceEmbeddings`` (torch fp32,
normalised) and ``Chroma.from_documents`` into another temporary directory. Model load
time (for ours also Kiwi's model, which the app loads with the store) is measured
separately and left out of every end-to-end figure. The machine is
shared, so compare rows of one run, not numbers across runs.

The HWPX row ingests a generated regulation of about ``--hwpx-paragraphs`` paragraphs
(:func:`tests.hwp_docs.long_hwpx`) through the same pipeline and reports paragraphs per
second end to end (the HWP worker, splitting, embedding, storing; the parse worker alone
is timed by ``benchmarks/tables.py``).

The OCR row ingests a scanned copy of ``--ocr-pages`` pages of ``tests/data/lshort-ko.pdf``
(rendered at 200 dpi, rotated 1 degree, JPEG quality 75, image only:
:func:`tests.scans.scanned_copy`) through the same pipeline, with OCR on "auto" at the
configured resolution (``RAG_OCR_DPI``, 400), and reports the OCR stage's pages per
second (Tesseract on ``RAG_OCR_WORKERS`` cores) and the end-to-end time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag_core.config import build_settings  # noqa: E402
from rag_core.index.analyzer import shared_analyzer  # noqa: E402
from rag_core.index.embeddings import BACKENDS, build_embeddings, resolve_model_path  # noqa: E402
from rag_core.index.embeddings.choice import CHOICE_FILE, cpu_info  # noqa: E402
from rag_core.ingestion.progress import IngestProgress  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase, resolve_embedding_backend  # noqa: E402

DEFAULT_PDF = REPO / "benchmarks" / "data" / "gnuplot.pdf"
KOREAN_PDF = REPO / "tests" / "data" / "lshort-ko.pdf"
OCR_FIRST_PAGE = 41
"""First page of lshort-ko.pdf in the OCR row's scan (body text with some LaTeX code)."""
COSINE_SAMPLE = 500
"""Chunks whose vectors are compared across backends."""


@dataclass
class Run:
    """Timings of one pipeline on one file (seconds; model load kept apart)."""

    name: str
    pages: int = 0
    chunks: int = 0
    load_s: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    sample: dict[str, list[float]] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        """End-to-end seconds without the model load: the wall time of an overlapped
        pipeline, else the sum of its sequential stages."""
        return self.wall_s if self.wall_s is not None else sum(self.stages.values())


def peak_rss_mib() -> float:
    """Peak resident set size of this process plus its waited-for children (MiB, Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


class TimedEmbeddings:
    """Wraps an embeddings object and adds up the seconds spent in ``embed_documents``."""

    def __init__(self, inner: object) -> None:
        """Wrap ``inner``."""
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> object:
        """Delegate everything else (``embed_query``, ``_client``...)."""
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed and time."""
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.inner.embed_query(text)  # type: ignore[attr-defined]


def run_ours(pdf: Path, backend: str, batch_size: int) -> Run:
    """Ingest ``pdf`` with :class:`KnowledgeBase` using ``backend``."""
    run = Run(f"ours {backend}")
    started = time.perf_counter()
    embeddings = build_embeddings("all-MiniLM-L6-v2", batch_size=batch_size, backend=backend)  # type: ignore[arg-type]
    embeddings.embed_documents(["warm up"])
    shared_analyzer()  # Kiwi's model, loaded with the store in the app (ui/resources.py)
    run.load_s = time.perf_counter() - started
    timed = TimedEmbeddings(embeddings)
    with tempfile.TemporaryDirectory(prefix="bench-ours-") as tmp:
        settings = build_settings(
            data_dir=Path(tmp), embedding_backend=backend, embedding_batch_size=batch_size
        )
        kb = KnowledgeBase(settings, timed)  # type: ignore[arg-type]
        last_page: list[float] = []
        store_s = [0.0]

        def on_progress(event: IngestProgress) -> None:
            if event.stage == "parse" and event.total > 1 and event.done == event.total:
                last_page.append(time.perf_counter())

        def busy(work: Any) -> Any:
            def run(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return work(*args, **kwargs)
                finally:
                    store_s[0] += time.perf_counter() - started

            return run

        # store = BM25 analysis of the chunks (Kiwi) + the Chroma upsert, on the writer thread
        kb.store.upsert = busy(kb.store.upsert)  # type: ignore[method-assign]
        kb.pipeline.add_terms = busy(kb.pipeline.add_terms)  # type: ignore[method-assign]
        timed.seconds = 0.0
        begin = time.perf_counter()
        result = kb.ingest_path(pdf, progress=on_progress)
        end = time.perf_counter()
        if result.status != "indexed":
            raise SystemExit(f"ingest failed: {result.error}")
        run.pages, run.chunks = result.pages, result.chunks
        # The stages overlap: the worker parses while earlier chunks embed and store, so
        # these are busy times; the end-to-end figure is the wall time.
        run.stages = {
            "parse": (last_page[-1] if last_page else end) - begin,
            "split": float("nan"),
            "embed": timed.seconds,
            "store": store_s[0],
            "index": float("nan"),
        }
        run.wall_s = end - begin
        got = kb.store.collection.get(limit=COSINE_SAMPLE, include=["embeddings"])
        run.sample = dict(zip(got["ids"], got["embeddings"], strict=True))
    return run


def run_ocr(pages: int) -> tuple[int, float, float]:
    """Ingest a scanned copy of ``pages`` lshort-ko.pdf pages; (OCR'd pages, OCR s, total s)."""
    from tests.scans import scanned_copy

    scan = scanned_copy(KOREAN_PDF, list(range(OCR_FIRST_PAGE, OCR_FIRST_PAGE + pages)))
    settings = default_settings()
    embeddings = build_embeddings(settings.embedding_model, backend=settings.embedding_backend)
    embeddings.embed_documents(["warm up"])
    ocr_s = [0.0]

    def on_progress(event: IngestProgress) -> None:
        if event.stage == "ocr":
            ocr_s[0] = event.stage_elapsed_s

    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        kb = KnowledgeBase(settings.model_copy(update={"data_dir": Path(tmp)}), embeddings)
        begin = time.perf_counter()
        result = kb.ingest_bytes("scan.pdf", scan, progress=on_progress)
        total = time.perf_counter() - begin
    if result.status != "indexed":
        raise SystemExit(f"OCR ingest failed: {result.error}")
    return len(result.ocr_pages), ocr_s[0], total


def print_ocr_row(pages: int) -> None:
    """Time OCR on a scanned copy of Korean pages and print its row."""
    settings = build_settings()
    done, ocr_s, total = run_ocr(pages)
    print(
        f"{'OCR run':<34}{'pages':>6}{'OCR s':>8}{'OCR pages/s':>13}{'total s':>9}"
        f"   ({settings.ocr_dpi} dpi, {settings.ocr_languages}, {settings.ocr_workers} workers)"
    )
    print(
        f"{'scanned lshort-ko pages (auto)':<34}{done:>6}{ocr_s:8.1f}"
        f"{rate(done, ocr_s):>13}{total:9.1f}"
    )


def print_hwpx_row(copies: int) -> None:
    """Ingest a long generated HWPX regulation through THE pipeline and print its row.

    The document is ``tests.hwp_docs.long_hwpx``: the test regulation (chapters,
    articles, a footnote, two tables) with its last article repeated ``copies`` times.
    """
    from tests.hwp_docs import long_hwpx

    data = long_hwpx(copies)
    with tempfile.TemporaryDirectory() as tmp:
        settings = default_settings().model_copy(update={"data_dir": Path(tmp)})
        kb = KnowledgeBase(settings, build_default_embeddings())
        started = time.perf_counter()
        result = kb.ingest_bytes("long.hwpx", data)
        total = time.perf_counter() - started
    print(f"{'HWPX run':<34}{'paragraphs':>11}{'chunks':>8}{'total s':>9}{'paragraphs/s':>14}")
    print(
        f"{'generated regulation (.hwpx)':<34}{result.pages:>11}{result.chunks:>8}"
        f"{total:9.1f}{rate(result.pages, total):>14}"
    )


def default_settings() -> Any:
    """The settings, with the backend of the user's data directory ("auto": its choice)."""
    return resolve_embedding_backend(build_settings())


def build_default_embeddings() -> Any:
    """The default embedding model and backend of the settings, loaded now."""
    settings = default_settings()
    return build_embeddings(
        settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        backend=settings.embedding_backend,
    )


def mean_cosine_to_fp32(runs: list[Run]) -> dict[str, float]:
    """Mean cosine of each backend's stored vectors to torch fp32's, on the same chunks.

    Chunk ids derive from content, so both stores hold the same ids; the vectors are
    L2-normalised, so cosine = dot product. Needs the ``torch`` run.
    """
    reference = next((r.sample for r in runs if r.name == "ours torch"), None)
    if not reference:
        return {}
    out = {}
    for run in runs:
        shared = [i for i in run.sample if i in reference]
        if run.name != "ours torch" and shared:
            dots = [float(np.dot(run.sample[i], reference[i])) for i in shared]
            out[run.name] = sum(dots) / len(dots)
    return out


def run_plain(pdf: Path) -> Run:
    """The seed pipeline: PyPDFLoader, 500/50 splitter, HuggingFaceEmbeddings, Chroma."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    run = Run("plain torch")
    started = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(
        model_name=resolve_model_path("all-MiniLM-L6-v2"),
        encode_kwargs={"normalize_embeddings": True},
    )
    embeddings.embed_documents(["warm up"])
    run.load_s = time.perf_counter() - started
    timed = TimedEmbeddings(embeddings)
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        t0 = time.perf_counter()
        pages = PyPDFLoader(str(pdf)).load()
        t1 = time.perf_counter()
        chunks = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50).split_documents(
            pages
        )
        t2 = time.perf_counter()
        Chroma.from_documents(chunks, timed, persist_directory=tmp)  # type: ignore[arg-type]
        t3 = time.perf_counter()
    run.pages, run.chunks = len(pages), len(chunks)
    run.stages = {
        "parse": t1 - t0,
        "split": t2 - t1,
        "embed": timed.seconds,
        "store": (t3 - t2) - timed.seconds,
        "index": 0.0,
    }
    return run


def rate(units: int, seconds: float) -> str:
    """Units per second, formatted; '-' for a stage that took no time."""
    return f"{units / seconds:8.1f}" if seconds > 1e-9 else "       -"


def print_table(runs: list[Run], plain: Run | None) -> None:
    """Print stage seconds and throughput, end to end, and the ratio to the plain seed."""
    header = (
        f"{'pipeline':<17}{'load s':>7}{'parse s':>9}{'split s':>8}{'embed s':>9}"
        f"{'store s':>8}{'index s':>8}{'total s':>9}{'pages/s':>9}{'chunks/s':>9}"
        f"{'emb ch/s':>9}{'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for run in ([plain] if plain else []) + runs:
        s = {k: (f"{v:.2f}" if v == v else "-") for k, v in run.stages.items()}  # nan -> "-"
        ratio = f"{plain.total_s / run.total_s:8.2f}x" if plain else "        -"
        print(
            f"{run.name:<17}{run.load_s:7.1f}{s['parse']:>9}{s['split']:>8}{s['embed']:>9}"
            f"{s['store']:>8}{s['index']:>8}{run.total_s:9.2f}"
            f"{rate(run.pages, run.total_s):>9}{rate(run.chunks, run.total_s):>9}"
            f"{rate(run.chunks, run.stages['embed']):>9}{ratio}"
        )
    print()
    print(
        "load s = model load (+ one-off ONNX export if not cached), NOT included in total s;\n"
        "plain: stages run one after another, total s = their sum.\n"
        "ours: stages overlap (the worker process parses while earlier chunks embed and the\n"
        "  writer thread analyses them for BM25 and stores them), so total s is the wall time;\n"
        "  parse s = until the last page was read, embed s = time in the embedding calls,\n"
        "  store s = Kiwi analysis + Chroma upsert (writer thread); split and index: '-'.\n"
        "pages/s and chunks/s are end to end; emb ch/s = chunks per second of the embedding\n"
        "calls alone; speed-up = plain total / total."
    )


LAUNCHER = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(done.returncode, f"{seconds:.3f}", f"{rss:.1f}")
print(done.stdout)
"""
"""Runs the CLI and reports its wall time and peak RSS. Linux keeps a process's peak RSS
across fork and exec, so a child of this (large) benchmark process would report this
process's size; the small launcher's children start clean."""


def run_cli(pdf: Path, data_dir: Path, collection: str = "documents") -> tuple[float, float, str]:
    """Run ``python -m rag_core ingest PDF`` as a user would; return (wall s, peak RSS MiB, line).

    Peak RSS is the largest of the CLI process and its parse worker (``ru_maxrss`` of the
    launcher's children). Model load and OpenVINO compilation are included: this is what
    a person waits for. The CLI runs with the configured backend (``RAG_EMBEDDING_BACKEND``,
    "auto" by default).
    """
    cli = [
        sys.executable,
        "-m",
        "rag_core",
        "--data-dir",
        str(data_dir),
        "--collection",
        collection,
        "ingest",
        str(pdf),
    ]
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cli], cwd=REPO, capture_output=True, text=True
    )
    head, _, out = done.stdout.partition("\n")
    code, seconds, rss = head.split()
    if code != "0":
        raise SystemExit(f"CLI ingest failed: {out}")
    line = next((x for x in out.splitlines() if x.startswith(("indexed", "unchanged"))), "")
    return float(seconds), float(rss), line


def print_cli_rows(pdf: Path, plain: Run | None) -> list[dict[str, Any]]:
    """Time the CLI: a fresh data directory, a new collection beside it, the same file again.

    The first run in a fresh data directory also chooses the embedding runtime ("auto":
    measured once per machine and model, then remembered there); the second, into a new
    collection of the same data directory, is what every later first ingest of a file
    costs. speed-up = the plain seed's model load + total over the CLI's wall time.
    """
    rows = []
    seed = plain.load_s + plain.total_s if plain else None
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        print(f"{'CLI run':<40}{'wall s':>8}{'peak RSS MiB':>14}{'speed-up':>10}")
        runs = (
            ("python -m rag_core ingest (fresh dir)", "documents"),
            ("new collection, runtime remembered", "second"),
            ("again, file unchanged", "second"),
        )
        for label, collection in runs:
            seconds, rss, line = run_cli(pdf, Path(tmp), collection)
            ratio = f"{seed / seconds:9.2f}x" if seed else "         -"
            print(f"{label:<40}{seconds:8.1f}{rss:14.0f}{ratio}   {line}")
            rows.append({"run": label, "wall_s": round(seconds, 2), "peak_rss_mib": rss})
        choice = Path(tmp) / CHOICE_FILE
        if choice.is_file():
            chosen = json.loads(choice.read_text())["choices"][-1]
            rates = ", ".join(f"{k} {v}" for k, v in chosen["chunks_per_s"].items())
            print(f"runtime chosen: {chosen['backend']} (calibration chunks/s: {rates})")
            rows.append({"run": "choice", **chosen})
    return rows


def cpu_header() -> tuple[str, dict[str, Any]]:
    """The CPU line of the header and its JSON form (model, notable and all ISA flags)."""
    cpu = cpu_info()
    shown = " ".join(cpu.shown_flags()) or "-"
    line = f"cpu: {cpu.model or 'unknown'} ({os.cpu_count()} cores)  flags: {shown}"
    return line, {"model": cpu.model, "cores": os.cpu_count(), "flags": list(cpu.flags)}


def run_json(run: Run, plain: Run | None) -> dict[str, Any]:
    """One row of the table as JSON (seconds; NaN stages left out)."""
    return {
        "pipeline": run.name,
        "pages": run.pages,
        "chunks": run.chunks,
        "load_s": round(run.load_s, 2),
        "stages_s": {k: round(v, 2) for k, v in run.stages.items() if v == v},
        "total_s": round(run.total_s, 2),
        "embed_chunks_per_s": round(run.chunks / run.stages["embed"], 1)
        if run.stages["embed"] > 0
        else None,
        "speed_up": round(plain.total_s / run.total_s, 2) if plain else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF, help="PDF to ingest")
    parser.add_argument(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="embedding backend for our pipeline (repeatable; default: all)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="chunks per forward pass")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain seed pipeline")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI wall-time rows")
    parser.add_argument(
        "--ocr-pages", type=int, default=8, help="scanned pages for the OCR row (0 = skip)"
    )
    parser.add_argument(
        "--hwpx-paragraphs",
        type=int,
        default=3000,
        help="repeated articles in the HWPX row's generated document (0 = skip)",
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    backends = args.backend or list(BACKENDS)
    cpu_line, cpu = cpu_header()
    print(cpu_line)
    print(f"file: {args.pdf}  batch size: {args.batch_size}")
    plain = None if args.no_plain else run_plain(args.pdf)
    runs = [run_ours(args.pdf, backend, args.batch_size) for backend in backends]
    for run in ([plain] if plain else []) + runs:
        print(f"{run.name}: {run.pages} pages, {run.chunks} chunks")
    print()
    print_table(runs, plain)
    for name, cosine in mean_cosine_to_fp32(runs).items():
        print(f"{name}: mean cosine to torch fp32 over {COSINE_SAMPLE} stored chunks: {cosine:.4f}")
    print(f"peak RSS of this run, all pipelines (self + children): {peak_rss_mib():.0f} MiB")
    cli_rows = []
    if not args.no_cli:
        print()
        cli_rows = print_cli_rows(args.pdf, plain)
    if args.ocr_pages > 0:
        print()
        print_ocr_row(args.ocr_pages)
    if args.hwpx_paragraphs > 0:
        print()
        print_hwpx_row(args.hwpx_paragraphs)
    if args.json:
        rows = [run_json(r, plain) for r in ([plain] if plain else []) + runs]
        print(json.dumps({"cpu": cpu, "file": str(args.pdf), "runs": rows, "cli": cli_rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
