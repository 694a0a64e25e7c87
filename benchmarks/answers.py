"""Answer quality of the real chain on a question set, against the configured Ollama model.

Run from the repository root on an already-ingested store::

    python benchmarks/answers.py tests/data/qa_dev.jsonl --data-dir D [--k 5] [--json]
        [--model M] [--limit N] [--test-server MODE] [--judge MODEL]

Each question goes through the engine, as in the app and the CLI
(:meth:`rag_core.engine.Engine.answer`: retrieval, the relevance gate, the model,
reasoning split off, citations parsed and checked); the metrics are defined in
:mod:`rag_core.evaluation.answers`. The last line of ``--json`` output is one JSON object.

``--test-server MODE`` answers with the repository's test Ollama server
(``tests/ollama_server.py``) instead of Ollama: it is not a model, so its figures check
the plumbing (``honest`` copies a sentence of passage [1] and cites [1];
``wrong-citation`` copies one from the last passage but cites [1]), not answer quality.

``--judge MODEL`` lets an Ollama model judge every cited sentence
(:mod:`rag_core.generation.judge`, one call per cited sentence); ``citation_support`` then
counts the judge's verdicts, and the word-based figure is printed beside it. With
``--test-server`` the judge is that server's substring test (plumbing, not a judge).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag_core.config import build_settings  # noqa: E402
from rag_core.engine import AskOptions, Engine  # noqa: E402
from rag_core.evaluation.answers import Judged, run_answers  # noqa: E402
from rag_core.evaluation.retrieval import load_qa  # noqa: E402

ROWS = (
    ("citation_coverage", "answer sentences with a valid citation"),
    ("citation_support", "cited sentences supported by the cited passage"),
    ("invalid_citation_rate", "cited numbers beyond the sources"),
    ("cited_page_hit", "answerable questions citing a gold page"),
    ("abstention_precision", "abstentions that were on unanswerable questions"),
    ("abstention_recall", "unanswerable questions abstained on"),
    ("language_match", "answers in the question's language"),
    ("ttft_ms_p50", "time to first answer token, p50 (ms)"),
    ("ttft_ms_p95", "time to first answer token, p95 (ms)"),
)


JUDGE_ROWS = (
    ("citation_support_lexical", "  the same by the word-based check alone"),
    ("judge_overturned", "  verdicts the judge changed"),
    ("judge_unparsed", "  judge replies neither yes nor no"),
    ("judge_failed", "  cited sentences the judge could not check"),
)


def judge_summary(judged: Sequence[Judged]) -> dict[str, float | int]:
    """The word-based support share and the judge's counts over the answered questions.

    ``citation_support_lexical`` is ``citation_support`` of
    :func:`rag_core.evaluation.answers.summarise` (cited sentences of answers that did not fail
    or abstain) computed from :attr:`ClaimCheck.lexical` instead of ``supported``.
    """
    answers = [j.answer for j in judged if not j.answer.error]
    checked = [j.answer for j in judged if not j.answer.error and not j.abstained]
    cited = [c for a in checked for c in a.check.claims if c.lexical is not None]
    reports = [a.check.judge for a in answers if a.check.judge is not None]
    supported = sum(1 for c in cited if c.lexical)
    return {
        "citation_support_lexical": round(supported / len(cited), 4) if cited else 1.0,
        "judge_overturned": sum(r.overturned for r in reports),
        "judge_unparsed": sum(r.unparsed for r in reports),
        "judge_failed": sum(r.failed for r in reports),
    }


def main(argv: list[str] | None = None) -> int:
    """Answer the questions, print the table (and the JSON line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("qa", type=Path, help="question set (JSON Lines)")
    parser.add_argument("--data-dir", type=Path, required=True, help="an ingested store")
    parser.add_argument("--collection", help="collection name (default: documents)")
    parser.add_argument("--k", type=int, default=5, help="passages per answer")
    parser.add_argument("--model", help="Ollama model tag (default: RAG_OLLAMA_MODEL)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--test-server", metavar="MODE", help="use tests/ollama_server.py")
    parser.add_argument("--judge", metavar="MODEL", help="Ollama model judging cited sentences")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    items = load_qa(args.qa)[: args.limit]
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {"data_dir": args.data_dir, "top_k": args.k}
        if args.collection:
            overrides["collection"] = args.collection
        if args.test_server:
            from tests.ollama_server import FakeOllamaServer

            server = stack.enter_context(FakeOllamaServer(mode=args.test_server))
            overrides["ollama_host"] = server.url
        settings = build_settings(**overrides)
        engine = Engine(settings)
        model = args.model or settings.ollama_model
        options = AskOptions(k=args.k, model=model, judge=args.judge)
        judged, summary = run_answers(
            items,
            lambda q: engine.answer(q, options=options),
            progress=lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr),
        )
    if args.judge:
        summary.update(judge_summary(judged))
    print(file=sys.stderr)
    source = f"test server, mode {args.test_server}" if args.test_server else f"Ollama {model}"
    print(f"{args.qa.name}: {summary['questions']} questions, {source}, top-k {args.k}")
    if args.judge:
        source += f", judge {args.judge}"
    for key, label in ROWS + (JUDGE_ROWS if args.judge else ()):
        print(f"{label:<50} {summary[key]:>10}")
    if summary["errors"]:
        print(f"{'answers that failed (Ollama errors)':<50} {summary['errors']:>10}")
    if args.json:
        print(json.dumps({**summary, "model": source, "k": args.k}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
