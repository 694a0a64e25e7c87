"""Documents page: a folder on the server that the app keeps a collection in step with.

An editor sets the folder (only under the allowed roots, ``RAG_SYNC_ROOTS``:
:func:`rag_core.folder_sync.check_sync_folder`), starts a sync and sees the last sync's
report. The syncs run on one background worker per process (:func:`get_background_sync`),
which also re-syncs a folder when its files change (``watchfiles``). Every file name
and message is shown as inert text.
"""

from __future__ import annotations

import streamlit as st

from rag_core.access import Caller
from rag_core.config import Settings
from rag_core.engine import Engine
from rag_core.errors import RagError
from rag_core.folder_sync import (
    BackgroundSync,
    SyncReport,
    server_sync_enabled,
    sync_roots,
    sync_state,
)
from rag_core.ingest_queue import WRITE_LOCK_WAIT_S
from ui.i18n import t
from ui.resources import get_engine
from ui.text import escape_markdown

POLL_S = 1.0
"""Seconds between refreshes of the panel while a sync runs."""
SHOWN_PROBLEMS = 50
"""Files with a problem listed in the report at most."""


@st.cache_resource(show_spinner=False)
def _background_sync(settings_json: str) -> BackgroundSync:
    engine = get_engine(Settings.model_validate_json(settings_json))

    def sync(collection: str, caller: object) -> object:
        return engine.sync_saved_folder(
            collection,
            caller=caller if isinstance(caller, Caller) else None,
            lock_timeout_s=WRITE_LOCK_WAIT_S,
        )

    return BackgroundSync(sync, engine.saved_sync_folders).start()


def get_background_sync(settings: Settings) -> BackgroundSync:
    """The process's folder-sync worker and watcher, started once (any collection)."""
    engine = get_engine(settings)
    return _background_sync(engine.settings.model_dump_json())


def start_folder_sync(settings: Settings) -> None:
    """Start the background sync when some collection has a saved folder (app start).

    Reads one small SQLite file; without saved folders no thread is started.
    """
    if server_sync_enabled(settings) and sync_state(settings).folders():
        get_background_sync(settings)


def render_folder_sync(engine: Engine, collection: str, caller: Caller | None) -> None:
    """The folder panel for an editor: set the folder, sync now, the last report.

    Args:
        engine: the engine (it checks the caller and the allowed roots again).
        collection: the collection shown.
        caller: the signed-in user (None: the local user).
    """
    settings = engine.settings
    with st.expander(t("sync.title"), icon=":material/folder_open:"):
        if not server_sync_enabled(settings):
            st.info(t("sync.off"), icon=":material/block:")
            return
        roots = sync_roots(settings)
        if roots:
            allowed = ", ".join(f"`{escape_markdown(str(r))}`" for r in roots)
            st.caption(t("sync.roots", roots=allowed))
        folder, _ = engine.sync_folder_setting(collection, caller=caller)
        typed = st.text_input(t("sync.folder"), value=folder or "", key=f"sync_folder:{collection}")
        save, now, clear = st.columns(3)
        if save.button(t("sync.save"), key="sync_save", icon=":material/save:"):
            folder = _save(engine, collection, typed.strip(), caller)
        if folder and now.button(t("sync.now"), key="sync_now", icon=":material/sync:"):
            get_background_sync(settings).request(collection, caller)
        if folder and clear.button(t("sync.clear"), key="sync_clear"):
            engine.set_sync_folder(None, collection, caller=caller)
            st.rerun()
        if folder:
            st.caption(t("sync.current", folder=escape_markdown(folder)))
            _render_status(engine, collection, caller)


def _save(engine: Engine, collection: str, typed: str, caller: Caller | None) -> str | None:
    """Save the typed folder; show the refusal (outside the roots, not a folder) if any."""
    if not typed:
        st.error(t("sync.empty_folder"))
        return None
    try:
        saved = engine.set_sync_folder(typed, collection, caller=caller)
    except RagError as exc:
        st.error(escape_markdown(str(exc)), icon=":material/block:")
        return None
    background = get_background_sync(engine.settings)
    background.request(collection, caller)
    st.success(t("sync.saved", folder=escape_markdown(saved or "")))
    return saved


def _render_status(engine: Engine, collection: str, caller: Caller | None) -> None:
    """A sync under way (refreshed until it ends), else the last report."""
    background = get_background_sync(engine.settings)
    busy = background.busy(collection)

    def panel() -> None:
        if background.busy(collection):
            st.info(t("sync.running"), icon=":material/sync:")
            return
        if busy:
            st.rerun()  # it just ended: refresh the page (the documents table too)
        _, report = engine.sync_folder_setting(collection, caller=caller)
        if report is not None:
            render_sync_report(report)

    st.fragment(panel, run_every=POLL_S if busy else None)()


def render_sync_report(report: SyncReport) -> None:
    """The counts of a sync and its files with a problem, as inert text."""
    counts = report.counts
    st.markdown(
        t(
            "sync.report",
            when=escape_markdown(report.started_at.replace("T", " ")[:16]),
            added=counts["add"],
            replaced=counts["replace"],
            removed=counts["remove"],
            unchanged=counts["unchanged"],
            unsupported=counts["unsupported"],
            problems=len(report.failed),
            seconds=report.seconds,
        )
    )
    problems = report.failed
    for item in problems[:SHOWN_PROBLEMS]:
        why = item.error or item.reason
        text = t(f"sync.code.{item.code}") if item.code in CODES else why
        st.warning(f"{escape_markdown(item.name)}: {escape_markdown(text)}")
    if len(problems) > SHOWN_PROBLEMS:
        st.caption(t("sync.more_problems", n=len(problems) - SHOWN_PROBLEMS))


CODES = ("empty", "unreadable", "symlink_outside", "symlink_folder", "conflict")
"""Problem codes of :class:`rag_core.folder_sync.SyncItem` with a text of their own."""
