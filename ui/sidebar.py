"""The sidebar: Ollama status, model picker, top-k."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rag_core.config import Settings
from rag_core.llm.ollama import OllamaStatus, with_default_tag
from ui.collections import ALSO_SEARCH_KEY, COLLECTION_KEY, render_collection_picker
from ui.i18n import LANGUAGE_KEY, render_language_picker, t
from ui.preferences import remember_language
from ui.resources import get_ollama_status
from ui.streamlit_texts import render_page_texts

MODEL_KEY = "chat_model"
TOP_K_KEY = "top_k"


@dataclass(frozen=True)
class ChatOptions:
    """What the user chose in the sidebar.

    Attributes:
        model: the Ollama model tag to answer with.
        top_k: passages retrieved and shown per question.
        status: the Ollama server's status at this rerun.
        problem: a message saying why answers cannot be generated ("" when they can).
    """

    model: str
    top_k: int
    status: OllamaStatus
    problem: str


def keep_across_pages(*keys: str) -> None:
    """Keep the values of widgets that every page draws when the user changes page.

    Streamlit drops a widget's value when a page without that widget instance runs;
    re-assigning the key first is the documented way to carry it over
    (https://docs.streamlit.io/develop/concepts/multipage-apps/widgets).
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render_sidebar(settings: Settings) -> ChatOptions:
    """Draw the sidebar controls and return the choices.

    Language and collection pickers, the Ollama status, the model picker, top-k.

    Args:
        settings: the configured settings (not yet narrowed to the chosen collection).
    """
    keep_across_pages(LANGUAGE_KEY, COLLECTION_KEY, ALSO_SEARCH_KEY, MODEL_KEY, TOP_K_KEY)
    status = get_ollama_status(settings.ollama_host)
    render_language_picker(settings.ui_language, on_change=lambda: remember_language(settings))
    render_page_texts()  # Streamlit's own "Stop" and skip link, in the UI language
    render_collection_picker(settings)
    with st.sidebar:
        st.subheader("Ollama")
        st.caption(t("sidebar.host", host=settings.ollama_host))
        if status.reachable:
            st.success(
                t("sidebar.connected", version=status.version),
                icon=":material/check_circle:",
            )
        else:
            st.error(t("ollama.unreachable", host=status.host), icon=":material/error:")
        if st.button(t("sidebar.recheck"), key="recheck_ollama"):
            get_ollama_status.clear()
            st.rerun()
        choices = list(status.models)
        default = settings.ollama_model
        if with_default_tag(default) in choices:
            default = with_default_tag(default)
        if default not in choices:
            choices.insert(0, default)
        if st.session_state.get(MODEL_KEY) not in choices:
            st.session_state[MODEL_KEY] = default
        model = st.selectbox(
            t("sidebar.model"),
            choices,
            key=MODEL_KEY,
            help=t("sidebar.model_help"),
            placeholder=t("widget.choose_one"),  # shown while a person types to filter
        )
        # the value lives in session state (kept across pages), so no default here:
        # Streamlit warns about a widget given both
        st.session_state.setdefault(TOP_K_KEY, settings.top_k)
        top_k = st.slider(t("sidebar.top_k"), 1, 20, key=TOP_K_KEY)
    problem = ""
    if not status.reachable:
        problem = t("ollama.unreachable", host=status.host)
    elif not status.has_model(model):
        problem = t("ollama.missing_model", model=model, host=settings.ollama_host)
        st.sidebar.warning(problem, icon=":material/download:")
    return ChatOptions(model=model, top_k=int(top_k), status=status, problem=problem)
