"""English and Korean UI text.

The language is the sidebar's choice, else the ``RAG_UI_LANGUAGE`` setting, else the
browser's language (``st.context.locale``): Korean for a ``ko`` locale, English otherwise.
Answers follow the question's language regardless (see the answer prompt).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from rag_core.generation.report import LANGUAGE_NAMES, NOTICE_TEXTS
from rag_core.llm.ollama import OLLAMA_MESSAGES

LANGUAGES = {"en": "English", "ko": "한국어"}
LANGUAGE_KEY = "ui_language"

MESSAGES_FILE = Path(__file__).parent / "locales" / "messages.json"
"""The UI texts: ``{key: {"en": ..., "ko": ...}}``. Keys whose English the engine writes
(notices, Ollama problems, language names) carry only their Korean there."""


def load_messages(path: Path = MESSAGES_FILE) -> dict[str, dict[str, str]]:
    """Read the UI texts and add the engine's English texts (one source of each wording).

    Args:
        path: the JSON file of texts.

    Returns:
        ``{key: {language: text}}`` with ``notice.*``, ``ollama.*`` and ``lang.*`` English
        taken from :data:`~rag_core.generation.report.NOTICE_TEXTS`,
        :data:`~rag_core.llm.ollama.OLLAMA_MESSAGES` and
        :data:`~rag_core.generation.report.LANGUAGE_NAMES`.
    """
    messages: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    for prefix, english in (
        ("notice", NOTICE_TEXTS),
        ("ollama", OLLAMA_MESSAGES),
        ("lang", LANGUAGE_NAMES),
    ):
        for code, text in english.items():
            messages.setdefault(f"{prefix}.{code}", {})["en"] = text
    return messages


MESSAGES = load_messages()


def _from_locale() -> str:
    try:
        locale = st.context.locale or ""
    except (AttributeError, RuntimeError):
        locale = ""
    return "ko" if locale.lower().startswith("ko") else "en"


def ui_language(default: str = "auto") -> str:
    """Return "en" or "ko" (sidebar choice, then the setting, then the browser locale)."""
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    if default in LANGUAGES:
        return default
    return _from_locale()


def t(key: str, **values: object) -> str:
    """Return the UI text ``key`` in the current language, formatted with ``values``.

    Raises:
        KeyError: unknown key (a programming error, caught by the tests).
    """
    texts = MESSAGES[key]
    text = texts.get(ui_language()) or texts.get("en") or texts["ko"]
    return text.format(**values) if values else text


def render_language_picker(
    default: str = "auto", on_change: Callable[[], None] | None = None
) -> None:
    """A sidebar selectbox for the UI language; ``on_change`` runs when a person picks one."""
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = ui_language(default)
    st.sidebar.selectbox(
        t("sidebar.language"),
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key=LANGUAGE_KEY,
        on_change=on_change,
        placeholder=t("widget.choose_one"),  # shown while a person types to filter
    )
