"""Chat page: ask a question, get a streamed answer with the pages it cites."""

import streamlit as st

from rag_core.errors import RagError
from ui.chat import ChatMessage, answer_and_render, chat_history, render_message
from ui.resources import get_knowledge_base, get_settings
from ui.sidebar import render_sidebar

settings = get_settings()
options = render_sidebar(settings)
st.title("Chat with your documents")

try:
    kb = get_knowledge_base(settings)
except RagError as exc:
    st.error(str(exc))
    st.stop()

if not kb.documents():
    st.info("No documents indexed yet: add some on the Documents page.")
    st.page_link("pages/documents.py", label="Go to Documents", icon=":material/upload_file:")

messages = chat_history()
for message in messages:
    render_message(message)

if question := st.chat_input("Ask a question about your documents"):
    messages.append(ChatMessage(role="user", content=question))
    render_message(messages[-1])
    messages.append(answer_and_render(kb, settings, options, question))
