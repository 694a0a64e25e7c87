"""Snapshot export and import at 10k-100k chunks: seconds, archive size, peak memory.

Run from the repository root::

    python benchmarks/snapshot.py [--sizes 10000 50000] [--json]

A synthetic collection of N chunks (500-character texts, 60 BM25 terms, random unit
vectors of 384 dimensions, 100 chunks per document) is written with the store's own
``VectorStore.upsert`` and ``DocumentRegistry`` into a temporary embedded store, then
exported (``Engine.export_collection``, no original files) and imported into a fresh data
directory (``Engine.import_collection``), each in its own process so that its peak
resident memory (``ru_maxrss``) is its own. The model is not loaded (its dimension is read
from its files). "held" is what the whole collection takes as float32 vectors plus texts
and metadata in memory: what an export that read it all at once would need on top.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DIM = 384
PER_DOCUMENT = 100


def build(data_dir: Path, chunks: int) -> int:
    """Write ``chunks`` synthetic chunks into the default collection; return bytes held."""
    from langchain_core.documents import Document

    from rag_core.config import build_settings
    from rag_core.index.analyzer import ANALYZER_VERSION
    from rag_core.index.chunks import ANALYZER_METADATA_KEY, TERMS_METADATA_KEY
    from rag_core.index.embeddings import embedding_identity
    from rag_core.index.registry import DocumentRecord, DocumentRegistry, now_iso
    from rag_core.index.vector_store import VectorStore, build_chroma_client

    settings = build_settings(data_dir=data_dir)
    client = build_chroma_client(settings.chroma_dir)
    identity = embedding_identity(settings.embedding_model, settings.embedding_backend)
    store = VectorStore(client, settings.collection, model_name=identity, dimension=lambda: DIM)
    registry = DocumentRegistry(client, settings.collection)
    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(5000)]
    held = 0
    for start in range(0, chunks, PER_DOCUMENT):
        sha = f"{start:064x}"
        docs, n = [], min(PER_DOCUMENT, chunks - start)
        for i in range(n):
            terms = " ".join(rng.choice(words, 60))
            meta = {
                "sha256": sha,
                "source": f"doc{start}.pdf",
                "page": i // 4 + 1,
                TERMS_METADATA_KEY: terms,
                ANALYZER_METADATA_KEY: ANALYZER_VERSION,
            }
            docs.append(Document(id=f"{sha}-{i}", page_content=terms[:500], metadata=meta))
        vectors = rng.standard_normal((n, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.upsert(docs, vectors.tolist())
        held += vectors.nbytes + sum(
            len(d.page_content) + len(json.dumps(d.metadata)) for d in docs
        )
        registry.upsert(
            DocumentRecord(sha, f"doc{start}.pdf", n // 4 + 1, n, now_iso(), "complete")
        )
    return held


def _run(step: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *args],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _step(step: str, source: Path, target: Path) -> None:
    import resource

    from rag_core.config import build_settings
    from rag_core.engine import Engine

    started = time.perf_counter()
    if step == "export":
        Engine(build_settings(data_dir=source)).export_collection(None, target)
    else:
        Engine(build_settings(data_dir=target)).import_collection(source)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--step", choices=["export", "import"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        _step(args.step, *args.paths)
        return
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            source, archive, target = Path(tmp) / "src", Path(tmp) / "a.zip", Path(tmp) / "dst"
            held = build(source, size)
            exported = _run("export", str(source), str(archive))
            imported = _run("import", str(archive), str(target))
            rows.append(
                {
                    "chunks": size,
                    "archive_mb": archive.stat().st_size / 1e6,
                    "held_mb": held / 1e6,
                    "export_s": exported["seconds"],
                    "export_peak_mb": exported["peak_mb"],
                    "import_s": imported["seconds"],
                    "import_peak_mb": imported["peak_mb"],
                }
            )
    if args.json:
        print(json.dumps(rows))
        return
    print(
        "| chunks | archive MB | held MB | export s | export peak MB | import s | import peak MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['chunks']:,} | {r['archive_mb']:.1f} | {r['held_mb']:.1f} | {r['export_s']:.1f}"
            f" | {r['export_peak_mb']:.0f} | {r['import_s']:.1f} | {r['import_peak_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
