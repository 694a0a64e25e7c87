"""Retrieval latency at 1k, 10k and 100k chunks, embedded Chroma and Chroma server.

Run from the repository root::

    python benchmarks/retrieval.py [--sizes 1000 10000 100000] [--modes dense bm25 hybrid]
                                   [--no-server] [--queries 50]

The chunks are real text: ``tests/data/lshort*.pdf`` and ``benchmarks/data/gnuplot.pdf``
ingested once by THE ingest pipeline (default embedding backend) into a temporary store,
read back (texts, vectors, BM25 terms) and cached in ``benchmarks/.cache/``. A store of
N chunks repeats that base set, each copy perturbed: one BM25 term dropped and Gaussian
noise (sigma 0.02 per dimension) added to the vector before re-normalising, so copies are
near, not exact, duplicates.
Chunks are written with the store's own ``VectorStore.upsert`` (BM25 terms in their metadata,
as an ingest stores them), one registry record per synthetic document,
``KeywordIndex.add_terms`` and one ``rebuild`` (timed and printed).

Latency is one ``KnowledgeBase.retriever(mode, k=5).retrieve(question)`` call, wall
clock, including the query embedding and Kiwi analysis, over the ``qa_dev.jsonl``
questions (one warm-up pass not counted); with 8 clients, eight threads issue the same
questions concurrently and every call's latency counts. Size on disk is the Chroma
directory (the server's ``--path`` in server mode) plus the BM25 index.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from langchain_core.documents import Document  # noqa: E402

from rag_core.config import build_settings  # noqa: E402
from rag_core.evaluation.retrieval import load_qa  # noqa: E402
from rag_core.index.chunks import TERMS_METADATA_KEY  # noqa: E402
from rag_core.index.embeddings import build_embeddings  # noqa: E402
from rag_core.index.registry import DocumentRecord, now_iso  # noqa: E402
from rag_core.index.vector_store import run_chroma_server  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase  # noqa: E402

CORPUS = [
    REPO / "tests" / "data" / "lshort.pdf",
    REPO / "tests" / "data" / "lshort-ko.pdf",
    REPO / "benchmarks" / "data" / "gnuplot.pdf",
]
QA_DEV = REPO / "tests" / "data" / "qa_dev.jsonl"
CACHE = REPO / "benchmarks" / ".cache"
NOISE_SIGMA = 0.02
WRITE_BATCH = 5000


def load_base(pdfs: list[Path], embeddings: object) -> tuple[list[Document], np.ndarray, list]:
    """Ingest ``pdfs`` with THE pipeline into a temporary store; return its chunks, their
    vectors (n x dim) and BM25 terms, read back from Chroma.

    Cached by the digest of the PDFs' bytes.
    """
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in pdfs)).hexdigest()[:16]
    cache = CACHE / f"base-{digest}.npz"
    if cache.exists():
        saved = np.load(cache, allow_pickle=False)
        rows = json.loads(str(saved["chunks"]))
        chunks = [Document(id=i, page_content=t, metadata=m) for i, t, m in rows]
        return chunks, saved["vectors"], json.loads(str(saved["terms"]))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(build_settings(data_dir=Path(tmp)), embeddings)  # type: ignore[arg-type]
        for pdf in pdfs:
            kb.ingest_path(pdf)
        got = kb.store.collection.get(include=["documents", "metadatas", "embeddings"])
    chunks, terms = [], []
    for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
        meta = dict(meta)
        terms.append(str(meta.pop(TERMS_METADATA_KEY, "")).split())
        chunks.append(Document(id=chunk_id, page_content=text, metadata=meta))
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    print(f"ingested {len(chunks)} base chunks in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    rows = [[c.id, c.page_content, c.metadata] for c in chunks]
    np.savez(cache, vectors=vectors, terms=json.dumps(terms), chunks=json.dumps(rows))
    return chunks, vectors, terms


def build_store(
    kb: KnowledgeBase, n: int, base: list[Document], vectors: np.ndarray, terms: list
) -> dict[str, float]:
    """Write ``n`` perturbed copies of the base chunks into ``kb``; return timings (s)."""
    rng = np.random.default_rng(n)
    written = {"chroma": 0.0, "bm25_terms": 0.0}
    documents: dict[str, list] = {}  # sha256 -> [name, chunks]
    for start in range(0, n, WRITE_BATCH):
        idx = range(start, min(n, start + WRITE_BATCH))
        docs, vecs, ids, shas, batch_terms = [], [], [], [], []
        for i in idx:
            b, copy = i % len(base), i // len(base)
            chunk = base[b]
            sha = hashlib.sha256(f"{chunk.metadata['sha256']}:{copy}".encode()).hexdigest()
            source = f"{chunk.metadata['source']}#{copy}"
            documents.setdefault(sha, [source, 0])[1] += 1
            vec = vectors[b]
            chunk_terms = list(terms[b])
            if copy:
                vec = vec + rng.normal(0.0, NOISE_SIGMA, vec.shape)
                vec = vec / np.linalg.norm(vec)
                if chunk_terms:
                    del chunk_terms[int(rng.integers(len(chunk_terms)))]
            meta = {
                **chunk.metadata,
                "sha256": sha,
                "source": source,
                TERMS_METADATA_KEY: " ".join(chunk_terms),
            }
            docs.append(Document(id=f"c{i}", page_content=chunk.page_content, metadata=meta))
            vecs.append(vec.tolist())
            ids.append(f"c{i}")
            shas.append(sha)
            batch_terms.append(chunk_terms)
        t0 = time.perf_counter()
        kb.store.upsert(docs, vecs)
        t1 = time.perf_counter()
        kb.keyword_index.add_terms(ids, shas, batch_terms)
        written["chroma"] += t1 - t0
        written["bm25_terms"] += time.perf_counter() - t1
    t0 = time.perf_counter()
    for sha, (name, chunks) in documents.items():
        kb.registry.upsert(
            DocumentRecord(sha, name, pages=1, chunks=chunks, added_at=now_iso(), status="complete")
        )
    written["chroma"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    kb.keyword_index.rebuild()
    written["bm25_rebuild"] = time.perf_counter() - t0
    return written


def latencies(kb: KnowledgeBase, mode: str, questions: list[str], clients: int) -> list[float]:
    """Milliseconds of each retrieve call (after one warm-up pass)."""
    retriever = kb.retriever(mode=mode, k=5)  # type: ignore[arg-type]
    for q in questions[:5]:
        retriever.retrieve(q)

    def timed(q: str) -> float:
        t0 = time.perf_counter()
        retriever.retrieve(q)
        return (time.perf_counter() - t0) * 1000

    if clients == 1:
        return [timed(q) for q in questions]
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(timed, questions * clients))


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (statistics.quantiles, inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def dir_size_mib(*paths: Path) -> float:
    """Total size of the files under ``paths`` (MiB)."""
    total = sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file())
    return total / 2**20


def main(argv: list[str] | None = None) -> int:
    """Build the stores, time retrieval, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--modes", nargs="+", default=["dense", "bm25", "hybrid"])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--queries", type=int, default=50, help="questions per pass")
    parser.add_argument("--no-server", action="store_true", help="embedded Chroma only")
    args = parser.parse_args(argv)

    embeddings = build_embeddings("all-MiniLM-L6-v2", backend="openvino-int8")
    pdfs = list(CORPUS)
    base, vectors, terms = load_base(pdfs, embeddings)
    questions = [item.question for item in load_qa(QA_DEV)][: args.queries]
    print(f"base: {len(base)} chunks from {', '.join(p.name for p in pdfs)}; "
          f"{len(questions)} questions; cpus: {os.cpu_count()}")  # fmt: skip
    backends = ["embedded"] + ([] if args.no_server else ["server"])
    rows = []
    for backend in backends:
        for n in args.sizes:
            with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
                root = Path(tmp)
                server = backend == "server"
                with contextlib.ExitStack() as stack:
                    url = stack.enter_context(run_chroma_server(root / "server")) if server else ""
                    settings = build_settings(data_dir=root / "data", chroma_url=url)
                    kb = KnowledgeBase(settings, embeddings)
                    build = build_store(kb, n, base, vectors, terms)
                    chroma_dir = root / "server" if server else settings.chroma_dir
                    size = dir_size_mib(chroma_dir, settings.keyword_index_dir)
                    print(
                        f"{backend} {n}: chroma write {build['chroma']:.1f} s, BM25 terms "
                        f"{build['bm25_terms']:.1f} s, BM25 rebuild {build['bm25_rebuild']:.2f} s,"
                        f" {size:.0f} MiB on disk"
                    )
                    for mode in args.modes:
                        for clients in args.clients:
                            ms = latencies(kb, mode, questions, clients)
                            rows.append(
                                (backend, n, mode, clients, percentile(ms, 50),
                                 percentile(ms, 95), size)
                            )  # fmt: skip
                            print(
                                "  {} {} {:>6} {} client(s): p50 {:.1f} ms, p95 {:.1f} ms".format(
                                    *rows[-1][:6]
                                )
                            )
    print()
    print(
        f"{'store':<9}{'chunks':>8} {'mode':<7}{'clients':>8}{'p50 ms':>9}{'p95 ms':>9}{'MiB':>7}"
    )
    for backend, n, mode, clients, p50, p95, size in rows:
        print(f"{backend:<9}{n:>8} {mode:<7}{clients:>8}{p50:>9.1f}{p95:>9.1f}{size:>7.0f}")
    print()
    for backend in backends:
        for mode in args.modes:
            for clients in args.clients:
                p50s = {
                    n: p50
                    for b, n, m, c, p50, _, _ in rows
                    if (b, m, c) == (backend, mode, clients)
                }
                if len(p50s) > 1:
                    small, large = min(p50s), max(p50s)
                    print(
                        f"growth {backend} {mode} {clients} client(s): "
                        f"{large // small}x the chunks, "
                        f"{p50s[large] / p50s[small]:.2f}x the p50 latency"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
