"""Chat components: message history, streamed answers, the sources beside each answer."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import streamlit as st
from langchain_core.retrievers import BaseRetriever

from rag_core.config import Settings
from rag_core.errors import DocumentError, RagError
from rag_core.generation.chain import ChainOptions, ChatTurn, build_rag_chain
from rag_core.generation.citations import Citation, build_citations, cited_numbers
from rag_core.generation.llm import build_chat_model
from rag_core.generation.respond import stream_rag_answer
from rag_core.history import ChatHistory, ChatMessage, chat_to_markdown
from rag_core.index.files import SourceFiles, SourceFileSet
from rag_core.knowledge_base import KnowledgeBase
from rag_core.retrieval.retrievers import MultiCollectionRetriever
from ui.collections import collection_settings
from ui.i18n import t
from ui.resources import get_knowledge_base, get_page_image
from ui.sidebar import ChatOptions
from ui.text import AnswerSanitizer, escape_markdown, sanitize_answer

CHAT_PARAM = "chat"
"""URL query parameter holding the open chat's id (so a refresh reopens it)."""
PASSAGE_PREVIEW_CHARS = 1200


def current_chat_id(history: ChatHistory, owner: str) -> str | None:
    """Return the id of the chat named in the URL, or None for a new, unsaved chat.

    Args:
        history: the chat store.
        owner: the signed-in username ("" when sign-in is off).

    Returns:
        The ``?chat=`` id when ``owner`` has that chat; None otherwise (no id, an unknown
        one, or another user's chat, which is never opened).
    """
    chat_id = st.query_params.get(CHAT_PARAM)
    if chat_id and history.exists(chat_id, owner=owner):
        return chat_id
    return None


def open_chat(chat_id: str | None) -> None:
    """Switch the page to another chat (None = a new chat)."""
    if chat_id is None:
        st.query_params.pop(CHAT_PARAM, None)
    else:
        st.query_params[CHAT_PARAM] = chat_id


def save_message(history: ChatHistory, message: ChatMessage, owner: str) -> str:
    """Store a message in ``owner``'s open chat (creating the chat first); return its id."""
    chat_id = current_chat_id(history, owner)
    if chat_id is None:
        chat_id = history.create_chat(owner=owner)
        open_chat(chat_id)
    history.append(chat_id, message, owner=owner)
    return chat_id


def render_chat_list(history: ChatHistory, owner: str) -> None:
    """Sidebar: a "New chat" button and ``owner``'s past chats, newest first."""
    open_id = current_chat_id(history, owner)
    with st.sidebar:
        st.subheader(t("chat.chats"))
        if st.button(t("chat.new"), icon=":material/add:", key="new_chat", width="stretch"):
            open_chat(None)
            st.rerun()
        for chat in history.chats(owner=owner, limit=20):
            # the title is the chat's first question: typed by a person, shown as text
            label = ("> " if chat.id == open_id else "") + escape_markdown(chat.title)
            if st.button(label, key=f"chat_{chat.id}", width="stretch", type="tertiary"):
                open_chat(chat.id)
                st.rerun()


def render_export(history: ChatHistory, messages: list[ChatMessage], owner: str) -> None:
    """A download button with ``owner``'s open chat as Markdown, citations included."""
    chat_id = current_chat_id(history, owner)
    if chat_id is None or not messages:
        return
    title = history.title(chat_id, owner=owner)
    st.download_button(
        t("chat.export"),
        data=chat_to_markdown(title, messages),
        file_name=f"chat-{chat_id[:8]}.md",
        mime="text/markdown",
        icon=":material/download:",
        key="export_chat",
    )


def earlier_turns(messages: list[ChatMessage]) -> list[ChatTurn]:
    """Pair the history's questions with their answers, oldest first."""
    turns = []
    for question, answer in pairwise(messages):
        if question.role == "user" and answer.role == "assistant":
            turns.append(ChatTurn(question.content, answer.content))
    return turns


def render_sources(
    citations: list[Citation],
    answer: str = "",
    *,
    relevant: bool = True,
    files: SourceFiles | SourceFileSet | None = None,
    key: str = "sources",
) -> None:
    """Show the numbered sources under an answer: file, page, passage, and the page itself.

    The passage is shown as plain text (never as Markdown or HTML). When the original PDF
    is stored, a toggle shows the page with the passage highlighted. When nothing was
    relevant enough the list is titled "Closest matches".

    Args:
        citations: the answer's numbered sources.
        answer: the answer text (to mark the sources it cites).
        relevant: False when the sources are only the closest matches.
        files: the stored original files (for the page view); None hides it.
        key: a prefix making widget keys unique per answer.
    """
    if not citations:
        st.caption(t("chat.no_passages"))
        return
    cited = set(cited_numbers(answer)) if relevant else set()
    title = t("chat.sources") if relevant else t("chat.closest")
    st.markdown(f"**{title}** ({len(citations)})")
    for c in citations:
        mark = f" - {t('chat.cited')}" if c.number in cited else ""
        label = f"[{c.number}] {escape_markdown(c.source)}, {page_label(c)}{mark}"
        with st.expander(label, expanded=False):
            text = c.text
            if len(text) > PASSAGE_PREVIEW_CHARS:
                text = text[:PASSAGE_PREVIEW_CHARS] + " ..."
            st.text(text)
            st.caption(t("chat.score", score=c.score, similarity=c.similarity))
            stored = files.find(c.sha256) if files is not None and c.sha256 else None
            is_pdf = stored is not None and stored.suffix == ".pdf"
            if is_pdf and st.toggle(t("chat.show_page"), key=f"{key}_page_{c.number}"):
                render_page(stored, c)  # type: ignore[arg-type]


def page_label(citation: Citation) -> str:
    """The page as shown to the user: "p. 17 (printed 15)" / "17쪽 (인쇄 쪽번호 15)"."""
    if citation.printed_label:
        # the label is written by the PDF's author (/PageLabels): escaped like a file name
        label = escape_markdown(citation.printed_label)
        return t("chat.page_printed", page=citation.page, label=label)
    return t("chat.page", page=citation.page)


def render_page(path: Path, citation: Citation) -> None:
    """Show the cited PDF page as an image with the passage highlighted."""
    try:
        png, found = get_page_image(str(path), citation.page, citation.text)
    except DocumentError as exc:
        st.error(escape_markdown(str(exc)))
        return
    caption = f"{escape_markdown(citation.source)}, {page_label(citation)}"
    if not found:
        caption += " " + t("chat.not_located")
    st.image(png, caption=caption, width="stretch")


def render_answer_notes(message: ChatMessage) -> None:
    """Show how the answer was produced: the rewritten query, passages left out."""
    if message.query:
        st.caption(t("chat.searched_for", query=escape_markdown(message.query)))
    if message.dropped:
        st.caption(t("chat.dropped", n=message.dropped))


def render_message(
    message: ChatMessage, *, files: SourceFiles | SourceFileSet | None = None, key: str = "msg"
) -> None:
    """Replay one message of the history with its sources (``key``: unique per message)."""
    with st.chat_message(message.role):
        if message.role == "user":
            st.text(message.content)
            return
        if message.content:
            st.markdown(sanitize_answer(message.content))
        if message.error:
            st.warning(escape_markdown(message.error), icon=":material/warning:")
        render_answer_notes(message)
        render_sources(
            message.citations, message.content, relevant=message.relevant, files=files, key=key
        )


def build_chat_retriever(
    kb: KnowledgeBase, settings: Settings, top_k: int, also: list[str]
) -> BaseRetriever:
    """The retriever of the active collection, fused with ``also`` collections if any.

    Raises:
        EmbeddingModelMismatchError: another collection was built with another model.
        RagError: another collection cannot be opened.
    """
    if not also:
        return kb.retriever(k=top_k)
    retrievers = {settings.collection: kb.retriever(k=top_k)}
    for other in collection_settings(settings, also):
        retrievers[other.collection] = get_knowledge_base(other).retriever(k=top_k)
    return MultiCollectionRetriever(retrievers=retrievers, k=top_k, rrf_k=settings.rrf_k)


def answer_and_render(
    retriever: BaseRetriever,
    settings: Settings,
    options: ChatOptions,
    question: str,
    earlier: list[ChatMessage],
    *,
    files: SourceFiles | SourceFileSet | None = None,
    key: str = "answer",
) -> ChatMessage:
    """Answer ``question``: stream the model's tokens, then show the sources.

    When Ollama cannot answer (not reachable, model not pulled) the retrieved passages are
    shown with the message that says what to do.

    Args:
        retriever: returns the top-k chunks for a question (see
            :func:`build_chat_retriever`).
        settings: the settings (Ollama host, chain options).
        options: the sidebar's choices (model, top-k, Ollama problem).
        question: the new question.
        earlier: the chat's messages before this question (for follow-ups).
        files: the stored original files (for the cited page view).
        key: a prefix making widget keys unique for this answer.

    Returns:
        The assistant message to append to the history.
    """
    history = earlier_turns(earlier)
    message = ChatMessage(role="assistant", content="")
    with st.chat_message("assistant"):
        if options.problem:
            try:
                with st.spinner(t("chat.searching")):
                    message.citations = build_citations(retriever.invoke(question))
            except RagError as exc:
                message.error = str(exc)
                st.error(escape_markdown(message.error), icon=":material/error:")
                return message
            message.error = options.problem + t("chat.meanwhile")
            st.warning(escape_markdown(message.error), icon=":material/warning:")
            render_sources(message.citations, files=files, key=key)
            return message
        llm = build_chat_model(settings, model=options.model)
        chain = build_rag_chain(retriever, llm, ChainOptions.from_settings(settings))
        events: dict[str, Any] = {}

        sanitizer = AnswerSanitizer()
        raw: list[str] = []

        def tokens() -> Iterator[str]:
            for kind, value in stream_rag_answer(
                chain, question, history=history, host=settings.ollama_host, model=options.model
            ):
                if kind == "token":
                    raw.append(value)
                    yield sanitizer.feed(value)
                else:
                    events[kind] = value

        st.write_stream(tokens())
        message.content = "".join(raw)
        message.citations = events.get("citations", [])
        message.error = events.get("error", "")
        rewritten = str(events.get("query", ""))
        message.query = rewritten if rewritten.strip() != question.strip() else ""
        message.relevant = events.get("relevant", True)
        message.dropped = events.get("dropped", 0)
        if message.error:
            st.warning(escape_markdown(message.error), icon=":material/warning:")
        render_answer_notes(message)
        render_sources(
            message.citations, message.content, relevant=message.relevant, files=files, key=key
        )
    return message
