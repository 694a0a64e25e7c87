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
from ui.i18n import t
from ui.resources import get_knowledge_base, get_settings
from ui.sidebar import render_sidebar
from ui.text import escape_markdown

settings = get_settings()
render_sidebar(settings)
st.title(t("docs.title"))

try:
    kb = get_knowledge_base(settings)
except EmbeddingModelMismatchError as exc:
    render_reindex_offer(settings, exc)
    st.stop()
except RagError as exc:
    st.error(escape_markdown(str(exc)))
    st.stop()

files = st.file_uploader(
    t("docs.uploader"),
    type=upload_types(),
    accept_multiple_files=True,
    key="uploader",
    help=t("docs.uploader_help"),
)
password = st.text_input(t("docs.password"), type="password", key="pdf_password") or None
if files:
    new_reports = ingest_uploads(kb, files, password=password)
    if new_reports:
        st.session_state[REPORTS_KEY] = merge_reports(
            st.session_state.get(REPORTS_KEY, []), new_reports
        )
render_reports(st.session_state.get(REPORTS_KEY, []))

st.subheader(t("docs.indexed"))
render_delete_control(kb)
render_documents_table(kb)
