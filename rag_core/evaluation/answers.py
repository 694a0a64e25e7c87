"""Answer quality on a question set: citations, their support, abstention, language, speed.

Every question of a QA file (the development-set format; questions with empty ``pages``
are unanswerable from the documents) goes through the real chain against the configured
Ollama server and model (:func:`rag_core.generation.respond.answer_question`), and the
checked answers are summed up. ``benchmarks/answers.py`` prints the table; the test server
of ``tests/ollama_server.py`` only proves the plumbing (its "answers" are copied passage
sentences), a real model gives real figures.

Definitions (per run):

* ``citation_coverage``: share of answer sentences that carry a valid citation;
* ``citation_support``: share of cited sentences whose cited passage supports them
  (:func:`rag_core.generation.support.claim_support`);
* ``invalid_citation_rate``: share of cited numbers that are not among the sources;
* ``cited_page_hit``: share of answered, answerable questions whose cited passages include
  a gold page;
* ``abstention_precision`` / ``abstention_recall``: an answer abstains when the relevance
  gate refused or the model says the documents do not contain the answer; precision =
  abstentions on unanswerable questions / all abstentions, recall = abstentions on
  unanswerable questions / unanswerable questions (1.0 when there is nothing to count);
* ``language_match``: share of answers in the question's language;
* ``ttft_ms_p50`` / ``ttft_ms_p95``: time from the question to the first answer token
  (reasoning excluded), milliseconds, nearest-rank percentiles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag_core.evaluation.retrieval import QAItem
from rag_core.generation.types import RagAnswer

ABSTENTION_RE = re.compile(
    r"(do(?:es)? not|don't|doesn't) (?:seem to )?(?:contain|say|mention|cover|include)"
    r"|no (?:information|answer) (?:about|on|to|in)|not (?:found|mentioned|covered) in"
    r"|찾지 못|나와 있지 않|언급(?:되어 있지|하지) 않|포함되어 있지 않|알 수 없",
    re.IGNORECASE,
)
"""Phrases of a model saying the documents do not answer (English and Korean)."""


@dataclass(frozen=True)
class Judged:
    """One answered question with what the metrics need.

    Attributes:
        item: the question.
        answer: the checked answer.
    """

    item: QAItem
    answer: RagAnswer

    @property
    def abstained(self) -> bool:
        """The gate refused, or the model said the documents do not contain the answer."""
        return not self.answer.relevant or bool(ABSTENTION_RE.search(self.answer.answer))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (``pct`` in 0..100); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


def summarise(judged: Sequence[Judged]) -> dict[str, Any]:
    """The metrics of the module docstring over answered questions (errors excluded)."""
    answered = [j for j in judged if not j.answer.error]
    claims = [c for j in answered if not j.abstained for c in j.answer.check.claims]
    cited = [c for c in claims if c.supported is not None]
    numbers = sum(
        len(j.answer.check.cited) + len(j.answer.check.invalid_citations) for j in answered
    )
    invalid = sum(len(j.answer.check.invalid_citations) for j in answered)
    hits = [
        any(
            c.number in j.answer.check.cited and c.source == j.item.doc and c.page in j.item.pages
            for c in j.answer.citations
        )
        for j in answered
        if j.item.pages and not j.abstained
    ]
    abstained = [j for j in answered if j.abstained]
    unanswerable = [j for j in answered if not j.item.pages]
    ttft = [1000 * j.answer.ttft_s for j in answered if j.answer.ttft_s is not None]
    return {
        "questions": len(judged),
        "errors": len(judged) - len(answered),
        "citation_coverage": _share(
            sum(bool(c.supported is not None) for c in claims), len(claims)
        ),
        "citation_support": _share(sum(bool(c.supported) for c in cited), len(cited)),
        "invalid_citation_rate": _share(invalid, numbers) if numbers else 0.0,
        "cited_page_hit": _share(sum(hits), len(hits)),
        "abstention_precision": _share(sum(not j.item.pages for j in abstained), len(abstained)),
        "abstention_recall": _share(sum(j.abstained for j in unanswerable), len(unanswerable)),
        "language_match": _share(
            sum(j.answer.check.language_match for j in answered if not j.abstained),
            sum(not j.abstained for j in answered),
        ),
        "ttft_ms_p50": round(percentile(ttft, 50), 1),
        "ttft_ms_p95": round(percentile(ttft, 95), 1),
    }


def run_answers(
    items: Sequence[QAItem],
    ask: Callable[[str], RagAnswer],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Judged], dict[str, Any]]:
    """Answer every question with ``ask`` and summarise.

    Args:
        items: the questions (unanswerable ones have no pages).
        ask: answers one question (e.g. ``answer_question`` bound to a chain).
        progress: called with ``(done, total)`` after each question.

    Returns:
        The judged answers and :func:`summarise` of them.
    """
    judged = []
    for done, item in enumerate(items, start=1):
        judged.append(Judged(item, ask(item.question)))
        if progress is not None:
            progress(done, len(items))
    return judged, summarise(judged)


__all__ = ["ABSTENTION_RE", "Judged", "percentile", "run_answers", "summarise"]
