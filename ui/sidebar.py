"""The sidebar: Ollama status, model picker, top-k."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rag_core.config import Settings
from rag_core.llm import OllamaStatus, missing_model_message
from ui.resources import get_ollama_status

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


def render_sidebar(settings: Settings) -> ChatOptions:
    """Draw the Ollama status, the model picker and the top-k slider; return the choices."""
    status = get_ollama_status(settings.ollama_host)
    with st.sidebar:
        st.subheader("Ollama")
        st.caption(f"Host: `{settings.ollama_host}`")
        if status.reachable:
            st.success(f"Connected - Ollama {status.version}", icon=":material/check_circle:")
        else:
            st.error(status.error, icon=":material/error:")
        if st.button("Check again", key="recheck_ollama"):
            get_ollama_status.clear()
            st.rerun()
        choices = list(status.models)
        default = settings.ollama_model
        if ":" not in default and f"{default}:latest" in choices:
            default = f"{default}:latest"
        if default not in choices:
            choices.insert(0, default)
        if st.session_state.get(MODEL_KEY) not in choices:
            st.session_state[MODEL_KEY] = default
        model = st.selectbox(
            "Model", choices, key=MODEL_KEY, help="Models pulled on the Ollama server (/api/tags)"
        )
        top_k = st.slider(
            "Passages per answer (top-k)",
            1,
            20,
            value=settings.top_k,
            key=TOP_K_KEY,
        )
    problem = ""
    if not status.reachable:
        problem = status.error
    elif not status.has_model(model):
        problem = missing_model_message(model, settings.ollama_host)
        st.sidebar.warning(problem, icon=":material/download:")
    return ChatOptions(model=model, top_k=int(top_k), status=status, problem=problem)
