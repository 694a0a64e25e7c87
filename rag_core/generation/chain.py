"""The LCEL answer chain: question -> {question, history, query, docs, answer}.

Built as in LangChain's "return sources" recipe::

    RunnablePassthrough.assign(query=rewrite follow-up | question)
        .assign(retrieved=query | retriever)
        .assign(relevant=scores, docs=retrieved within the context budget)
        .assign(answer=not relevant ? fixed answer : context | prompt | llm | parser)

so the retrieved chunks travel next to the answer. Streaming the chain yields the rewritten
query, then the chunks, then the answer token by token, each on its own key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableBranch,
    RunnableLambda,
    RunnablePassthrough,
)

from rag_core.errors import OllamaError, RagError
from rag_core.generation.citations import Citation, build_citations, format_context
from rag_core.generation.llm import OLLAMA_EXCEPTIONS, explain_ollama_error
from rag_core.generation.prompts import (
    NOT_FOUND_ANSWERS,
    PROMPT_MARGIN_TOKENS,
    SYSTEM_PROMPT,
    build_answer_prompt,
    build_condense_prompt,
    clean_standalone_question,
    estimate_tokens,
)
from rag_core.retrieval.language import question_language
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
    """

    num_ctx: int = 8192
    num_predict: int = 768
    min_similarity: float = 0.4
    min_keyword_coverage: float = 0.4
    rewrite_followups: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> ChainOptions:
        """Take the chain's options from a :class:`rag_core.config.Settings`."""
        return cls(
            num_ctx=settings.num_ctx,
            num_predict=settings.num_predict,
            min_similarity=settings.min_similarity,
            min_keyword_coverage=settings.min_keyword_coverage,
            rewrite_followups=settings.rewrite_followups,
        )


@dataclass
class ChatTurn:
    """One earlier exchange, as given to the chain.

    Attributes:
        question: what the user asked.
        answer: what the model answered (may be empty when the model was not reachable).
    """

    question: str
    answer: str


@dataclass
class RagAnswer:
    """The answer to one question with the sources it was given.

    Attributes:
        question: the question.
        query: the standalone query used for retrieval (differs from the question when a
            follow-up was rewritten).
        answer: the full answer text ("" when the model failed).
        citations: the numbered sources (what the model saw), best first.
        relevant: False when no passage was relevant enough: the answer then says the
            documents do not contain it and the citations are only the closest matches.
        dropped: passages left out to fit the context window.
        error: an actionable message when the model could not answer ("" otherwise).
    """

    question: str
    query: str = ""
    answer: str = ""
    citations: list[Citation] = field(default_factory=list)
    relevant: bool = True
    dropped: int = 0
    error: str = ""


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


def build_rag_chain(
    retriever: BaseRetriever, llm: BaseChatModel, options: ChainOptions | None = None
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """Build the answer chain.

    Args:
        retriever: returns the top-k chunks for a query string, with the scores
            :func:`rag_core.retrieval.is_relevant` reads.
        llm: the chat model (``ChatOllama`` in the app).
        options: budget, relevance thresholds, follow-up rewriting.

    Returns:
        A Runnable taking ``{"question": str, "history": list[BaseMessage]}`` (history
        optional) and returning ``{"question", "history", "query": str, "retrieved":
        list[Document], "relevant": bool, "docs": list[Document], "answer": str}``.
        ``docs`` are the chunks shown to the model (``retrieved`` cut to the context
        budget). ``.stream()`` yields ``query`` and ``docs`` before the answer tokens.
    """
    opts = options or ChainOptions()
    condense = (build_condense_prompt() | llm | StrOutputParser()).with_fallbacks(
        [RunnableLambda(itemgetter("question"))], exceptions_to_handle=OLLAMA_EXCEPTIONS
    )  # no model: retrieve with the question as asked; the answer step reports the error
    query: Runnable[dict[str, Any], str] = RunnableBranch(
        (lambda x: bool(opts.rewrite_followups and x["history"]), condense),
        itemgetter("question"),
    )
    answer = (
        RunnablePassthrough.assign(context=lambda x: format_context(x["docs"]))
        | build_answer_prompt()
        | llm
        | StrOutputParser()
    )
    respond: Runnable[dict[str, Any], str] = RunnableBranch(
        (lambda x: not x["relevant"], RunnableLambda(lambda x: not_found_answer(x["question"]))),
        answer,
    )
    return (
        RunnablePassthrough.assign(history=lambda x: x.get("history") or [])
        .assign(raw_query=query)
        .assign(query=lambda x: clean_standalone_question(x["raw_query"], x["question"]))
        .assign(retrieved=itemgetter("query") | retriever)
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
        .assign(answer=respond)
    )


def stream_rag_answer(
    chain: Runnable[dict[str, Any], dict[str, Any]],
    question: str,
    *,
    history: Sequence[ChatTurn] = (),
    host: str = "",
    model: str = "",
) -> Iterator[tuple[str, Any]]:
    """Run the chain and yield its events as they come.

    Events, in order: ``("query", str)`` the (standalone) query used for retrieval;
    ``("citations", list[Citation])`` as soon as retrieval is done; ``("relevant", bool)``;
    ``("dropped", int)`` passages left out for the context budget; then ``("token", str)``
    for every piece of the answer. When the model cannot be reached, the events above
    still come (the rewrite falls back to the question as asked), then
    ``("error", str)``, and the iteration ends normally, so the sources stay usable
    without a model. When retrieval itself fails (:class:`RagError`: the collection was
    deleted by another app instance, the Chroma server went away), ``("citations", [])``
    and ``("error", str)`` come instead.

    Args:
        chain: from :func:`build_rag_chain`.
        question: the user's question.
        history: earlier exchanges of this chat, oldest first.
        host: the Ollama base URL (for error messages).
        model: the model tag (for error messages).

    Yields:
        ``(kind, value)`` pairs as described above.
    """
    payload = {"question": question, "history": history_messages(history)}
    state: dict[str, Any] = {}
    try:
        for chunk in chain.stream(payload):
            if "query" in chunk:
                yield "query", str(chunk["query"])
            if "relevant" in chunk:
                state["relevant"] = bool(chunk["relevant"])
            if "retrieved" in chunk:
                state["retrieved"] = len(chunk["retrieved"])
            if "docs" in chunk:
                state["citations"] = build_citations(list(chunk["docs"]))
                yield "citations", state["citations"]
                yield "relevant", state.get("relevant", True)
                yield "dropped", state.get("retrieved", 0) - len(chunk["docs"])
            if chunk.get("answer"):
                yield "token", str(chunk["answer"])
    except OLLAMA_EXCEPTIONS as exc:
        error: OllamaError = explain_ollama_error(exc, host=host, model=model)
        logger.warning("answer failed: %s", error)
        if "citations" not in state:
            yield "citations", []
        yield "error", str(error)
    except RagError as exc:  # the store: a deleted collection, a Chroma server gone away
        logger.warning("retrieval failed: %s", exc)
        if "citations" not in state:
            yield "citations", []
        yield "error", str(exc)


def answer_question(
    chain: Runnable[dict[str, Any], dict[str, Any]], question: str, **options: Any
) -> RagAnswer:
    """Run :func:`stream_rag_answer` to the end and collect a :class:`RagAnswer`.

    Args:
        chain: from :func:`build_rag_chain`.
        question: the user's question.
        **options: ``history``, ``host``, ``model`` of :func:`stream_rag_answer`.
    """
    result = RagAnswer(question=question, query=question)
    parts: list[str] = []
    for kind, value in stream_rag_answer(chain, question, **options):
        if kind == "token":
            parts.append(value)
        elif kind == "citations":
            result.citations = value
        elif kind == "query":
            result.query = value
        elif kind == "relevant":
            result.relevant = value
        elif kind == "dropped":
            result.dropped = value
        else:
            result.error = value
    result.answer = "".join(parts)
    return result


__all__ = [
    "ChainOptions",
    "ChatTurn",
    "RagAnswer",
    "answer_question",
    "build_rag_chain",
    "fit_to_context",
    "history_messages",
    "not_found_answer",
    "stream_rag_answer",
]
