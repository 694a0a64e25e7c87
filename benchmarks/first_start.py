"""The first file on a fresh machine against the same file on a warm start.

Run from the repository root::

    python benchmarks/first_start.py [--pdf tests/data/lshort.pdf] [--pages 40] [--json]

Each row runs in a new Python process, as the app does after a start: it builds the
settings ("auto" backend unless ``RAG_EMBEDDING_BACKEND`` says otherwise), starts the
app's warm-up (:class:`rag_core.knowledge_base.EmbeddingWarmup`: choose the runtime, load
the model, embed once) and ingests the first ``--pages`` pages of ``--pdf`` through
:meth:`KnowledgeBase.ingest_bytes` with the engine's lazily loaded model, either at once
(a file dropped as the app opens: it waits for the model, showing the "model" stage) or
after the warm-up is done (a file dropped once the stage is gone).

"fresh" rows start with an empty export cache (``XDG_CACHE_HOME``) and an empty data
directory: the ONNX export, both int8 quantisations and the runtime measurement happen in
them. "warm" rows reuse that cache and data directory (the runtime choice is remembered)
and ingest into a new collection. The machine is shared: compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
import io
from pypdf import PdfReader, PdfWriter
def pdf_head(path, pages):  # not tests.conftest: it pins the backend for the test suite
    writer = PdfWriter()
    for page in PdfReader(path).pages[:pages]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
from rag_core.config import build_settings
from rag_core.index.embeddings import LazyEmbeddings
from rag_core.knowledge_base import EmbeddingWarmup, KnowledgeBase, load_embeddings

data_dir, collection, pdf, pages, wait = sys.argv[1:6]
settings = build_settings(data_dir=Path(data_dir), collection=collection)
models = {}
def shared(resolved):
    return models.setdefault(resolved.embedding_backend, load_embeddings(resolved))
warmup = EmbeddingWarmup(settings, embeddings_for=shared).start()
data = pdf_head(Path(pdf), int(pages))
if wait == "1":
    warmup.wait()
model = LazyEmbeddings(settings.embedding_model, lambda: shared(warmup.settings()).model)
begin = time.perf_counter()
kb = KnowledgeBase(warmup.settings(), model)
result = kb.ingest_bytes("first.pdf", data)
end = time.perf_counter()
warmup.wait()
print(json.dumps({
    "status": result.status, "chunks": result.chunks,
    "backend": warmup.settings().embedding_backend,
    "file_s": round(end - begin, 2),
    "warmup": {k: round(v, 2) for k, v in warmup.seconds.items()},
    "since_start_s": round(end - started, 2),
}))
"""
"""One row: the app's start-up path (warm-up, lazily loaded model) and one ingest."""


def run_row(
    root: Path, name: str, collection: str, args: argparse.Namespace, *, wait: bool
) -> dict[str, object]:
    """Run one row in a new process with the cache and data directory ``root/name``."""
    env = {**os.environ, "XDG_CACHE_HOME": str(root / name / "cache")}
    data_dir = root / name / "data"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(data_dir),
            collection,
            str(args.pdf),
            str(args.pages),
            "1" if wait else "0",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"row failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the four rows and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdf", type=Path, default=REPO / "tests" / "data" / "lshort.pdf")
    parser.add_argument("--pages", type=int, default=40, help="first pages of --pdf ingested")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    from rag_core.index.embeddings.choice import cpu_info

    cpu = cpu_info()
    print(f"cpu: {cpu.model} ({os.cpu_count()} cores)  flags: {' '.join(cpu.shown_flags())}")
    print(f"file: first {args.pages} pages of {args.pdf}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp:
        plan = [
            ("fresh, file dropped at start", "a", "fresh", False),
            ("warm, file dropped at start", "a", "warm", False),
            ("fresh, file dropped after the stage", "b", "fresh", True),
            ("warm, file dropped after the stage", "b", "warm", True),
        ]
        print(f"{'run':<40}{'backend':>15}{'choose s':>10}{'load s':>8}{'file s':>8}{'total s':>9}")
        for label, name, collection, wait in plan:
            row = run_row(Path(tmp), name, collection, args, wait=wait)
            warm = row["warmup"]
            assert isinstance(warm, dict)
            print(
                f"{label:<40}{row['backend']:>15}{warm.get('choose', 0):10.1f}"
                f"{warm.get('load', 0):8.1f}{row['file_s']:8.1f}{row['since_start_s']:9.1f}"
            )
            rows.append({"run": label, **row})
    print(
        "choose s = choosing the runtime (fresh: ONNX export, int8 quantisations and the\n"
        "  measurement; warm: reading the remembered choice); load s = loading the chosen\n"
        "  model and its first embedding; file s = the file's ingest (for a file dropped at\n"
        "  start it includes waiting for the model); total s = process start to file done."
    )
    if args.json:
        print(json.dumps({"cpu": {"model": cpu.model, "flags": list(cpu.flags)}, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
