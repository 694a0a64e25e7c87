"""What a person is told about a checked answer: notices and the JSON of one answer.

The CLI prints these notices, the chat export writes them, and the UI shows the same ones
in the UI language (it translates by :attr:`Notice.code`; the English texts here are the
one source of the English wording).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rag_core.generation.types import AnswerCheck, RagAnswer

NOTICE_TEXTS = {
    "no_citation": "The answer cites no source: check it against the passages below.",
    "invalid_citations": "The answer cites {numbers}, which are not among the sources shown.",
    "unsupported": "{n} cited statement(s) are not supported by the passage they cite "
    "(marked below).",
    "truncated": "The answer was cut off at the length limit: raise RAG_NUM_PREDICT "
    "(now {num_predict} tokens) for longer answers.",
    "language": "The answer is in {answer_language}, not in the question's language, even "
    "after asking again.",
    "translation_unavailable": "The documents are in {languages}: the question was searched "
    "only as asked, since the model could not translate it. {error}",
    "translation_unusable": "The documents are in {languages}: the question was searched "
    "only as asked, since the model's translation of it was unusable.",
    "judge_failed": "The judge model {model} could not check {n} cited statement(s), so "
    "their word-based verdicts are kept. {error}",
    "judge_unparsed": "The judge model {model} answered neither yes nor no for {n} cited "
    "statement(s), so their word-based verdicts are kept.",
}
"""English texts of the notices, by code (formatted with :attr:`Notice.params`)."""

LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "zh": "Chinese", "ja": "Japanese"}


@dataclass(frozen=True)
class Notice:
    """One thing the reader of an answer should know.

    Attributes:
        code: a key of :data:`NOTICE_TEXTS`.
        params: the values its text is formatted with.
    """

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The notice in English."""
        return NOTICE_TEXTS[self.code].format(**self.params)


def answer_notices(
    check: AnswerCheck, *, answer: str, relevant: bool, num_predict: int = 0
) -> list[Notice]:
    """The notices for a checked answer (none for the fixed "not in the documents" one).

    Args:
        check: from :func:`rag_core.generation.respond.check_answer`.
        answer: the answer text.
        relevant: False when the answer is the fixed "not in the documents" answer.
        num_predict: the ``num_predict`` setting (named in the truncation notice).

    Returns:
        In this order, as they apply: truncated, language, no citation, invalid
        citations, unsupported statements, the judge model's failures (an Ollama error,
        replies that were neither yes nor no).
    """
    if not relevant or not answer.strip():
        return []
    notices = []
    if check.truncated:
        notices.append(Notice("truncated", {"num_predict": num_predict}))
    if not check.language_match:
        name = LANGUAGE_NAMES.get(check.answer_language, check.answer_language or "?")
        notices.append(Notice("language", {"answer_language": name}))
    if not check.cited and not check.invalid_citations:
        notices.append(Notice("no_citation"))
    if check.invalid_citations:
        numbers = ", ".join(f"[{n}]" for n in check.invalid_citations)
        notices.append(Notice("invalid_citations", {"numbers": numbers}))
    if check.unsupported:
        notices.append(Notice("unsupported", {"n": len(check.unsupported)}))
    judge = check.judge
    if judge is not None and judge.failed:
        params = {"model": judge.model, "n": judge.failed, "error": judge.error}
        notices.append(Notice("judge_failed", params))
    if judge is not None and judge.unparsed:
        notices.append(Notice("judge_unparsed", {"model": judge.model, "n": judge.unparsed}))
    return notices


def answer_json(result: RagAnswer, *, num_predict: int = 0) -> dict[str, Any]:
    """One answer as the JSON object ``python -m rag_core ask --json`` prints.

    Keys: ``question``, ``query`` (the retrieval query used), ``queries`` (every query
    searched: ``query``, then its translations), ``answer`` (no reasoning),
    ``thinking`` ("" when none), ``error``, ``truncated``, ``relevant``, ``retried``,
    ``citations`` (each with ``number``, ``source``, ``page``, ``page_label``, ``text``,
    ``cited`` and the retriever's scores), ``cited`` (sorted valid numbers),
    ``invalid_citations``, ``claims`` (``text``, ``citations``, ``supported`` (true, false,
    or null when it cites no valid source; the judge's verdict when it gave one),
    ``source``, ``spans``, ``lexical`` (the word-based verdict), ``judge`` (the judge
    model's verdict, null when not judged)), ``answer_language``, ``language_match``,
    ``judge`` (null without ``--judge``, else ``model``, ``asked``, ``judged``,
    ``overturned``, ``unparsed``, ``skipped``, ``error``, ``error_code``), ``notices``
    (English texts; the search's notices first, e.g. a translation that could not be made).

    Args:
        result: from :func:`rag_core.generation.respond.answer_question`.
        num_predict: the ``num_predict`` setting (named in the truncation notice).
    """
    check = result.check
    cited = set(check.cited)
    return {
        "question": result.question,
        "query": result.query,
        "queries": result.queries or [result.query],
        "answer": result.answer,
        "thinking": result.thinking,
        "error": result.error,
        "truncated": check.truncated,
        "relevant": result.relevant,
        "retried": result.retried,
        "citations": [{**c.to_dict(), "cited": c.number in cited} for c in result.citations],
        "cited": check.cited,
        "invalid_citations": check.invalid_citations,
        "claims": [
            {
                "text": c.text,
                "citations": c.citations,
                "supported": c.supported,
                "source": c.source,
                "spans": [list(s) for s in c.spans],
                "lexical": c.lexical,
                "judge": c.judge,
            }
            for c in check.claims
        ],
        "answer_language": check.answer_language,
        "language_match": check.language_match,
        "judge": asdict(check.judge) if check.judge is not None else None,
        "notices": [Notice(code, params).text for code, params in result.search_notices]
        + [
            n.text
            for n in answer_notices(
                check, answer=result.answer, relevant=result.relevant, num_predict=num_predict
            )
        ],
    }


__all__ = ["LANGUAGE_NAMES", "NOTICE_TEXTS", "Notice", "answer_json", "answer_notices"]
