"""Run the answer chain and post-process the reply: what the CLI, the app and benchmarks get.

One place turns a model's raw stream into a checked answer:

* reasoning (a ``thinking`` field, ``<think>`` blocks, a lone ``</think>``) is split off as
  it streams (:class:`~rag_core.llm.reasoning.ReasoningSplitter`) and never enters
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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.messages import BaseMessageChunk

from rag_core.errors import OllamaError, RagError
from rag_core.generation.answer import answer_language, language_matches
from rag_core.generation.chain import RagChain, history_messages, not_found_answer
from rag_core.generation.citations import Citation, build_citations
from rag_core.generation.claims import parse_citations
from rag_core.generation.judge import ClaimJudge
from rag_core.generation.prompts import LANGUAGE_REMINDERS
from rag_core.generation.support import claim_support
from rag_core.generation.types import (
    AnswerCheck,
    AnswerEvent,
    AnswerFold,
    ChatTurn,
    Checked,
    ClaimCheck,
    Failed,
    RagAnswer,
    Retrying,
    Searched,
    Sources,
)
from rag_core.index.analyzer import shared_analyzer
from rag_core.language import question_language
from rag_core.llm.ollama import OLLAMA_EXCEPTIONS, explain_ollama_error
from rag_core.llm.reasoning import AnswerDelta, ReasoningSplitter

logger = logging.getLogger(__name__)


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
) -> Iterator[AnswerEvent]:
    """Stream one model reply as thinking / answer / retraction events.

    Sets ``state["answer"]``, ``state["thinking"]`` and ``state["truncated"]``.
    """
    splitter = ReasoningSplitter()
    truncated = False
    for chunk in chain.answer.stream(inputs):
        if isinstance(chunk, BaseMessageChunk):
            thinking = str(chunk.additional_kwargs.get("reasoning_content") or "")
            yield from splitter.feed(str(chunk.content or ""), thinking)
            truncated |= chunk.response_metadata.get("done_reason") == "length"
        else:
            yield from splitter.feed(str(chunk))
    yield from splitter.finish()
    state.update(answer=splitter.answer, thinking=splitter.thinking, truncated=truncated)


def _search(chain: RagChain, payload: dict[str, Any], retrieved: dict[str, Any]) -> Searched:
    """Run the retrieve runnable into ``retrieved``; return what it searched."""
    for chunk in chain.retrieve.stream(payload):
        retrieved.update(chunk)
    search = retrieved["search"]
    return Searched(
        query=str(retrieved["query"]),
        queries=tuple(search.queries),
        notices=tuple((str(code), dict(params)) for code, params in search.notices),
    )


def _answer_events(
    chain: RagChain,
    question: str,
    retrieved: dict[str, Any],
    citations: Sequence[Citation],
    *,
    retry: bool,
    judge: ClaimJudge | None,
) -> Iterator[AnswerEvent]:
    """Stream the reply (once more with a reminder if in another language); then check it."""
    state: dict[str, Any] = {}
    inputs = {**retrieved, "reminder": ""}
    yield from _stream_reply(chain, inputs, state)
    if retry and state["answer"] and not language_matches(question, state["answer"]):
        language = question_language(question)
        logger.info(
            "answer in %s for a %s question: asking again",
            answer_language(state["answer"]),
            language,
        )
        yield Retrying(language)
        inputs["reminder"] = LANGUAGE_REMINDERS[language]
        yield from _stream_reply(chain, inputs, state)
    check = check_answer(state["answer"], question, citations, truncated=state["truncated"])
    if judge is not None:
        judge.refine(check, citations)
    yield Checked(check)


def stream_rag_answer(
    chain: RagChain,
    question: str,
    *,
    history: Sequence[ChatTurn] = (),
    host: str = "",
    model: str = "",
    retry_language: bool = True,
    judge: ClaimJudge | None = None,
) -> Iterator[AnswerEvent]:
    """Run the chain and yield its events as they come (see :mod:`rag_core.generation.types`).

    :class:`Searched`, then :class:`Sources` as soon as retrieval is done; when no passage
    is relevant, one :class:`AnswerDelta` with the fixed "not in the documents" answer and
    nothing more (no model call). Otherwise the model's reply streams (thinking, answer,
    retractions; a :class:`Retrying` and a second reply when the answer is in another
    language than the question), then :class:`Checked`. When the model cannot be reached,
    the events before the answer still come (the rewrite falls back to the question as
    asked), then :class:`Failed` with the Ollama problem's code, and the iteration ends
    normally, so the sources stay usable without a model. When retrieval itself fails
    (:class:`RagError`: the collection was deleted by another app instance, the Chroma
    server went away), ``Sources(())`` and :class:`Failed` come instead.

    Args:
        chain: from :func:`rag_core.generation.chain.build_rag_chain`.
        question: the user's question.
        history: earlier exchanges of this chat, oldest first (answers without reasoning).
        host: the Ollama base URL (for error messages).
        model: the model tag (for error messages).
        retry_language: ask once more when the answer's language differs.
        judge: an optional judge model that refines each cited claim's support verdict
            before :class:`Checked` (one call per claim; its failures are recorded in
            :attr:`AnswerCheck.judge`, never raised); None: the lexical check only.

    Yields:
        :data:`~rag_core.generation.types.AnswerEvent` s, in the order above.
    """
    payload = {"question": question, "history": history_messages(history)}
    sources_sent = False
    try:
        retrieved: dict[str, Any] = {}
        yield _search(chain, payload, retrieved)
        citations = build_citations(list(retrieved["docs"]))
        relevant = bool(retrieved["relevant"])
        dropped = len(retrieved["retrieved"]) - len(retrieved["docs"])
        sources_sent = True
        yield Sources(tuple(citations), relevant=relevant, dropped=dropped)
        if not relevant:
            yield AnswerDelta(not_found_answer(question))
            return
        yield from _answer_events(
            chain, question, retrieved, citations, retry=retry_language, judge=judge
        )
    except OLLAMA_EXCEPTIONS as exc:
        error: OllamaError = explain_ollama_error(exc, host=host, model=model)
        logger.warning("answer failed: %s", error)
        if not sources_sent:
            yield Sources(())
        yield Failed(str(error), error.code, dict(error.params))
    except RagError as exc:  # the store: a deleted collection, a Chroma server gone away
        logger.warning("retrieval failed: %s", exc)
        if not sources_sent:
            yield Sources(())
        yield Failed(str(exc))


def answer_question(
    chain: RagChain,
    question: str,
    *,
    on_event: Callable[[AnswerEvent], None] | None = None,
    **options: Any,
) -> RagAnswer:
    """Run :func:`stream_rag_answer` to the end and fold its events into a :class:`RagAnswer`.

    Args:
        chain: from :func:`rag_core.generation.chain.build_rag_chain`.
        question: the user's question.
        on_event: called with every event as it comes (e.g. to print the tokens in a
            terminal).
        **options: ``history``, ``host``, ``model``, ``retry_language``, ``judge`` of
            :func:`stream_rag_answer`.
    """
    fold = AnswerFold(question)
    for event in stream_rag_answer(chain, question, **options):
        if on_event is not None:
            on_event(event)
        fold.add(event)
    return fold.result()


__all__ = [
    "AnswerCheck",
    "ClaimCheck",
    "RagAnswer",
    "answer_question",
    "check_answer",
    "stream_rag_answer",
]
