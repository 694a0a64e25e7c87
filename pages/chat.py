"""Chat page: ask a question, get a streamed answer with the pages it cites."""

import streamlit as st

from rag_core.chats.history import ChatMessage
from rag_core.errors import RagError
from rag_core.index.files import SourceFiles, SourceFileSet
from ui.auth import current_user
from ui.chat import (
    answer_and_render,
    current_chat_id,
    render_chat_list,
    render_export,
    render_message,
    save_message,
)
from ui.collections import active_settings, collection_settings, other_collections_to_search
from ui.documents import render_indexing_notice
from ui.i18n import t
from ui.resources import (
    get_caller,
    get_chat_history,
    get_engine,
    get_ingest_queue,
    get_knowledge_base,
    get_settings,
)
from ui.routing import require_router
from ui.sidebar import render_sidebar
from ui.text import escape_markdown

require_router()

configured = get_settings()
user = current_user(configured)
options = render_sidebar(configured)
settings = active_settings(configured)
also = other_collections_to_search(configured)
history = get_chat_history(str(settings.data_dir / "chats.sqlite3"))
chat_list = st.sidebar.container()  # filled last, so a chat this run starts is listed
st.title(t("chat.title"))

try:
    engine = get_engine(settings)
    caller = get_caller(settings, user)
    for name in [settings.collection, *also]:  # opened now: a store error shows here
        get_knowledge_base(settings.model_copy(update={"collection": name}))
    documents = engine.documents(settings.collection, caller=caller)
except RagError as exc:
    st.error(escape_markdown(str(exc)))
    with chat_list:
        render_chat_list(history, user)
    st.stop()
indexing = render_indexing_notice(get_ingest_queue(settings))

if not documents:
    if indexing:  # one notice, not "indexing" and "no documents" at once
        st.info(t("chat.first_documents_indexing"))
    else:
        st.info(t("chat.no_documents"))
        st.page_link(
            "pages/documents.py", label=t("chat.go_documents"), icon=":material/upload_file:"
        )

chat_id = current_chat_id(history, user)
messages = history.messages(chat_id, owner=user) if chat_id else []
files = SourceFileSet(
    [SourceFiles(s.files_dir) for s in [settings, *collection_settings(settings, also)]]
)
for index, message in enumerate(messages):
    render_message(message, files=files, key=f"msg{index}")

if question := st.chat_input(t("chat.input")):
    asked = ChatMessage(role="user", content=question)
    render_message(asked)
    save_message(history, asked, user)
    answer = answer_and_render(
        engine,
        settings,
        options,
        question,
        messages,
        also=also,
        caller=caller,
        files=files,
        key=f"msg{len(messages) + 1}",
    )
    save_message(history, answer, user)
    messages += [asked, answer]

render_export(history, messages, user)
with chat_list:
    render_chat_list(history, user)
