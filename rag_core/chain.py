"""The LCEL answer chain: question -> {question, history, docs, answer}.

Built as in LangChain's "return sources" recipe::

    RunnablePassthrough.assign(docs=question | retriever)
        .assign(answer=context | prompt | llm | StrOutputParser())

so the retrieved chunks travel next to the answer. Streaming the chain yields the ``docs``
first (one chunk) and then the ``answer`` token by token, on separate keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnablePassthrough

from rag_core.citations import Citation, build_citations, format_context
from rag_core.errors import OllamaError
from rag_core.llm import OLLAMA_EXCEPTIONS, explain_ollama_error
from rag_core.prompts import build_answer_prompt

logger = logging.getLogger(__name__)

HISTORY_TURNS = 3
"""Earlier question/answer pairs passed to the model with a new question."""


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
        answer: the full answer text ("" when the model failed).
        citations: the numbered sources (what the model saw), best first.
        error: an actionable message when the model could not answer ("" otherwise).
    """

    question: str
    answer: str = ""
    citations: list[Citation] = field(default_factory=list)
    error: str = ""


def history_messages(history: Sequence[ChatTurn], turns: int = HISTORY_TURNS) -> list[BaseMessage]:
    """Turn the last ``turns`` exchanges into chat messages (human, ai, human, ai ...)."""
    messages: list[BaseMessage] = []
    for turn in list(history)[-turns:] if turns > 0 else []:
        messages.append(HumanMessage(turn.question))
        if turn.answer:
            messages.append(AIMessage(turn.answer))
    return messages


def build_rag_chain(
    retriever: BaseRetriever, llm: BaseChatModel
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """Build the answer chain.

    Args:
        retriever: returns the top-k chunks for a question string.
        llm: the chat model (``ChatOllama`` in the app).

    Returns:
        A Runnable taking ``{"question": str, "history": list[BaseMessage]}`` (history
        optional) and returning ``{"question", "history", "docs": list[Document],
        "answer": str}``. ``.stream()`` yields ``{"docs": ...}`` before the answer tokens.
    """
    prompt = build_answer_prompt()
    answer = (
        RunnablePassthrough.assign(context=lambda x: format_context(x["docs"]))
        | prompt
        | llm
        | StrOutputParser()
    )
    return (
        RunnablePassthrough.assign(history=lambda x: x.get("history") or [])
        .assign(docs=itemgetter("question") | retriever)
        .assign(answer=answer)
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

    Yields ``("citations", list[Citation])`` once, as soon as retrieval is done, then
    ``("token", str)`` for every piece of the answer. When the model cannot be reached the
    citations have already been yielded, then ``("error", str)`` is yielded and the
    iteration ends normally, so the sources stay usable without a model.

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
    sent_citations = False
    try:
        for chunk in chain.stream(payload):
            if "docs" in chunk and not sent_citations:
                sent_citations = True
                yield "citations", build_citations(list(chunk["docs"]))
            if chunk.get("answer"):
                yield "token", str(chunk["answer"])
    except OLLAMA_EXCEPTIONS as exc:
        error: OllamaError = explain_ollama_error(exc, host=host, model=model)
        logger.warning("answer failed: %s", error)
        if not sent_citations:
            yield "citations", []
        yield "error", str(error)


def answer_question(
    chain: Runnable[dict[str, Any], dict[str, Any]],
    question: str,
    *,
    history: Sequence[ChatTurn] = (),
    host: str = "",
    model: str = "",
) -> RagAnswer:
    """Run :func:`stream_rag_answer` to the end and collect a :class:`RagAnswer`."""
    result = RagAnswer(question=question)
    parts: list[str] = []
    for kind, value in stream_rag_answer(chain, question, history=history, host=host, model=model):
        if kind == "citations":
            result.citations = value
        elif kind == "token":
            parts.append(value)
        else:
            result.error = value
    result.answer = "".join(parts)
    return result


__all__ = [
    "ChatTurn",
    "RagAnswer",
    "answer_question",
    "build_rag_chain",
    "history_messages",
    "stream_rag_answer",
]
