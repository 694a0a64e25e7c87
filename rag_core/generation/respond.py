"""Run the answer chain and post-process the reply: what the CLI, the app and benchmarks get.

One place turns a model's raw stream into a checked answer:

* reasoning (a ``thinking`` field, ``<think>`` blocks, a lone ``</think>``) is split off as
  it streams (:class:`~rag_core.generation.reasoning.ReasoningSplitter`) and never enters
  the answer, the stored chat, the history sent back, citation parsing or evaluation;
* an answer cut off by ``num_predict`` (``done_reason: "length"``) is flagged;
* citations are parsed in every common form, numbers beyond the sources are reported,
  and each cited sentence (claim) is checked against the passages it cites
  (:func:`~rag_core.generation.support.claim_support`), then, only when a judge model is
  given, by that model (:mod:`rag_core.generation.judge`);
* an answer in another language than the question's is asked for once more with a
  reminder (:data:`~rag_core.generation.prompts.LANGUAGE_REMINDERS`); if the second reply
  is still in another language, the check says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import BaseMessageChunk

from rag_core.errors import OllamaError, RagError
from rag_core.generation.answer import answer_language, language_matches
from rag_core.generation.chain import ChatTurn, RagChain, history_messages, not_found_answer
from rag_core.generation.citations import Citation, build_citations
from rag_core.generation.claims import parse_citations
from rag_core.generation.judge import ClaimJudge, JudgeReport
from rag_core.generation.llm import OLLAMA_EXCEPTIONS, explain_ollama_error
from rag_core.generation.prompts import LANGUAGE_REMINDERS
from rag_core.generation.reasoning import (
    AnswerDelta,
    AnswerRetracted,
    ReasoningSplitter,
    ThinkingDelta,
)
from rag_core.generation.support import claim_support
from rag_core.index.analyzer import shared_analyzer
from rag_core.retrieval.language import question_language

logger = logging.getLogger(__name__)


@dataclass
class ClaimCheck:
    """One sentence of the answer and whether its cited passage supports it.

    Attributes:
        text: the sentence as written (citation markers included).
        citations: the numbers it cites (valid or not), in order.
        supported: True / False when it cites a valid source; None when it cites none.
            The judge's verdict when a judge gave one, else the lexical one.
        source: the cited number whose passage supports it best (0 when none).
        spans: ``(start, end)`` character offsets of the supporting sentence(s) in that
            passage (for highlighting; empty when the lexical check found none).
        lexical: the lexical-semantic verdict (:func:`claim_support`), None as above.
        judge: the judge model's verdict; None when no judge ran, the claim cites no
            valid source, or the judge's reply was unusable (see :class:`JudgeReport`).
    """

    text: str
    citations: list[int] = field(default_factory=list)
    supported: bool | None = None
    source: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    lexical: bool | None = None
    judge: bool | None = None


@dataclass
class AnswerCheck:
    """What was checked on a finished answer.

    Attributes:
        cited: sorted valid source numbers the answer cites.
        invalid_citations: sorted numbers beyond the sources (e.g. ``[9]`` of 5).
        claims: every sentence of the answer with its citations and support verdict.
        answer_language: "ko", "en", "zh", "ja" or "" (too little text).
        language_match: the answer is in the question's language.
        truncated: the model stopped at ``num_predict`` (``done_reason: "length"``).
        judge: what the judge model did (None when no judge was asked).
    """

    cited: list[int] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)
    claims: list[ClaimCheck] = field(default_factory=list)
    answer_language: str = ""
    language_match: bool = True
    truncated: bool = False
    judge: JudgeReport | None = None

    @property
    def unsupported(self) -> list[ClaimCheck]:
        """Claims that cite a source whose passage does not support them."""
        return [c for c in self.claims if c.supported is False]

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return asdict(self)


@dataclass
class RagAnswer:
    """The answer to one question with the sources it was given and what was checked.

    Attributes:
        question: the question.
        query: the standalone query used for retrieval (differs from the question when a
            follow-up was rewritten).
        queries: every query searched: ``query``, then its translations into the
            documents' languages when the question's language is not among them.
        search_notices: ``(code, params)`` of what the search could not do (e.g.
            ``"translation_unavailable"``, see
            :attr:`rag_core.retrieval.crosslingual.SearchResult.notices`).
        answer: the answer text, never any reasoning ("" when the model failed).
        thinking: the model's reasoning ("" when none).
        citations: the numbered sources (what the model saw), best first.
        relevant: False when no passage was relevant enough: the answer then says the
            documents do not contain it and the citations are only the closest matches.
        dropped: passages left out to fit the context window.
        error: an actionable message when the model could not answer ("" otherwise).
        check: citations, claims, language and truncation (see :class:`AnswerCheck`).
        retried: the answer was asked for a second time (wrong language the first time).
        ttft_s: seconds from the question to the first answer token (None if none).
    """

    question: str
    query: str = ""
    queries: list[str] = field(default_factory=list)
    search_notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answer: str = ""
    thinking: str = ""
    citations: list[Citation] = field(default_factory=list)
    relevant: bool = True
    dropped: int = 0
    error: str = ""
    check: AnswerCheck = field(default_factory=AnswerCheck)
    retried: bool = False
    ttft_s: float | None = None


def check_answer(
    answer: str, question: str, citations: Sequence[Citation], *, truncated: bool = False
) -> AnswerCheck:
    """Parse the answer's citations and check each cited claim against its passages.

    Args:
        answer: the answer text (no reasoning).
        question: the question (for the language check).
        citations: the numbered sources the model was given.
        truncated: the reply was cut at ``num_predict``.

    Returns:
        The check.
    """
    parsed = parse_citations(answer, len(citations))
    passages = [c.text for c in citations]
    analyzer = shared_analyzer()
    claims = []
    for claim in parsed.claims:
        verdict = claim_support(claim, passages, analyzer=analyzer) if claim.citations else None
        item = ClaimCheck(text=claim.text, citations=list(claim.citations))
        if verdict is not None:
            number, support = verdict
            item.supported = item.lexical = support.supported
            item.source = number
            item.spans = [tuple(span) for span in support.spans]  # type: ignore[misc]
        claims.append(item)
    return AnswerCheck(
        cited=parsed.cited,
        invalid_citations=parsed.invalid,
        claims=claims,
        answer_language=answer_language(answer),
        language_match=language_matches(question, answer),
        truncated=truncated,
    )


def _stream_reply(
    chain: RagChain, inputs: dict[str, Any], state: dict[str, Any]
) -> Iterator[tuple[str, Any]]:
    """Stream one model reply as ("thinking" | "token" | "retract", text) events.

    Sets ``state["answer"]``, ``state["thinking"]``, ``state["truncated"]`` and, at the
    first answer token, ``state["first_token"]`` (monotonic seconds).
    """
    splitter = ReasoningSplitter()
    truncated = False
    for chunk in chain.answer.stream(inputs):
        if isinstance(chunk, BaseMessageChunk):
            thinking = str(chunk.additional_kwargs.get("reasoning_content") or "")
            events = splitter.feed(str(chunk.content or ""), thinking)
            truncated |= chunk.response_metadata.get("done_reason") == "length"
        else:
            events = splitter.feed(str(chunk))
        yield from _events(events, state)
    yield from _events(splitter.finish(), state)
    state.update(answer=splitter.answer, thinking=splitter.thinking, truncated=truncated)


def _events(events: list[Any], state: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for event in events:
        if isinstance(event, AnswerDelta):
            state.setdefault("first_token", time.monotonic())
            yield "token", event.text
        elif isinstance(event, ThinkingDelta):
            yield "thinking", event.text
        elif isinstance(event, AnswerRetracted):
            state.pop("first_token", None)
            yield "retract", event.text


def _search_events(
    chain: RagChain, payload: dict[str, Any], retrieved: dict[str, Any]
) -> Iterator[tuple[str, Any]]:
    """Run the retrieve runnable into ``retrieved``; yield query, queries and notices."""
    for chunk in chain.retrieve.stream(payload):
        retrieved.update(chunk)
        if "query" in chunk:
            yield "query", str(chunk["query"])
        if "search" in chunk:
            yield "queries", list(chunk["search"].queries)
            for notice in chunk["search"].notices:
                yield "notice", notice


def _answer_events(
    chain: RagChain,
    question: str,
    retrieved: dict[str, Any],
    state: dict[str, Any],
    *,
    retry: bool,
    judge: ClaimJudge | None,
) -> Iterator[tuple[str, Any]]:
    """Stream the reply (once more with a reminder if in another language); then check it."""
    inputs = {**retrieved, "reminder": ""}
    yield from _stream_reply(chain, inputs, state)
    if retry and state["answer"] and not language_matches(question, state["answer"]):
        logger.info(
            "answer in %s for a %s question: asking again",
            answer_language(state["answer"]),
            question_language(question),
        )
        yield "retry", "language"
        inputs["reminder"] = LANGUAGE_REMINDERS[question_language(question)]
        yield from _stream_reply(chain, inputs, state)
    check = check_answer(
        state["answer"], question, state["citations"], truncated=state["truncated"]
    )
    if judge is not None:
        judge.refine(check, state["citations"])
    yield "check", check


def stream_rag_answer(
    chain: RagChain,
    question: str,
    *,
    history: Sequence[ChatTurn] = (),
    host: str = "",
    model: str = "",
    retry_language: bool = True,
    judge: ClaimJudge | None = None,
) -> Iterator[tuple[str, Any]]:
    """Run the chain and yield its events as they come.

    It is longer than 60 lines by its docstring, which defines every event it yields.

    Events, in order: ``("query", str)`` the (standalone) query used for retrieval;
    ``("queries", list[str])`` every query searched (``query`` first, then its
    translations when the question's language is not among the documents'); a
    ``("notice", (code, params))`` for each thing the search could not do
    (``"translation_unavailable"``: the model could not translate, the question as asked
    was searched alone; ``"translation_unusable"``: its reply was no translation; see
    :attr:`rag_core.retrieval.crosslingual.SearchResult.notices`);
    ``("citations", list[Citation])`` as soon as retrieval is done; ``("relevant", bool)``;
    ``("dropped", int)`` passages left out for the context budget; then, while the model
    replies, ``("thinking", str)`` pieces of reasoning, ``("token", str)`` pieces of the
    answer and ``("retract", str)`` when the answer streamed so far turns out to have been
    reasoning (a lone ``</think>``: clear what was shown; the text follows as thinking).
    When the answer is in another language than the question, ``("retry", "language")``
    comes and a second answer streams (clear the first). Last, ``("check",
    AnswerCheck)``. When the model cannot be reached, the events before the answer still
    come (the rewrite falls back to the question as asked), then ``("error", str)``, and
    the iteration ends normally, so the sources stay usable without a model (before it,
    ``("error_code", (code, params))`` names the problem for a translated message). When
    retrieval itself fails (:class:`RagError`: the collection was deleted by another app
    instance, the Chroma server went away), ``("citations", [])`` and ``("error", str)``
    come instead.

    Args:
        chain: from :func:`rag_core.generation.chain.build_rag_chain`.
        question: the user's question.
        history: earlier exchanges of this chat, oldest first (answers without reasoning).
        host: the Ollama base URL (for error messages).
        model: the model tag (for error messages).
        retry_language: ask once more when the answer's language differs.
        judge: an optional judge model that refines each cited claim's support verdict
            before ``("check", ...)`` (one call per claim; its failures are recorded in
            :attr:`AnswerCheck.judge`, never raised); None: the lexical check only.

    Yields:
        ``(kind, value)`` pairs as described above.
    """
    payload = {"question": question, "history": history_messages(history)}
    state: dict[str, Any] = {}
    try:
        retrieved: dict[str, Any] = {}
        yield from _search_events(chain, payload, retrieved)
        state["citations"] = build_citations(list(retrieved["docs"]))
        yield "citations", state["citations"]
        yield "relevant", bool(retrieved["relevant"])
        yield "dropped", len(retrieved["retrieved"]) - len(retrieved["docs"])
        if not retrieved["relevant"]:
            yield "token", not_found_answer(question)
            return
        yield from _answer_events(
            chain, question, retrieved, state, retry=retry_language, judge=judge
        )
    except OLLAMA_EXCEPTIONS as exc:
        error: OllamaError = explain_ollama_error(exc, host=host, model=model)
        logger.warning("answer failed: %s", error)
        if "citations" not in state:
            yield "citations", []
        if error.code:
            yield "error_code", (error.code, error.params)
        yield "error", str(error)
    except RagError as exc:  # the store: a deleted collection, a Chroma server gone away
        logger.warning("retrieval failed: %s", exc)
        if "citations" not in state:
            yield "citations", []
        yield "error", str(exc)


def answer_question(
    chain: RagChain,
    question: str,
    *,
    on_event: Callable[[str, Any], None] | None = None,
    **options: Any,
) -> RagAnswer:
    """Run :func:`stream_rag_answer` to the end and collect a :class:`RagAnswer`.

    Args:
        chain: from :func:`rag_core.generation.chain.build_rag_chain`.
        question: the user's question.
        on_event: called with every ``(kind, value)`` event as it comes (e.g. to print
            the tokens in a terminal).
        **options: ``history``, ``host``, ``model``, ``retry_language``, ``judge`` of
            :func:`stream_rag_answer`.
    """
    result = RagAnswer(question=question, query=question)
    answer: list[str] = []
    thinking: list[str] = []
    started = time.monotonic()
    for kind, value in stream_rag_answer(chain, question, **options):
        if on_event is not None:
            on_event(kind, value)
        if kind == "token":
            if not answer and result.ttft_s is None:
                result.ttft_s = time.monotonic() - started
            answer.append(value)
        elif kind == "thinking":
            thinking.append(value)
        elif kind in ("retract", "retry"):
            answer.clear()
            result.ttft_s = None
            result.retried |= kind == "retry"
            if kind == "retry":
                thinking.clear()
        elif kind == "check":
            result.check = value
        elif kind == "queries":
            result.queries = list(value)
        elif kind == "notice":
            result.search_notices.append(value)
        elif kind in ("query", "citations", "relevant", "dropped", "error"):
            setattr(result, kind, value)
    result.answer = "".join(answer)
    result.thinking = "".join(thinking)
    return result


__all__ = [
    "AnswerCheck",
    "ClaimCheck",
    "RagAnswer",
    "answer_question",
    "check_answer",
    "stream_rag_answer",
]
