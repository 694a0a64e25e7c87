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
as an ingest stores them), one registry record per synthetic document and
``KeywordIndex.add_terms`` (timed and printed; the FTS5 index needs no rebuild).

Latency is one ``KnowledgeBase.retriever(mode, k=5).retrieve(question)`` call, wall
clock, including the query embedding and Kiwi analysis, over the ``qa_dev.jsonl``
questions (one warm-up pass not counted); with 8 clients, eight threads issue the same
questions concurrently and every call's latency counts. Size on disk is the Chroma
directory (the server's ``--path`` in server mode) plus the BM25 index.

``--scale 1000000`` (not run by default, nor in CI) adds the keyword index's own row at that
size, without Chroma: :func:`keyword_scale` builds a ``KeywordIndex`` of that many SYNTHETIC
chunks whose terms are sampled from the real corpus's term distribution (each chunk's length
drawn from the base chunks' lengths, its terms drawn independently from the base chunks'
term frequencies), then times adding one 300-chunk document, deleting it, and searches with
the terms of the real development questions (``qa_dev.jsonl`` and the hard set's
``qa_hard.jsonl``, analysed by Kiwi), and reports peak memory (``ru_maxrss``) and the index
size on disk. For comparison it also times one full bm25s index build at 100,000 of the same
chunks: the earlier index's cost on every ingest and delete.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
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
from rag_core.index import keyword  # noqa: E402
from rag_core.index.analyzer import shared_analyzer  # noqa: E402
from rag_core.index.chunks import TERMS_METADATA_KEY  # noqa: E402
from rag_core.index.embeddings import build_embeddings  # noqa: E402
from rag_core.index.keyword import INDEX_FILE, KeywordIndex  # noqa: E402
from rag_core.index.registry import DocumentRecord, now_iso  # noqa: E402
from rag_core.index.vector_store import run_chroma_server  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase  # noqa: E402

CORPUS = [
    REPO / "tests" / "data" / "lshort.pdf",
    REPO / "tests" / "data" / "lshort-ko.pdf",
    REPO / "benchmarks" / "data" / "gnuplot.pdf",
]
QA_DEV = REPO / "tests" / "data" / "qa_dev.jsonl"
QA_HARD = REPO / "tests" / "data" / "hard" / "qa_hard.jsonl"
DOCUMENT_CHUNKS = 300
"""Chunks of the one document the ``--scale`` row adds and deletes (a 100-page manual)."""
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
    return written


def sample_chunks(
    rng: np.random.Generator, n: int, terms: list, vocab: list[str], p: np.ndarray
) -> list[list[str]]:
    """``n`` synthetic chunks: lengths from the base chunks', terms drawn with ``p``."""
    lengths = [len(terms[i]) for i in rng.integers(len(terms), size=n)]
    drawn = rng.choice(len(vocab), size=sum(lengths), p=p)
    out, start = [], 0
    for length in lengths:
        out.append([vocab[t] for t in drawn[start : start + length]])
        start += length
    return out


def keyword_scale(n: int, terms: list, questions: list[list[str]], root: Path) -> dict:
    """Build a keyword index of ``n`` synthetic chunks in ``root``; time add, delete, search.

    Args:
        n: chunks in the index (e.g. 1,000,000).
        terms: the real base chunks' terms (the distribution sampled from).
        questions: the development questions' terms, one list per question.
        root: a scratch directory.

    Returns:
        Timings (s, ms), peak RSS (MiB) and size on disk (MiB).
    """
    counts: dict[str, int] = {}
    for chunk in terms:
        for t in chunk:
            counts[t] = counts.get(t, 0) + 1
    vocab = sorted(counts)
    p = np.asarray([counts[t] for t in vocab], dtype=np.float64)
    p /= p.sum()
    rng = np.random.default_rng(n)
    index = KeywordIndex(root / "keyword")
    out: dict = {"chunks": n, "vocabulary": len(vocab)}
    t0 = time.perf_counter()
    for start in range(0, n, 10000):
        size = min(10000, n - start)
        ids = [f"s{i}" for i in range(start, start + size)]
        shas = [f"doc{i // DOCUMENT_CHUNKS}" for i in range(start, start + size)]
        index.add_terms(ids, shas, sample_chunks(rng, size, terms, vocab, p))
    out["build_s"] = time.perf_counter() - t0
    new = sample_chunks(rng, DOCUMENT_CHUNKS, terms, vocab, p)
    t0 = time.perf_counter()
    index.add_terms([f"new{i}" for i in range(DOCUMENT_CHUNKS)], ["new"] * DOCUMENT_CHUNKS, new)
    out["add_document_s"] = time.perf_counter() - t0
    fast, fast_ms = search_pass(index, questions)
    full_scoring = keyword.FULL_SCORING_ROWS
    keyword.FULL_SCORING_ROWS = n * 1000  # FTS5 ranks every matching chunk, for comparison
    try:  # on every third question (seconds each at 1M)
        exact, exact_ms = search_pass(index, questions[::3], warm=False)
    finally:
        keyword.FULL_SCORING_ROWS = full_scoring
    fast = fast[::3]
    out["search_p50_ms"], out["search_p95_ms"] = percentile(fast_ms, 50), percentile(fast_ms, 95)
    out["search_max_ms"] = max(fast_ms)
    out["full_p50_ms"], out["full_p95_ms"] = percentile(exact_ms, 50), percentile(exact_ms, 95)
    out["same_top5"] = sum(a == b for a, b in zip(fast, exact, strict=True))
    out["overlap_top5"] = statistics.mean(
        len(set(a) & set(b)) / len(b) for a, b in zip(fast, exact, strict=True) if b
    )
    out["questions"] = len(exact)
    t0 = time.perf_counter()
    index.delete_document("new")
    out["delete_document_s"] = time.perf_counter() - t0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["disk_mib"] = (root / "keyword" / INDEX_FILE).stat().st_size / 2**20
    import bm25s  # the earlier index, for comparison only

    corpus = sample_chunks(rng, 100000, terms, vocab, p)
    t0 = time.perf_counter()
    ids: dict[str, int] = {"": 0}
    tokenized = [[ids.setdefault(t, len(ids)) for t in chunk] for chunk in corpus]
    bm25s.BM25().index(bm25s.tokenization.Tokenized(ids=tokenized, vocab=ids), show_progress=False)
    out["bm25s_rebuild_100k_s"] = time.perf_counter() - t0
    return out


def search_pass(
    index: KeywordIndex, questions: list[list[str]], *, warm: bool = True
) -> tuple[list, list[float]]:
    """Top-5 chunk ids and milliseconds of each question's search (after a warm-up pass)."""
    for q in questions if warm else []:
        index.search("", 5, terms=q)
    hits, ms = [], []
    for q in questions:
        t0 = time.perf_counter()
        found = index.search("", 5, terms=q)
        ms.append((time.perf_counter() - t0) * 1000)
        hits.append([chunk_id for chunk_id, _ in found])
    return hits, ms


def print_scale(row: dict) -> None:
    """Print the ``--scale`` row."""
    print(
        f"keyword index, {row['chunks']:,} SYNTHETIC chunks (terms sampled from the real "
        f"corpus's distribution, {row['vocabulary']:,} terms): built in {row['build_s']:.0f} s\n"
        f"  add one {DOCUMENT_CHUNKS}-chunk document: {row['add_document_s'] * 1000:.0f} ms; "
        f"delete it: {row['delete_document_s'] * 1000:.0f} ms\n"
        f"  search (dev questions' terms, k=5): p50 {row['search_p50_ms']:.1f} ms, "
        f"p95 {row['search_p95_ms']:.1f} ms, max {row['search_max_ms']:.1f} ms; "
        f"FTS5 ranking every matching chunk: p50 {row['full_p50_ms']:.1f} ms, "
        f"p95 {row['full_p95_ms']:.1f} ms; same top 5 for {row['same_top5']} of "
        f"{row['questions']} questions (overlap {row['overlap_top5']:.3f})\n"
        f"  peak RSS {row['peak_rss_mib']:.0f} MiB (process, Kiwi included); "
        f"{row['disk_mib']:.0f} MiB on disk\n"
        f"  earlier bm25s index, one full rebuild at 100,000 chunks: "
        f"{row['bm25s_rebuild_100k_s']:.1f} s (paid on every ingest and delete)"
    )


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
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        help="only the keyword index's row at this many synthetic chunks (e.g. 1000000)",
    )
    args = parser.parse_args(argv)

    pdfs = list(CORPUS)
    if args.scale:
        _, _, terms = load_base(pdfs, None)  # cached by a first run without --scale
        analyzer = shared_analyzer()
        asked = [item.question for qa in (QA_DEV, QA_HARD) for item in load_qa(qa)]
        with tempfile.TemporaryDirectory(prefix="bench-keyword-") as tmp:
            print_scale(keyword_scale(args.scale, terms, analyzer.analyze(asked), Path(tmp)))
        return 0
    embeddings = build_embeddings("all-MiniLM-L6-v2", backend="openvino-int8")
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
                        f"{build['bm25_terms']:.1f} s, {size:.0f} MiB on disk"
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
