"""A person's UI choices kept across reloads and restarts: the UI language.

Streamlit's session state lives as long as the browser tab's connection, so a reload
forgot the language a Korean user picked on an English-locale browser. The choice is kept
per owner (the signed-in username, "" for the single local user) in
``<data dir>/ui_preferences.json``, written atomically; a missing or unreadable file means
no saved choice.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import streamlit as st

from rag_core.config import Settings
from ui.i18n import LANGUAGE_KEY, LANGUAGES

logger = logging.getLogger(__name__)

PREFERENCES_FILE = "ui_preferences.json"
RESTORED_KEY = "_language_restored_for"
"""Session-state key: the owner whose saved language this session has taken up."""


def _path(settings: Settings) -> Path:
    return Path(settings.data_dir) / PREFERENCES_FILE


def _read(settings: Settings) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def saved_language(settings: Settings, owner: str) -> str | None:
    """Return ``owner``'s saved UI language ("en" / "ko"), or None."""
    entry = _read(settings).get(owner)
    language = entry.get("language") if isinstance(entry, dict) else None
    return language if language in LANGUAGES else None


def save_language(settings: Settings, owner: str, language: str) -> None:
    """Keep ``owner``'s UI language (atomic replace; a write failure is only logged)."""
    if language not in LANGUAGES:
        return
    data = _read(settings)
    data[owner] = {**(data.get(owner) or {}), "language": language}
    path = _path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
        ) as handle:
            json.dump(data, handle, ensure_ascii=False)
        os.replace(handle.name, path)
    except OSError as exc:
        logger.warning("could not save the UI language to %s: %s", path, exc)


def _owner(settings: Settings) -> str:
    if settings.auth_config is None:
        return ""
    return str(st.session_state.get("username") or "")


def restore_language(settings: Settings) -> None:
    """Take up the current owner's saved UI language once per session and owner.

    Call before anything is drawn (``app.py``); a later pick in the sidebar wins for the
    rest of the session and is saved by :func:`remember_language`.
    """
    owner = _owner(settings)
    if st.session_state.get(RESTORED_KEY) == owner:
        return
    st.session_state[RESTORED_KEY] = owner
    language = saved_language(settings, owner)
    if language is not None:
        st.session_state[LANGUAGE_KEY] = language


def remember_language(settings: Settings) -> None:
    """Save the language just picked (the language selectbox's ``on_change``)."""
    save_language(settings, _owner(settings), str(st.session_state.get(LANGUAGE_KEY, "")))
