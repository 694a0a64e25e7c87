"""Retrieval quality on the hard development set: per document, per language, cross-lingual.

Run from the repository root::

    python benchmarks/hard_set.py [--data-dir D] [--k 5] [--variants] [--json]

Ingests the 14 documents of the hard set (``tests/hard_set.py``: Korean and English PDFs
and HWPX, 1,500+ pages) into ONE store with THE ingest pipeline and default settings
(``--data-dir`` keeps the store for the next run), starts the test Ollama server
(``tests/ollama_server.py``) answering translation requests with each question's
``translation`` (a model that translates correctly: the rows measure retrieval, not a
model), and evaluates ``tests/data/hard/qa_hard.jsonl`` through the app's search path
(:func:`rag_core.evaluation.retrieval.evaluate_modes`: cross-lingual search, the "not in the
documents" gate) in every retrieval mode.

Printed: recall@k / MRR@k per mode overall, per document, per question language, same
language vs cross-lingual (question not in its document's language), and the gate's
answerable questions refused and unanswerable ones caught per language. ``--variants``
adds hybrid rows for other fusion settings (RRF, convex weights, no translation), the
comparison behind the defaults. ``--json`` prints one JSON object as the last line.
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

from rag_core.config import build_settings  # noqa: E402
from rag_core.evaluation.retrieval import evaluate_modes, load_qa  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase, load_embeddings  # noqa: E402
from rag_core.retrieval.retrievers import RETRIEVAL_MODES  # noqa: E402
from rag_core.retrieval.translation import clear_translation_cache  # noqa: E402
from tests.hard_set import QA_HARD, build_hard_kb, translation_table  # noqa: E402
from tests.ollama_server import FakeOllamaServer  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "hybrid, rrf (k=60)": {"fusion": "rrf"},
    "hybrid, convex a=0.3": {"fusion": "convex", "dense_weight": 0.3},
    "hybrid, convex a=0.7": {"fusion": "convex", "dense_weight": 0.7},
    "hybrid, fetch_k=100": {"fetch_k": 100},
    "hybrid, no translation": {"translate_queries": False},
}
"""Settings tried against the defaults with ``--variants``."""


def run(kb: KnowledgeBase, items: list, modes: list, k: int) -> dict[str, Any]:
    clear_translation_cache()
    started = time.perf_counter()
    results, notices = evaluate_modes(kb, items, modes, k)
    seconds = time.perf_counter() - started
    for r in results.values():
        r["ms_per_question"] = round(1000 * seconds / max(1, len(items) * len(modes)), 1)
    if notices:
        print("notices:", json.dumps(notices, ensure_ascii=False)[:300])
    return results


def print_rows(label: str, r: dict[str, Any], k: int) -> None:
    def cell(m: dict[str, Any]) -> str:
        return f"{m[f'recall@{k}']:.2f}/{m[f'mrr@{k}']:.2f} ({m['questions']})"

    lang = r["per_language"]
    gate = r["abstention_by_language"]
    gates = " ".join(
        f"{g}: refused {v['refused']}/{v['answerable']} caught {v['caught']}/{v['unanswerable']}"
        for g, v in gate.items()
    )
    print(
        f"{label:26s} all {cell(r['overall'])}  en {cell(lang.get('en', r['overall']))}  "
        f"ko {cell(lang.get('ko', r['overall']))}  same {cell(r['same_language'])}  "
        f"cross {cell(r['crosslingual'])}  {r['ms_per_question']:.0f} ms/q  {gates}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--qa", type=Path, default=QA_HARD, help="another question set")
    args = parser.parse_args(argv)
    k = args.k
    items = load_qa(args.qa)
    out: dict[str, Any] = {"k": k, "questions": len(items)}
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOllamaServer(translations=translation_table(args.qa)) as server,
    ):
        data_dir = args.data_dir or Path(tmp) / "hard"
        settings = build_settings(data_dir=data_dir, ollama_host=server.url)
        embeddings = load_embeddings(settings)
        started = time.perf_counter()
        kb = build_hard_kb(data_dir, embeddings, ollama_host=server.url)
        out["ingest_s"] = round(time.perf_counter() - started, 1)
        docs = kb.documents()
        out["documents"] = {d.name: d.languages for d in docs}
        print(
            f"{len(docs)} documents, {sum(d.pages for d in docs)} pages, "
            f"{sum(d.chunks for d in docs)} chunks ({out['ingest_s']} s to ingest or open)"
        )
        modes = list(RETRIEVAL_MODES)
        results = run(kb, items, modes, k)
        out["modes"] = results
        for mode in modes:
            print_rows(mode, results[mode], k)
        names = sorted(results["hybrid"]["per_doc"])
        print(f"\n{'document':28s} " + " ".join(f"{m:>11s}" for m in modes))
        for name in names:
            cells = [results[m]["per_doc"][name] for m in modes]
            print(
                f"{name:28s} "
                + " ".join(f"{c[f'recall@{k}']:6.2f} ({c['questions']:2d})" for c in cells)
            )
        if args.variants:
            out["variants"] = {}
            for label, overrides in VARIANTS.items():
                variant = KnowledgeBase(
                    build_settings(data_dir=data_dir, ollama_host=server.url, **overrides),
                    embeddings,
                )
                r = run(variant, items, ["hybrid"], k)["hybrid"]
                out["variants"][label] = r
                print_rows(label, r, k)
        out["translation_requests"] = sum(r.get("kind") == "translate" for r in server.replies)
    if args.json:
        for r in [*out["modes"].values(), *out.get("variants", {}).values()]:
            r.pop("per_question", None)
        print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
