"""Chat components: the chat list, message history, answers, export.

An answer is drawn by :mod:`ui.answer` (live status, thinking, streamed text, notices) and
its sources by :mod:`ui.sources` (Cited / Also retrieved, the page view).
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from rag_core.access import Caller
from rag_core.chats.export import ExportLabels, chat_to_markdown
from rag_core.chats.history import ChatHistory, ChatMessage
from rag_core.config import Settings
from rag_core.engine import AskOptions, Engine
from rag_core.errors import RagError
from rag_core.generation.report import NOTICE_TEXTS
from rag_core.generation.types import ChatTurn
from rag_core.index.files import SourceFiles, SourceFileSet
from ui.answer import (
    AnswerView,
    events_in_background,
    notice_template,
    render_answer_marks,
    render_answer_text,
)
from ui.i18n import MESSAGES, t
from ui.sidebar import ChatOptions
from ui.sources import render_sources
from ui.text import escape_markdown

CHAT_PARAM = "chat"
"""URL query parameter holding the open chat's id (so a refresh reopens it)."""


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


def chat_time(updated_at: str) -> str:
    """A chat's last-message time for the list, in the browser's time zone.

    Args:
        updated_at: ISO 8601 UTC time (:attr:`rag_core.chats.history.ChatSummary.updated_at`).

    Returns:
        e.g. ``"12-03 14:05"`` (UTC when the browser's zone is unknown); "" if unreadable.
    """
    try:
        moment = datetime.fromisoformat(updated_at)
    except ValueError:
        return ""
    try:
        zone = ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, AttributeError, RuntimeError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%m-%d %H:%M")


def render_chat_list(history: ChatHistory, owner: str) -> None:
    """Sidebar: "New chat", ``owner``'s past chats and the open chat's rename and delete.

    The chats are listed newest first, each with the time of its last message. Call it
    after the page's question is answered, into a sidebar container made before, so a
    chat started by this run's question is listed at once.
    """
    open_id = current_chat_id(history, owner)
    st.subheader(t("chat.chats"))
    if st.button(t("chat.new"), icon=":material/add:", key="new_chat", width="stretch"):
        open_chat(None)
        st.rerun()
    for chat in history.chats(owner=owner, limit=20):
        # the title is the chat's first question (or a name a person gave): shown as text
        label = ("> " if chat.id == open_id else "") + escape_markdown(chat.title)
        when = chat_time(chat.updated_at)
        label += f" · {when}" if when else ""
        if st.button(label, key=f"chat_{chat.id}", width="stretch", type="tertiary"):
            open_chat(chat.id)
            st.rerun()
    if open_id is not None:
        render_chat_actions(history, open_id, owner)


def render_chat_actions(history: ChatHistory, chat_id: str, owner: str) -> None:
    """Rename or delete the open chat (delete asks to confirm)."""
    with st.expander(t("chat.manage"), icon=":material/edit:"):
        title = st.text_input(
            t("chat.rename_label"), value=history.title(chat_id, owner=owner), key="chat_title"
        )
        if st.button(t("chat.rename"), key="rename_chat") and history.rename_chat(
            chat_id, title, owner=owner
        ):
            st.rerun()
        if st.button(t("chat.delete"), key="delete_chat", icon=":material/delete:"):
            st.session_state["confirm_delete_chat"] = chat_id
        if st.session_state.get("confirm_delete_chat") == chat_id:
            st.warning(t("chat.delete_confirm"))
            if st.button(t("chat.delete_yes"), key="delete_chat_confirm", type="primary"):
                history.delete_chat(chat_id, owner=owner)
                st.session_state.pop("confirm_delete_chat", None)
                open_chat(None)
                st.rerun()


def export_labels() -> ExportLabels:
    """The Markdown export's headings and labels in the UI language."""
    return ExportLabels(
        question=t("chat.export_question"),
        searched_for=t("chat.searched_for"),
        no_answer=t("chat.export_no_answer"),
        cited=t("chat.cited"),
        also_retrieved=t("chat.also_retrieved"),
        sources=t("chat.sources"),
        closest=t("chat.closest"),
        page=t("chat.page"),
        page_printed=t("chat.page_printed"),
        note=t("chat.export_note"),
        unsupported=t("chat.unsupported_mark"),
        retried=t("chat.retried"),
        notices={code: notice_template(code) for code in NOTICE_TEXTS},
        languages={key[5:]: t(key) for key in MESSAGES if key.startswith("lang.")},
    )


def render_export(history: ChatHistory, messages: list[ChatMessage], owner: str) -> None:
    """A download button with ``owner``'s open chat as Markdown, marks and sources included.

    Headings are in the UI language; what comes from a document, a person or a model is
    written inertly yet readably (passages in code blocks, no backslash escapes in prose,
    no invisible characters: :mod:`rag_core.chats.export`), unlike the page, which escapes
    for Streamlit (:mod:`ui.text`).
    """
    chat_id = current_chat_id(history, owner)
    if chat_id is None or not messages:
        return
    title = history.title(chat_id, owner=owner)
    markdown = chat_to_markdown(title, messages, labels=export_labels())
    st.download_button(
        t("chat.export"),
        data=markdown,
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


def render_message(
    message: ChatMessage, *, files: SourceFiles | SourceFileSet | None = None, key: str = "msg"
) -> None:
    """Replay one message of the history with its thinking, marks and sources.

    Args:
        message: the stored message.
        files: the stored original files (for the cited page view).
        key: a prefix making widget keys unique per message.
    """
    with st.chat_message(message.role):
        if message.role == "user":
            st.text(message.content)
            return
        render_answer_text(message)
        render_answer_marks(message)
        render_message_sources(message, files=files, key=key)


def render_message_sources(
    message: ChatMessage, *, files: SourceFiles | SourceFileSet | None, key: str
) -> None:
    """The sources of an answer message (see :func:`ui.sources.render_sources`)."""
    render_sources(
        message.citations,
        cited=message.cited,
        relevant=message.relevant,
        check=message.check,
        files=files,
        key=key,
    )


def answer_and_render(
    engine: Engine,
    settings: Settings,
    options: ChatOptions,
    question: str,
    earlier: list[ChatMessage],
    *,
    also: list[str] | None = None,
    caller: Caller | None = None,
    files: SourceFiles | SourceFileSet | None = None,
    key: str = "answer",
) -> ChatMessage:
    """Answer ``question`` and show the answer with its notices and sources.

    A live status, the thinking and the answer are drawn as they stream
    (:meth:`rag_core.engine.Engine.ask`). When Ollama cannot answer (not reachable, model
    not pulled) the retrieved passages are shown with the message that says what to do.

    Args:
        engine: the engine.
        settings: the settings of the active collection (``num_predict``).
        options: the sidebar's choices (model, top-k, Ollama problem).
        question: the new question.
        earlier: the chat's messages before this question (for follow-ups).
        also: other collections searched too.
        caller: who asks (None: the local user).
        files: the stored original files (for the cited page view).
        key: a prefix making widget keys unique for this answer.

    Returns:
        The assistant message to append to the history.

    Raises:
        CollectionNotFoundError: a collection does not exist for the caller.
        RagError: a store cannot be opened.
    """
    others = tuple(also or ())
    with st.chat_message("assistant"):
        if options.problem:
            return sources_without_model(
                engine, settings, question, options, others, caller, files, key
            )
        events = engine.ask(
            question,
            settings.collection,
            history=earlier_turns(earlier),
            options=AskOptions(k=options.top_k, model=options.model, also=others),
            caller=caller,
        )
        view = AnswerView(question, num_predict=settings.num_predict)
        message = view.run(events_in_background(lambda: events))
        render_answer_marks(message)
        render_message_sources(message, files=files, key=key)
    return message


def sources_without_model(
    engine: Engine,
    settings: Settings,
    question: str,
    options: ChatOptions,
    also: tuple[str, ...],
    caller: Caller | None,
    files: SourceFiles | SourceFileSet | None,
    key: str,
) -> ChatMessage:
    """When no model can answer: the passages that match, with what to do about Ollama."""
    message = ChatMessage(role="assistant", content="")
    try:
        with st.spinner(t("chat.searching")):
            hits = engine.search(
                question,
                settings.collection,
                k=options.top_k,
                also=also,
                translate=False,
                caller=caller,
            )
        message.citations = hits.citations
    except RagError as exc:
        message.error = str(exc)
        st.error(escape_markdown(message.error), icon=":material/error:")
        return message
    message.error = options.problem + t("chat.meanwhile")
    st.warning(escape_markdown(message.error), icon=":material/warning:")
    render_sources(message.citations, files=files, key=key)
    return message
