"""Chat components: message history, streamed answers, the sources beside each answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import streamlit as st

from rag_core.chain import ChatTurn, build_rag_chain, stream_rag_answer
from rag_core.citations import Citation, build_citations, cited_numbers
from rag_core.config import Settings
from rag_core.knowledge_base import KnowledgeBase
from rag_core.llm import build_chat_model
from ui.sidebar import ChatOptions
from ui.text import escape_markdown

MESSAGES_KEY = "messages"
PASSAGE_PREVIEW_CHARS = 1200


@dataclass
class ChatMessage:
    """One message of the chat history kept in ``st.session_state``.

    Attributes:
        role: "user" or "assistant".
        content: the text (the question, or the answer).
        citations: the sources of an assistant answer.
        error: why no answer could be generated ("" otherwise).
    """

    role: str
    content: str
    citations: list[Citation] = field(default_factory=list)
    error: str = ""


def chat_history() -> list[ChatMessage]:
    """Return this session's messages (created empty on first use)."""
    if MESSAGES_KEY not in st.session_state:
        st.session_state[MESSAGES_KEY] = []
    return st.session_state[MESSAGES_KEY]


def earlier_turns(messages: list[ChatMessage]) -> list[ChatTurn]:
    """Pair the history's questions with their answers, oldest first."""
    turns = []
    for question, answer in pairwise(messages):
        if question.role == "user" and answer.role == "assistant":
            turns.append(ChatTurn(question.content, answer.content))
    return turns


def render_sources(citations: list[Citation], answer: str = "") -> None:
    """Show the numbered sources under an answer: file, page, passage.

    Sources the answer cites come first and are marked; the passage is shown as plain text.
    """
    if not citations:
        st.caption("No passages found in the indexed documents.")
        return
    cited = set(cited_numbers(answer))
    st.markdown(f"**Sources** ({len(citations)})")
    for c in citations:
        mark = " - cited" if c.number in cited else ""
        label = f"[{c.number}] {escape_markdown(c.source)}, {c.page_display}{mark}"
        with st.expander(label, expanded=False):
            text = (
                c.text
                if len(c.text) <= PASSAGE_PREVIEW_CHARS
                else c.text[:PASSAGE_PREVIEW_CHARS] + " ..."
            )
            st.text(text)
            st.caption(f"relevance score {c.score:.3f} - similarity {c.similarity:.2f}")


def render_message(message: ChatMessage) -> None:
    """Replay one message of the history with its sources."""
    with st.chat_message(message.role):
        if message.role == "user":
            st.text(message.content)
            return
        if message.content:
            st.markdown(message.content)
        if message.error:
            st.warning(message.error, icon=":material/warning:")
        render_sources(message.citations, message.content)


def answer_and_render(
    kb: KnowledgeBase, settings: Settings, options: ChatOptions, question: str
) -> ChatMessage:
    """Answer ``question``: stream the model's tokens, then show the sources.

    When Ollama cannot answer (not reachable, model not pulled) the retrieved passages are
    shown with the message that says what to do.

    Returns:
        The assistant message to append to the history.
    """
    history = earlier_turns(chat_history())
    retriever = kb.retriever(k=options.top_k)
    message = ChatMessage(role="assistant", content="")
    with st.chat_message("assistant"):
        if options.problem:
            with st.spinner("Searching the documents..."):
                message.citations = build_citations(retriever.invoke(question))
            message.error = options.problem + " Meanwhile, here are the passages that match."
            st.warning(message.error, icon=":material/warning:")
            render_sources(message.citations)
            return message
        llm = build_chat_model(settings, model=options.model)
        chain = build_rag_chain(retriever, llm)
        events: dict[str, Any] = {}

        def tokens() -> Iterator[str]:
            for kind, value in stream_rag_answer(
                chain, question, history=history, host=settings.ollama_host, model=options.model
            ):
                if kind == "token":
                    yield value
                else:
                    events[kind] = value

        streamed = st.write_stream(tokens())
        message.content = streamed if isinstance(streamed, str) else "".join(map(str, streamed))
        message.citations = events.get("citations", [])
        message.error = events.get("error", "")
        if message.error:
            st.warning(message.error, icon=":material/warning:")
        render_sources(message.citations, message.content)
    return message
