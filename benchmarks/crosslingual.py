"""Cross-lingual retrieval: recall@5 / MRR@5 of questions in the documents' language and not.

Run from the repository root::

    python benchmarks/crosslingual.py [--k 5] [--json]

Ingests ``tests/data/lshort.pdf`` alone and ``tests/data/lshort-ko.pdf`` alone into two
temporary stores with THE ingest pipeline (default settings: hybrid retrieval,
``openvino-int8`` embeddings) and asks, on each store, with the app's search path
(:class:`rag_core.retrieval.crosslingual.CrossLingualSearch`):

* **same language**: the development set's questions on that document
  (``tests/data/qa_dev.jsonl``: English on lshort.pdf, Korean on lshort-ko.pdf);
* **cross-lingual, no translation**: the same questions in the other language
  (``qa_dev_en2ko.jsonl``: Korean on lshort.pdf; ``qa_dev_ko2en.jsonl``: English on
  lshort-ko.pdf) with ``translate_queries`` off;
* **cross-lingual, translated**: the same, with translation on.

Each row also gives how many answerable questions the "not in the documents" gate refused
and how many unanswerable ones (no answer pages) it caught, on the fused results.

The "model" that translates is the test Ollama server (``tests/ollama_server.py``) answering
translation requests from ``tests/data/translations.json``: a model that translates
correctly, as the target of issue 14 defines, so the rows measure the retrieval side, not a
model's translation quality. The requests go through ChatOllama over HTTP like the app's.
Unanswerable questions are left out of recall and MRR. ``--json`` prints
one JSON object as the last line.
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
from rag_core.evaluation.retrieval import evaluate, load_qa  # noqa: E402
from rag_core.knowledge_base import KnowledgeBase, load_embeddings  # noqa: E402
from rag_core.llm.ollama import build_chat_model  # noqa: E402
from rag_core.retrieval.crosslingual import build_search  # noqa: E402
from rag_core.retrieval.relevance import is_relevant  # noqa: E402
from rag_core.retrieval.translation import clear_translation_cache  # noqa: E402
from tests.ollama_server import FakeOllamaServer  # noqa: E402

DATA = REPO / "tests" / "data"
STORES = {"lshort.pdf": "en", "lshort-ko.pdf": "ko"}
CROSS_SETS = {"lshort.pdf": "qa_dev_en2ko.jsonl", "lshort-ko.pdf": "qa_dev_ko2en.jsonl"}


def run_set(kb: KnowledgeBase, qa: Path, doc: str, llm: Any, k: int) -> dict[str, Any]:
    """Evaluate the questions of ``qa`` on ``doc`` through the search path, with the gate.

    Returns:
        ``{"recall", "mrr", "questions", "translated", "asked", "ms_per_question",
        "misses", "refused", "caught", "unanswerable"}``: metrics of the answerable
        questions; how many of all the questions asked were searched in translation; how
        many answerable ones the "not in the documents" gate refused; how many
        unanswerable ones it caught.
    """
    items = [i for i in load_qa(qa) if i.doc == doc]
    search = build_search(
        kb.retriever(k=k), llm, translate=llm is not None, rrf_k=kb.settings.rrf_k
    )
    s = kb.settings

    def gate(docs: Any) -> bool:
        return is_relevant(
            docs, min_similarity=s.min_similarity, min_keyword_coverage=s.min_keyword_coverage
        )

    started = time.perf_counter()
    report = evaluate(items, search.search, k, gate=gate)
    seconds = time.perf_counter() - started
    abstention = report["abstention"]
    return {
        "refused": abstention["refused"],
        "caught": abstention["caught"],
        "unanswerable": abstention["unanswerable"],
        "recall": report["overall"]["recall"],
        "mrr": report["overall"]["mrr"],
        "questions": report["overall"]["questions"],
        "translated": sum(len(q["queries"]) > 1 for q in report["per_question"]),
        "asked": len(items),
        "ms_per_question": round(1000 * seconds / max(1, len(items)), 1),
        "misses": report["misses"],
    }


def measure(k: int) -> dict[str, Any]:
    """Build the two stores, start the translating test server and run every row."""
    table = json.loads((DATA / "translations.json").read_text(encoding="utf-8"))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, FakeOllamaServer(translations=table) as server:
        settings = build_settings(data_dir=Path(tmp) / "en", ollama_host=server.url)
        embeddings = load_embeddings(settings)
        for doc in STORES:
            settings = build_settings(data_dir=Path(tmp) / doc, ollama_host=server.url)
            kb = KnowledgeBase(settings, embeddings)
            ingested = kb.ingest_path(DATA / doc)
            if ingested.status != "indexed":
                raise SystemExit(f"ingest of {doc} failed: {ingested.error}")
            languages = kb.documents()[0].languages
            llm = build_chat_model(settings)
            clear_translation_cache()
            cross = DATA / CROSS_SETS[doc]
            results[doc] = {
                "languages": languages,
                "same language": run_set(kb, DATA / "qa_dev.jsonl", doc, llm, k),
                "cross-lingual, no translation": run_set(kb, cross, doc, None, k),
                "cross-lingual, translated": run_set(kb, cross, doc, llm, k),
            }
        results["translation_requests"] = sum(r.get("kind") == "translate" for r in server.replies)
    return results


def overall(results: dict[str, Any], row: str) -> dict[str, float]:
    """Question-weighted recall and MRR of ``row`` over both stores."""
    runs = [results[doc][row] for doc in STORES]
    n = sum(r["questions"] for r in runs)
    return {
        "recall": round(sum(r["recall"] * r["questions"] for r in runs) / n, 4),
        "mrr": round(sum(r["mrr"] * r["questions"] for r in runs) / n, 4),
        "questions": n,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the table (and with ``--json`` one JSON object as the last line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    k = args.k
    results = measure(k)
    rows = ["same language", "cross-lingual, no translation", "cross-lingual, translated"]
    results["overall"] = {row: overall(results, row) for row in rows}
    same = results["overall"]["same language"]["recall"]
    translated = results["overall"]["cross-lingual, translated"]["recall"]
    results["ratio"] = round(translated / same, 4) if same else 0.0
    print(f"{'store':14s} {'questions':32s} {'n':>3s} {'recall@' + str(k):>9s} ", end="")
    print(f"{'MRR@' + str(k):>6s} {'translated':>10s} {'ms/q':>6s} {'refused':>7s} {'caught':>6s}")
    for doc in STORES:
        for row in rows:
            r = results[doc][row]
            print(
                f"{doc:14s} {row:32s} {r['questions']:3d} {r['recall']:9.2f} {r['mrr']:6.3f} "
                f"{r['translated']:6d}/{r['asked']:<3d} {r['ms_per_question']:6.1f} "
                f"{r['refused']:3d}/{r['questions']:<3d} {r['caught']:2d}/{r['unanswerable']:<3d}"
            )
    for row in rows:
        r = results["overall"][row]
        print(f"{'both':14s} {row:32s} {r['questions']:3d} {r['recall']:9.2f} {r['mrr']:6.3f}")
    print(f"cross-lingual (translated) / same-language recall@{k}: {results['ratio']:.2f}")
    print("languages recorded: " + ", ".join(f"{d} {results[d]['languages']}" for d in STORES))
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
