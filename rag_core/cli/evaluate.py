"""The CLI's search commands' shared parts and ``eval``: the app's search path, metrics.

``retrieve`` and ``eval`` search like the app's chain does
(:class:`rag_core.retrieval.crosslingual.CrossLingualSearch`): a question in a language
the documents are not in is also searched in translation by the configured Ollama model
(``OLLAMA_HOST`` / ``RAG_OLLAMA_HOST``, ``RAG_OLLAMA_MODEL`` or ``--model``), unless
``RAG_TRANSLATE_QUERIES=false``. Without a reachable model the question is searched as
asked and a note on stderr says why.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rag_core.cli.output import err_line, out_line
from rag_core.config import RetrievalMode
from rag_core.evaluation.retrieval import evaluate_modes, load_qa
from rag_core.generation.report import Notice
from rag_core.knowledge_base import KnowledgeBase
from rag_core.retrieval.retrievers import RETRIEVAL_MODES


def print_search_notices(notices: dict[str, dict[str, Any]]) -> None:
    """Write each search notice (``code -> params``) to stderr as ``note: <text>``."""
    for code, params in notices.items():
        err_line(f"note: {Notice(code, params).text}")


def print_metrics(results: dict[str, Any], k: int, default_mode: str) -> None:
    """Print the metrics table and the gate's figures.

    Per mode: overall, per question language, same language and cross-lingual (question
    in another language than its document), per document, then the gate's figures
    overall and per question language.
    """
    docs = sorted({doc for r in results.values() for doc in r["per_doc"]})
    header = f"{'mode':8s} {'scope':24s} {'recall@' + str(k):>9s} {'mrr@' + str(k):>7s} "
    out_line(header + f"{'ndcg@' + str(k):>8s} {'n':>4s}")
    for mode, r in results.items():
        default = " (default)" if mode == default_mode else ""
        scopes = [("overall", r["overall"])]
        scopes += [(f"questions {lang}", m) for lang, m in r.get("per_language", {}).items()]
        scopes += [(key.replace("_", " "), r[key]) for key in ("same_language", "crosslingual")]
        scopes += [(d, r["per_doc"][d]) for d in docs]
        for scope, m in scopes:
            if not m["questions"]:
                continue
            note = default if scope == "overall" else ""
            out_line(
                f"{mode:8s} {scope:24s} {m[f'recall@{k}']:9.3f} {m[f'mrr@{k}']:7.3f} "
                f"{m[f'ndcg@{k}']:8.3f} {m['questions']:4d}{note}"
            )
        for lang, a in [("", r["abstention"]), *r["abstention_by_language"].items()]:
            if a["unanswerable"] or (lang and a["answerable"]):
                out_line(
                    f'{mode:8s} "not in the documents"{" (" + lang + ")" if lang else ""}: '
                    f"caught {a['caught']} of {a['unanswerable']} unanswerable, wrongly "
                    f"refused {a['refused']} of {a['answerable']} answerable"
                )
        if r["translated"]:
            out_line(f"{mode:8s} {r['translated']} question(s) also searched in translation")


def print_queries(results: dict[str, Any]) -> None:
    """Per mode and question: the rank of the first relevant chunk and the queries used."""
    out_line(f"\n{'mode':8s} {'question':16s} {'rank':>4s}  queries searched")
    for mode, r in results.items():
        for q in r["per_question"]:
            rank = "-" if q["rank"] is None else str(q["rank"] or "miss")
            out_line(f"{mode:8s} {q['id']:16s} {rank:>4s}  " + " | ".join(q["queries"]))


def run_eval(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    """``eval QA.jsonl``: the table (and ``--show-queries``), then one JSON object.

    Returns:
        The exit status, 0.

    Raises:
        RagError: the question set cannot be read, or the store fails.
    """
    items = load_qa(args.qa)
    k = args.k
    default = kb.settings.retrieval_mode
    modes: list[RetrievalMode] = list(RETRIEVAL_MODES) if args.compare else [args.mode or default]
    results, notices = evaluate_modes(kb, items, modes, k)
    print_search_notices(notices)
    if not args.json:
        print_metrics(results, k, default)
        if args.show_queries:
            print_queries(results)
    if args.compare:
        out: dict[str, Any] = {"k": k, "default_mode": default, "modes": results}
    else:
        out = {"mode": modes[0], "k": k, **results[modes[0]]}
    out_line(json.dumps(out, ensure_ascii=False))
    return 0


__all__ = [
    "print_metrics",
    "print_queries",
    "print_search_notices",
    "run_eval",
]
