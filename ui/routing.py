"""The app's pages and navigation, and making the first page run go through ``app.py``.

Streamlit still supports its first multipage design, where files in ``pages/`` are pages
of their own. It uses that design for a script run when a ``pages/`` folder exists and
``st.navigation`` has not been called yet in the process
(``PagesManager.uses_pages_directory`` in streamlit/runtime/pages_manager.py). On a fresh
server, a first visit straight to ``/documents`` would therefore run
``pages/documents.py`` without ``app.py``: no page config, and a navigation of raw file
names ("app", "chat"...) until the next rerun. ``app.py`` marks the thread while its
router runs a page; a session's first page run without that mark switches the old design
off (as ``st.navigation`` itself does) and reruns, now through ``app.py``. Later runs are
left alone, so a rerun never swallows a click (AppTest resets the flag before every run).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.pages_manager import PagesManager

from ui.i18n import t

_state = threading.local()
ROUTED_KEY = "_routed_through_app"
"""Session-state flag: some run of this session went through ``app.py``."""


def build_navigation() -> StreamlitPage:
    """Set the page config and the sidebar navigation; return the page to run.

    Returns:
        The ``StreamlitPage`` the URL asks for (``st.navigation``'s return value).
    """
    st.set_page_config(
        page_title="Chat with your PDFs", page_icon=":material/description:", layout="wide"
    )
    return st.navigation(
        [
            st.Page("pages/chat.py", title=t("nav.chat"), icon=":material/chat:", default=True),
            st.Page("pages/documents.py", title=t("nav.documents"), icon=":material/upload_file:"),
            st.Page("pages/evaluate.py", title=t("nav.evaluate"), icon=":material/analytics:"),
        ]
    )


@contextmanager
def routed() -> Iterator[None]:
    """Mark the current thread as running a page through the router (``app.py``)."""
    _state.routed = True
    st.session_state[ROUTED_KEY] = True
    try:
        yield
    finally:
        _state.routed = False


def require_router() -> None:
    """Rerun through ``app.py`` if this session's first page run started without it."""
    if getattr(_state, "routed", False) or st.session_state.get(ROUTED_KEY):
        return
    PagesManager.uses_pages_directory = False  # what st.navigation does
    st.rerun()
