"""The LCEL answer chain, in two runnables: retrieve, then answer.

Built as in LangChain's "return sources" recipe::

    retrieve = RunnablePassthrough.assign(query=rewrite follow-up | question)
        .assign(search=query | cross-lingual search)   (translations when needed)
        .assign(queries=search.queries) .assign(retrieved=search.docs)
        .assign(relevant=scores, docs=retrieved within the context budget)
    answer = context | prompt | llm            (AIMessageChunks: content, thinking,
                                                done_reason)

so the retrieved chunks travel next to the answer. The answer runnable is separate so a
reply in the wrong language can be asked again with the same passages
(:mod:`rag_core.generation.respond` drives both and post-processes the reply).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, BaseMessageChunk, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableBranch,
    RunnableLambda,
    RunnablePassthrough,
)

from rag_core.generation.answer import clean_rewrite
from rag_core.generation.citations import format_context
from rag_core.generation.prompts import (
    NOT_FOUND_ANSWERS,
    PROMPT_MARGIN_TOKENS,
    SYSTEM_PROMPT,
    build_answer_prompt,
    build_condense_prompt,
    estimate_tokens,
)
from rag_core.generation.types import ChatTurn
from rag_core.index.analyzer import shared_analyzer
from rag_core.language import question_language
from rag_core.llm.ollama import OLLAMA_EXCEPTIONS
from rag_core.retrieval.crosslingual import build_search
from rag_core.retrieval.relevance import is_relevant

logger = logging.getLogger(__name__)

HISTORY_TURNS = 3
"""Earlier question/answer pairs passed to the model with a new question."""


@dataclass(frozen=True)
class ChainOptions:
    """Knobs of the answer chain (from :class:`rag_core.config.Settings`).

    Attributes:
        num_ctx: the model's context window, tokens.
        num_predict: tokens kept for the answer.
        min_similarity: see :func:`rag_core.retrieval.is_relevant`.
        min_keyword_coverage: see :func:`rag_core.retrieval.is_relevant`.
        rewrite_followups: rewrite follow-up questions into standalone queries.
        translate_queries: search with translations of a question whose language the
            documents are not in (:mod:`rag_core.retrieval.crosslingual`).
        rrf_k: the RRF constant fusing the question's and its translations' rankings.
    """

    num_ctx: int = 8192
    num_predict: int = 768
    min_similarity: float = 0.4
    min_keyword_coverage: float = 0.3
    rewrite_followups: bool = True
    translate_queries: bool = True
    rrf_k: int = 60

    @classmethod
    def from_settings(cls, settings: Any) -> ChainOptions:
        """Take the chain's options from a :class:`rag_core.config.Settings` (same names)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def history_messages(history: Sequence[ChatTurn], turns: int = HISTORY_TURNS) -> list[BaseMessage]:
    """Turn the last ``turns`` exchanges into chat messages (human, ai, human, ai ...)."""
    messages: list[BaseMessage] = []
    for turn in list(history)[-turns:] if turns > 0 else []:
        messages.append(HumanMessage(turn.question))
        if turn.answer:
            messages.append(AIMessage(turn.answer))
    return messages


def fit_to_context(
    docs: Sequence[Document],
    *,
    question: str,
    history: Sequence[BaseMessage],
    options: ChainOptions,
) -> list[Document]:
    """Keep the best-ranked chunks whose passages fit the context window.

    Budget (tokens, estimated by :func:`rag_core.generation.prompts.estimate_tokens`): ``num_ctx``
    minus ``num_predict`` (room for the answer), the system prompt, the history, the
    question and a margin. Chunks are dropped from the lowest rank up; Ollama would
    otherwise truncate the prompt silently.

    Args:
        docs: retrieved chunks, best first.
        question: the question.
        history: earlier messages sent with it.
        options: the chain options (``num_ctx``, ``num_predict``).

    Returns:
        The leading chunks that fit (possibly none).
    """
    fixed = estimate_tokens(SYSTEM_PROMPT) + estimate_tokens(question) + PROMPT_MARGIN_TOKENS
    fixed += sum(estimate_tokens(str(m.content)) for m in history)
    budget = options.num_ctx - options.num_predict - fixed
    kept: list[Document] = []
    for doc in docs:
        cost = estimate_tokens(format_context([*kept, doc])) - estimate_tokens(
            format_context(kept) if kept else ""
        )
        if cost > budget:
            break
        budget -= cost
        kept.append(doc)
    if len(kept) < len(docs):
        logger.info("context budget: kept %d of %d passages", len(kept), len(docs))
    return kept


def not_found_answer(question: str) -> str:
    """Return the fixed "not in the documents" answer in the question's language."""
    return NOT_FOUND_ANSWERS[question_language(question)]


@dataclass(frozen=True)
class RagChain:
    """The two runnables of the answer chain.

    Attributes:
        retrieve: takes ``{"question": str, "history": list[BaseMessage]}`` (history
            optional) and returns ``{"question", "history", "raw_query", "query": str,
            "search": SearchResult, "queries": list[str], "retrieved": list[Document],
            "relevant": bool, "docs": list[Document]}``; ``queries`` are the queries
            searched (``query`` first, then its translations), ``docs`` the chunks shown
            to the model (``retrieved`` cut to the context budget). ``.stream()`` yields
            ``query`` before the chunks.
        answer: takes ``{"question", "history", "docs", "reminder": str}`` and streams
            the model's ``AIMessageChunk`` s (``content``; reasoning in
            ``additional_kwargs["reasoning_content"]``; ``done_reason`` in the last
            chunk's ``response_metadata``).
    """

    retrieve: Runnable[dict[str, Any], dict[str, Any]]
    answer: Runnable[dict[str, Any], BaseMessageChunk]


def build_rag_chain(
    retriever: BaseRetriever, llm: BaseChatModel, options: ChainOptions | None = None
) -> RagChain:
    """Build the answer chain.

    Args:
        retriever: returns the top-k chunks for a query string, with the scores
            :func:`rag_core.retrieval.relevance.is_relevant` reads (with
            ``document_languages()``, the question is also searched in translation when
            the documents are in other languages; see
            :class:`rag_core.retrieval.crosslingual.CrossLingualSearch`).
        llm: the chat model (``ChatOllama`` in the app); it also translates questions.
        options: budget, relevance thresholds, follow-up rewriting, translation.

    Returns:
        The retrieve and answer runnables (see :class:`RagChain`).
    """
    opts = options or ChainOptions()
    condense = (build_condense_prompt() | llm | StrOutputParser()).with_fallbacks(
        [RunnableLambda(itemgetter("question"))], exceptions_to_handle=OLLAMA_EXCEPTIONS
    )  # no model: retrieve with the question as asked; the answer step reports the error
    search = build_search(retriever, llm, translate=opts.translate_queries, rrf_k=opts.rrf_k)
    query: Runnable[dict[str, Any], str] = RunnableBranch(
        (lambda x: bool(opts.rewrite_followups and x["history"]), condense),
        itemgetter("question"),
    )
    retrieve = (
        RunnablePassthrough.assign(history=lambda x: x.get("history") or [])
        .assign(raw_query=query)
        .assign(query=lambda x: rewrite_to_query(x["raw_query"], x["question"], x["history"]))
        .assign(search=lambda x: search.search(x["query"]))
        # One key per step: when a step upstream raises (a deleted collection, a dead
        # Chroma server), a map of two keys gives each key its own copy of the stream, and
        # the copy that did not see the exception ends early; its lambda then fails with a
        # KeyError that can win the race and hide the real error (1 in 3 runs measured).
        .assign(queries=lambda x: x["search"].queries)
        .assign(retrieved=lambda x: x["search"].docs)
        .assign(
            relevant=lambda x: is_relevant(
                x["retrieved"],
                min_similarity=opts.min_similarity,
                min_keyword_coverage=opts.min_keyword_coverage,
            )
        )
        .assign(
            docs=lambda x: fit_to_context(
                x["retrieved"], question=x["question"], history=x["history"], options=opts
            )
        )
    )
    answer = (
        RunnablePassthrough.assign(context=lambda x: format_context(x["docs"]))
        | build_answer_prompt()
        | llm
    )
    return RagChain(retrieve=retrieve, answer=answer)


def rewrite_to_query(raw: str, question: str, history: Sequence[BaseMessage]) -> str:
    """The search query from the model's rewrite of a follow-up (the question if none).

    Reasoning, preambles, quotes and labels are stripped; a rewrite that is empty, much
    longer than the question or unrelated to the conversation falls back to the question
    as asked (:func:`rag_core.generation.answer.clean_rewrite`).
    """
    if raw.strip() == question.strip():
        return question
    history_text = "\n".join(str(m.content) for m in history)
    return clean_rewrite(raw, question, history_text, analyzer=shared_analyzer())


__all__ = [
    "ChainOptions",
    "ChatTurn",
    "RagChain",
    "build_rag_chain",
    "fit_to_context",
    "history_messages",
    "not_found_answer",
    "rewrite_to_query",
]
