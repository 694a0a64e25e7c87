"""Evaluate page: recall@k, MRR and nDCG of each retrieval mode on a question set."""

import streamlit as st

from rag_core.errors import RagError
from ui.collections import active_settings
from ui.evaluate import (
    RESULTS_KEY,
    default_modes,
    read_question_set,
    render_evaluation,
    run_evaluation,
)
from ui.i18n import t
from ui.resources import get_knowledge_base, get_settings
from ui.routing import require_router
from ui.sidebar import render_sidebar
from ui.streamlit_texts import file_uploader
from ui.text import escape_markdown

require_router()

configured = get_settings()
render_sidebar(configured)
settings = active_settings(configured)
st.title(t("eval.title"))
st.caption(t("eval.caption"))

try:
    kb = get_knowledge_base(settings)
except RagError as exc:
    st.error(escape_markdown(str(exc)))
    st.stop()

upload = file_uploader(t("eval.file"), key="qa_file", types=["jsonl", "json"])
modes = st.multiselect(
    t("eval.modes"),
    default_modes(),
    default=default_modes(),
    key="modes",
    placeholder=t("eval.modes_placeholder"),
    select_all=False,  # its "Select all" text has no parameter (English in every language)
)
k = st.slider("k", 1, 20, value=settings.top_k, key="eval_k")
if st.button(t("eval.run"), type="primary", disabled=upload is None or not modes, key="run_eval"):
    try:
        items = read_question_set(upload)
        st.session_state[RESULTS_KEY] = (k, run_evaluation(kb, items, modes, k))
    except RagError as exc:
        st.error(escape_markdown(str(exc)))
if RESULTS_KEY in st.session_state:
    shown_k, result = st.session_state[RESULTS_KEY]
    render_evaluation(result, shown_k)
