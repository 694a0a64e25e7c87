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
left alone, so a rerun never swallows a click (AppTest resets the flag before every run,
so its runs after the first run the page file directly); such a run still passes the
sign-in gate that ``app.py`` applies (:func:`ui.auth.require_login`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.pages_manager import PagesManager

from ui.auth import require_login
from ui.i18n import t
from ui.resources import get_settings

APP_ICON = Path(__file__).parent / "icon.png"
"""The favicon (64x64 PNG, drawn for this project), served by the app itself."""

_state = threading.local()
ROUTED_KEY = "_routed_through_app"
"""Session-state flag: some run of this session went through ``app.py``."""


def build_navigation(*, show_menu: bool = True) -> StreamlitPage:
    """Set the page config and the sidebar navigation; return the page to run.

    Args:
        show_menu: False hides the page menu (while the sign-in form is shown); the URL
            still chooses the page, so a deep link opens its page after sign-in.

    Returns:
        The ``StreamlitPage`` the URL asks for (``st.navigation``'s return value).
    """
    # a file, not a ":material/...:" icon: Streamlit links those favicons from Google's font
    # CDN, so every page load would tell a third party who uses the app (issue 21)
    st.set_page_config(page_title=t("app.title"), page_icon=str(APP_ICON), layout="wide")
    return st.navigation(
        [
            st.Page("pages/chat.py", title=t("nav.chat"), icon=":material/chat:", default=True),
            st.Page("pages/documents.py", title=t("nav.documents"), icon=":material/upload_file:"),
            st.Page("pages/evaluate.py", title=t("nav.evaluate"), icon=":material/analytics:"),
        ],
        position="sidebar" if show_menu else "hidden",
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
    """Give a page run what ``app.py`` gives it: the router, and the sign-in gate.

    Reruns through ``app.py`` if this session's first page run started without it. A
    later run without it goes on, behind :func:`ui.auth.require_login` (which shows the
    sign-in form and stops the run while sign-in is on and nobody is signed in).
    """
    if getattr(_state, "routed", False):
        return
    if st.session_state.get(ROUTED_KEY):
        require_login(get_settings())
        return
    PagesManager.uses_pages_directory = False  # what st.navigation does
    st.rerun()
