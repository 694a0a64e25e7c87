"""Folder sync throughput: 1,000 small files (TXT, MD, short PDFs) through ``sync``.

Run from the repository root::

    python benchmarks/sync.py [--files 1000] [--json]

It writes ``--files`` generated files into a temporary folder (40% ``.txt``, 40% ``.md``
in subfolders, 20% one- or two-page PDFs built with pypdf as the tests build them:
:func:`tests.conftest.text_pdf`), each with different text of a few hundred to a few
thousand characters, and syncs the folder into a fresh data directory with
:meth:`rag_core.engine.Engine.sync_folder`, the engine every door uses. It prints:

* the first sync: files/s and chunks/s end to end (parse workers, splitting, embedding,
  Chroma, BM25), chunks, peak RSS of this process (the PDF parse workers have their own
  memory limit; Linux carries a parent's peak into a child, so theirs is not shown); the embedding
  model is loaded before the clock starts (its load time is printed apart);
* a second sync of the unchanged folder (every file recognised by size and mtime, none
  read);
* ``python -m rag_core sync DIR`` run as a user runs it, process start included, on a
  one-file folder: first the sync that ingests it, then the same file unchanged (the
  target: under 2 s), three times.

The header names the CPU (:func:`benchmarks.ingest.cpu_header`). The machine may be shared:
compare rows of one run. The embedding backend is the configured one ("auto": the choice
remembered in the user's data directory, measured there once if need be).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.ingest import LAUNCHER, cpu_header  # noqa: E402
from rag_core.config import build_settings  # noqa: E402
from rag_core.engine import Engine  # noqa: E402
from rag_core.knowledge_base import resolve_embedding_backend  # noqa: E402
from tests.conftest import text_pdf  # noqa: E402

ANIMALS = [
    "walrus", "penguin", "otter", "narwhal", "seal", "dolphin", "manatee", "orca",
    "puffin", "beluga", "albatross", "octopus", "starfish", "lobster", "pelican",
]  # fmt: skip
FACTS = [
    "lives in cold water", "eats fish and krill", "can hold its breath for minutes",
    "travels in large groups", "sleeps floating on the surface", "has thick fat",
    "was first described in the eighteenth century", "is protected in many countries",
    "communicates with clicks and whistles", "raises one young at a time",
    "migrates thousands of kilometres", "uses tools to open shells",
]  # fmt: skip


def paragraph(rng: random.Random, index: int, sentences: int) -> str:
    """Different text for every file: numbered sentences about sea animals."""
    out = []
    for n in range(sentences):
        animal, fact = rng.choice(ANIMALS), rng.choice(FACTS)
        out.append(f"Note {index}.{n}: the {animal} {fact}, observation {rng.randint(1, 10**6)}.")
    return " ".join(out)


def make_folder(folder: Path, files: int, seed: int = 7) -> dict[str, int]:
    """Write ``files`` files into ``folder``; return how many of each kind."""
    rng = random.Random(seed)
    kinds = {"txt": 0, "md": 0, "pdf": 0}
    for index in range(files):
        sub = folder / f"team-{index % 10}" / f"year-{2020 + index % 5}"
        sub.mkdir(parents=True, exist_ok=True)
        slot = index % 5
        if slot in (0, 1):
            (sub / f"note-{index:05}.txt").write_text(paragraph(rng, index, rng.randint(5, 30)))
            kinds["txt"] += 1
        elif slot in (2, 3):
            body = paragraph(rng, index, rng.randint(5, 30))
            (sub / f"memo-{index:05}.md").write_text(f"# Memo {index}\n\n{body}\n")
            kinds["md"] += 1
        else:
            pages = [paragraph(rng, index, 2) for _ in range(rng.randint(1, 2))]
            (sub / f"report-{index:05}.pdf").write_bytes(text_pdf(pages))
            kinds["pdf"] += 1
    return kinds


def run_cli(folder: Path, data_dir: Path, backend: str) -> tuple[float, float, str]:
    """``python -m rag_core sync FOLDER`` in a fresh process: (wall s, peak RSS MiB, summary).

    Run through the small launcher of ``benchmarks/ingest.py``, so the wall time includes
    the interpreter start and every import, and the peak RSS is the CLI's own.
    """
    cli = [sys.executable, "-m", "rag_core", "--data-dir", str(data_dir), "sync", str(folder)]
    env = dict(os.environ, RAG_EMBEDDING_BACKEND=backend)
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cli], cwd=REPO, capture_output=True, text=True, env=env
    )
    head, _, out = done.stdout.partition("\n")
    code, seconds, rss = head.split()
    if code != "0":
        raise SystemExit(f"CLI sync failed: {out}")
    summary = next((x for x in out.splitlines() if x.startswith("synced")), "")
    return float(seconds), float(rss), summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (``--json``: one JSON object last)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="files to generate")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    cpu_line, cpu = cpu_header()
    print(cpu_line)
    settings = resolve_embedding_backend(build_settings())
    backend = settings.embedding_backend
    result: dict[str, Any] = {"cpu": cpu, "files": args.files, "backend": backend}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        folder = root / "shared"
        kinds = make_folder(folder, args.files)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"folder: {args.files} files ({kinds}), {size / 1024:.0f} KiB; backend: {backend}")
        engine = Engine(settings.model_copy(update={"data_dir": root / "data"}))
        started = time.perf_counter()
        engine.embeddings.embed_query("warm up")  # the model load, kept out of the sync
        load_s = time.perf_counter() - started

        started = time.perf_counter()
        first = engine.sync_folder(folder)
        first_s = time.perf_counter() - started
        failed = len(first.failed)
        chunks = first.chunks
        print()
        print(f"{'run':<44}{'files':>7}{'seconds':>9}{'files/s':>9}{'chunks':>8}{'chunks/s':>10}")
        print(
            f"{'first sync (model loaded before)':<44}{args.files:>7}{first_s:>9.1f}"
            f"{args.files / first_s:>9.1f}{chunks:>8}{chunks / first_s:>10.1f}"
        )
        started = time.perf_counter()
        second = engine.sync_folder(folder)
        second_s = time.perf_counter() - started
        unchanged = second.counts["unchanged"]
        print(
            f"{'second sync, folder unchanged':<44}{unchanged:>7}{second_s:>9.2f}"
            f"{unchanged / second_s:>9.0f}{'-':>8}{'-':>10}"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"model load: {load_s:.1f} s; failed or skipped files: {failed}")
        print(f"peak RSS of this process: {own:.0f} MiB (PDF parse workers: own limit)")
        result.update(
            kinds=kinds,
            model_load_s=round(load_s, 2),
            first_sync_s=round(first_s, 2),
            files_per_s=round(args.files / first_s, 2),
            chunks=chunks,
            chunks_per_s=round(chunks / first_s, 1),
            failed=failed,
            second_sync_s=round(second_s, 3),
            peak_rss_mib=round(own),
        )

        single = root / "one-file"
        single.mkdir()
        (single / "note.txt").write_text(paragraph(random.Random(1), 0, 12))
        cli_data = root / "cli-data"
        print()
        print(f"{'python -m rag_core sync (one file)':<44}{'wall s':>9}{'peak RSS MiB':>14}")
        rows = []
        for label in ("first: ingests it", "unchanged", "unchanged", "unchanged"):
            seconds, rss, summary = run_cli(single, cli_data, backend)
            print(f"{label:<44}{seconds:>9.2f}{rss:>14.0f}   {summary}")
            rows.append({"run": label, "wall_s": round(seconds, 2), "peak_rss_mib": rss})
        result["cli"] = rows
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
