"""Documents page: drop files to index them; the table of indexed documents."""

import streamlit as st

from rag_core.errors import EmbeddingModelMismatchError, RagError
from ui.documents import (
    REPORTS_KEY,
    ingest_uploads,
    merge_reports,
    render_delete_control,
    render_documents_table,
    render_reindex_offer,
    render_reports,
    upload_types,
)
from ui.resources import get_knowledge_base, get_settings
from ui.sidebar import render_sidebar

settings = get_settings()
render_sidebar(settings)
st.title("Documents")

try:
    kb = get_knowledge_base(settings)
except EmbeddingModelMismatchError as exc:
    render_reindex_offer(settings, exc)
    st.stop()
except RagError as exc:
    st.error(str(exc))
    st.stop()

files = st.file_uploader(
    "Drop PDFs or text files here",
    type=upload_types(),
    accept_multiple_files=True,
    key="uploader",
    help="PDF, .txt and .md files. Everything stays on this machine.",
)
password = (
    st.text_input("Password for encrypted PDFs (optional)", type="password", key="pdf_password")
    or None
)
if files:
    new_reports = ingest_uploads(kb, files, password=password)
    if new_reports:
        st.session_state[REPORTS_KEY] = merge_reports(
            st.session_state.get(REPORTS_KEY, []), new_reports
        )
render_reports(st.session_state.get(REPORTS_KEY, []))

st.subheader("Indexed documents")
render_delete_control(kb)
render_documents_table(kb)
