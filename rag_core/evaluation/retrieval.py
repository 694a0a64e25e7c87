"""Retrieval evaluation on a question set with answer pages: recall@k, MRR@k, nDCG@k.

A question set is JSON Lines, one object per question with at least ``question``, ``doc``
(the file name) and ``pages`` (1-based physical pages holding the answer), as in
``qa_dev.jsonl``.

Definitions (Manning, Raghavan & Schuetze, *Introduction to Information Retrieval*, ch. 8;
Jaervelin & Kekaelaeinen 2002 for nDCG), with a retrieved chunk relevant when it comes from
the question's document and one of its answer pages:

* recall@k: fraction of questions with at least one relevant chunk in the top k
  ("hit rate", the usual RAG reading of recall@k);
* MRR@k: mean of 1 / rank of the first relevant chunk (0 when none in the top k);
* nDCG@k: binary gains, each answer page counted once (a second chunk from an already found
  page gains nothing), ideal DCG from min(k, number of answer pages) relevant results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

from rag_core.config import RetrievalMode
from rag_core.errors import RagError
from rag_core.language import parse_languages, question_language
from rag_core.llm.ollama import build_chat_model
from rag_core.retrieval.crosslingual import CrossLingualSearch, SearchResult, build_search
from rag_core.retrieval.relevance import is_relevant

if TYPE_CHECKING:
    from rag_core.knowledge_base import KnowledgeBase


@dataclass(frozen=True)
class QAItem:
    """One evaluation question.

    Attributes:
        id: the question's id.
        doc: file name of the document that holds the answer.
        question: the question text.
        pages: 1-based physical pages holding the answer.
        also: other places that answer it equally, ``((file name, pages), ...)`` (a
            translation of the document in the same collection); they count as hits.
    """

    id: str
    doc: str
    question: str
    pages: tuple[int, ...]
    also: tuple[tuple[str, tuple[int, ...]], ...] = ()


def load_qa(path: Path) -> list[QAItem]:
    """Read a JSON Lines question set.

    Raises:
        RagError: the file is missing or a line is not a valid question object.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"cannot read question set {path}: {exc.strerror}") from exc
    return parse_qa_lines(lines, str(path))


def relevance(item: QAItem, docs: Sequence[Document]) -> list[int]:
    """Return the answer page each retrieved chunk hits, or 0 when it is not relevant.

    A chunk of an ``also`` place counts as the question's first answer page (an answer
    found in the document's translation is found once, like a second chunk of a page).
    """
    places = {item.doc: set(item.pages)}
    for name, pages in item.also:
        places.setdefault(name, set()).update(pages)
    hits = []
    for doc in docs:
        page = int(doc.metadata.get("page", 0) or 0)
        source = str(doc.metadata.get("source", ""))
        if source == item.doc and page in item.pages:
            hits.append(page)
        elif page in places.get(source, ()):
            hits.append(item.pages[0] if item.pages else 0)
        else:
            hits.append(0)
    return hits


def score_ranking(item: QAItem, docs: Sequence[Document], k: int) -> dict[str, float]:
    """Compute recall@k, MRR@k and nDCG@k of one ranking (see the module doc).

    Args:
        item: the question with its answer pages.
        docs: retrieved chunks, best first (only the first k count).
        k: cut-off.

    Returns:
        ``{"recall": 0|1, "mrr": float, "ndcg": float}``, each in [0, 1].
    """
    hits = relevance(item, docs[:k])
    first = next((rank for rank, page in enumerate(hits, start=1) if page), 0)
    found: set[int] = set()
    dcg = 0.0
    for rank, page in enumerate(hits, start=1):
        if page and page not in found:
            found.add(page)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(set(item.pages))) + 1))
    return {
        "recall": 1.0 if first else 0.0,
        "mrr": 1.0 / first if first else 0.0,
        "ndcg": dcg / ideal if ideal else 0.0,
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {"recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "questions": 0}
    return {
        "recall": round(sum(r["recall"] for r in rows) / len(rows), 4),
        "mrr": round(sum(r["mrr"] for r in rows) / len(rows), 4),
        "ndcg": round(sum(r["ndcg"] for r in rows) / len(rows), 4),
        "questions": len(rows),
    }


def evaluate(
    items: Iterable[QAItem],
    retrieve: Callable[[str], Sequence[Document] | SearchResult],
    k: int,
    *,
    gate: Callable[[Sequence[Document]], bool] | None = None,
    doc_languages: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    """Run every question through ``retrieve`` and average the metrics.

    It is longer than 60 lines by its docstring, which defines every figure it returns.

    Questions with no answer pages are unanswerable from the documents: they are kept out
    of the retrieval metrics (they are not misses) and, with a ``gate``, count towards the
    abstention figures instead.

    Args:
        items: the questions.
        retrieve: returns at least k chunks for a question, best first, or a
            :class:`~rag_core.retrieval.crosslingual.SearchResult` (its chunks and the
            queries searched: the question and its translations).
        k: cut-off of the metrics.
        gate: the "not in the documents" decision on the retrieved chunks (True = answer,
            e.g. :func:`rag_core.retrieval.relevance.is_relevant` with the settings'
            thresholds); None leaves the abstention figures out.
        doc_languages: file name -> its languages (from the document list); with it, the
            answerable questions are also averaged by whether their language is one of
            their document's ("same_language") or not ("crosslingual").

    Returns:
        ``{"k": k, "overall": {"recall", "mrr", "ndcg", "questions"}, "per_doc": {doc:
        {...}}, "misses": [answerable question ids without a hit], "per_question": [{"id",
        "doc", "queries": [the queries searched], "rank": 1-based rank of the first
        relevant chunk, 0 = none in the top k, None = unanswerable}], "per_language": {"en"
        | "ko": metrics of the questions in that language}}``, with ``doc_languages``
        also ``"same_language"`` and ``"crosslingual"`` metrics, plus with a gate
        ``"abstention": {"unanswerable", "caught", "answerable", "refused",
        "precision", "recall"}``: how many unanswerable questions the gate refused
        (caught) and how many answerable ones it refused wrongly; abstention precision =
        caught / all refusals, recall = caught / unanswerable (1.0 when there is nothing
        to count); ``"abstention_by_language"`` holds the same per question language
        ("en", "ko": :func:`rag_core.language.question_language`). Metric names
        carry ``@k`` in the CLI output.
    """
    per_doc: dict[str, list[dict[str, float]]] = {}
    per_language: dict[str, list[dict[str, float]]] = {}
    direction: dict[str, list[dict[str, float]]] = {"same_language": [], "crosslingual": []}
    rows: list[dict[str, float]] = []
    misses: list[str] = []
    refusals: dict[str, dict[str, int]] = {}
    per_question: list[dict[str, Any]] = []
    for item in items:
        got = retrieve(item.question)
        docs = got.docs if isinstance(got, SearchResult) else got
        queries = got.queries if isinstance(got, SearchResult) else [item.question]
        row: dict[str, Any] = {"id": item.id, "doc": item.doc, "queries": queries, "rank": None}
        per_question.append(row)
        language = question_language(item.question)
        if gate is not None:
            _count_refusal(refusals, language, item, not gate(docs))
        if not item.pages:
            continue
        scores = score_ranking(item, docs, k)
        row["rank"] = round(1 / scores["mrr"]) if scores["mrr"] else 0
        rows.append(scores)
        per_doc.setdefault(item.doc, []).append(scores)
        per_language.setdefault(language, []).append(scores)
        if doc_languages is not None and item.doc in doc_languages:
            same = language in doc_languages[item.doc]
            direction["same_language" if same else "crosslingual"].append(scores)
        if not scores["recall"]:
            misses.append(item.id)
    report: dict[str, Any] = {
        "k": k,
        "overall": _mean(rows),
        "per_doc": {doc: _mean(doc_rows) for doc, doc_rows in sorted(per_doc.items())},
        "misses": misses,
        "per_question": per_question,
        "per_language": {lang: _mean(rows_) for lang, rows_ in sorted(per_language.items())},
    }
    if doc_languages is not None:
        report.update({key: _mean(key_rows) for key, key_rows in direction.items()})
    if gate is not None:
        total = {key: sum(c[key] for c in refusals.values()) for key in _REFUSAL_KEYS}
        report["abstention"] = _abstention(total)
        report["abstention_by_language"] = {
            lang: _abstention(counts) for lang, counts in sorted(refusals.items())
        }
    return report


_REFUSAL_KEYS = ("unanswerable", "caught", "answerable", "refused")


def _count_refusal(
    refusals: dict[str, dict[str, int]], language: str, item: QAItem, refused: bool
) -> None:
    counts = refusals.setdefault(language, dict.fromkeys(_REFUSAL_KEYS, 0))
    kind = "answerable" if item.pages else "unanswerable"
    counts[kind] += 1
    counts["caught" if kind == "unanswerable" else "refused"] += int(refused)


def _abstention(counts: dict[str, int]) -> dict[str, Any]:
    all_refused = counts["caught"] + counts["refused"]
    return {
        **counts,
        "precision": round(counts["caught"] / all_refused, 4) if all_refused else 1.0,
        "recall": round(counts["caught"] / counts["unanswerable"], 4)
        if counts["unanswerable"]
        else 1.0,
    }


def build_kb_search(
    kb: KnowledgeBase, mode: RetrievalMode | None, k: int | None
) -> CrossLingualSearch:
    """The app's search over ``kb`` (translations by the configured Ollama model).

    Args:
        kb: the knowledge base.
        mode: retrieval mode (the setting if None).
        k: top-k (the setting if None).
    """
    s = kb.settings
    llm = build_chat_model(s) if s.translate_queries else None
    return build_search(kb.retriever(mode=mode, k=k), llm, rrf_k=s.rrf_k)


def evaluate_modes(
    kb: KnowledgeBase, items: Sequence[Any], modes: Sequence[RetrievalMode], k: int
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Evaluate ``items`` in each mode through the search path, with the relevance gate.

    Returns:
        ``(results by mode, search notices by code)``; each result has ``overall``,
        ``abstention_by_language``, ``per_doc``, ``per_language`` (by question language),
        ``same_language`` and ``crosslingual`` (question in one of its document's
        languages or not; named metrics), ``misses``, ``abstention``, ``translated`` (questions
        searched in translation too) and ``per_question`` (see
        :func:`rag_core.evaluation.retrieval.evaluate`).
    """
    settings = kb.settings

    def gate(docs: Sequence[Document]) -> bool:
        return is_relevant(
            docs,
            min_similarity=settings.min_similarity,
            min_keyword_coverage=settings.min_keyword_coverage,
        )

    results: dict[str, Any] = {}
    notices: dict[str, dict[str, Any]] = {}
    doc_languages = {r.name: parse_languages(r.languages) for r in kb.documents()}
    for mode in modes:
        search = build_kb_search(kb, mode, k)

        def run(question: str, search: CrossLingualSearch = search) -> SearchResult:
            result = search.search(question)
            notices.update(result.notices)
            return result

        report = evaluate(items, run, k, gate=gate, doc_languages=doc_languages)
        results[mode] = {
            "overall": named_metrics(report["overall"], k),
            "per_doc": {doc: named_metrics(m, k) for doc, m in report["per_doc"].items()},
            "per_language": {
                lang: named_metrics(m, k) for lang, m in report["per_language"].items()
            },
            "same_language": named_metrics(report["same_language"], k),
            "crosslingual": named_metrics(report["crosslingual"], k),
            "misses": report["misses"],
            "abstention": report["abstention"],
            "abstention_by_language": report["abstention_by_language"],
            "translated": sum(len(q["queries"]) > 1 for q in report["per_question"]),
            "per_question": report["per_question"],
        }
    return results, notices


def parse_qa_lines(lines: Iterable[str], source: str = "question set") -> list[QAItem]:
    """Parse JSON Lines text into questions (see :func:`load_qa`).

    Raises:
        RagError: a line is not a valid question object.
    """
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(
                QAItem(
                    id=str(row.get("id", number)),
                    doc=str(row["doc"]),
                    question=str(row["question"]),
                    pages=tuple(int(p) for p in row["pages"]),
                    also=tuple(
                        (str(name), tuple(int(p) for p in pages))
                        for name, pages in dict(row.get("also") or {}).items()
                    ),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RagError(f"{source}, line {number}: not a question object ({exc})") from exc
    return items


def named_metrics(metrics: dict[str, float], k: int) -> dict[str, float]:
    """Name a metrics dict by its cut-off: ``{"recall@5", "mrr@5", "ndcg@5", "questions"}``.

    Args:
        metrics: ``{"recall", "mrr", "ndcg", "questions"}`` (from :func:`evaluate`).
        k: the cut-off the metrics were computed at.
    """
    return {
        f"recall@{k}": metrics["recall"],
        f"mrr@{k}": metrics["mrr"],
        f"ndcg@{k}": metrics["ndcg"],
        "questions": metrics["questions"],
    }


__all__ = [
    "QAItem",
    "evaluate",
    "load_qa",
    "named_metrics",
    "parse_qa_lines",
    "relevance",
    "score_ranking",
]
