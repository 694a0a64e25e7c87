"""Backup and restore on the Documents page: export the collection, import an archive.

Both go through the engine (:meth:`rag_core.engine.Engine.export_collection`,
:meth:`~rag_core.engine.Engine.import_collection`), which checks the signed-in user again;
the page shows the panel to those who may write to the active collection. The archive
is built in a temporary directory and handed to ``st.download_button``; an uploaded
archive is copied to a temporary file for the import (the engine checks it whole before
it writes anything).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from rag_core.access import Caller
from rag_core.engine import Engine
from rag_core.errors import RagError, SnapshotError
from rag_core.index.snapshot import SnapshotInfo
from ui.i18n import MESSAGES, t, ui_language
from ui.resources import get_collections
from ui.streamlit_texts import file_uploader
from ui.text import escape_markdown

TOGGLE_KEY = "snapshots_open"
IMPORTED_KEY = "snapshot_imported"
"""The success message of the last import (shown after the rerun that lists it)."""


def snapshot_error_text(error: SnapshotError | RagError) -> str:
    """An export or import error in the UI language, escaped for Markdown.

    English shows the engine's message (with its detail); Korean the translation of
    :attr:`SnapshotError.code` with its values, else the engine's message.
    """
    text = escape_markdown(str(error))
    code = getattr(error, "code", "")
    key = f"snap.err.{code}"
    if code and ui_language() != "en" and ui_language() in MESSAGES.get(key, {}):
        values = {k: escape_markdown(str(v)) for k, v in getattr(error, "params", {}).items()}
        with contextlib.suppress(KeyError, IndexError):  # a value it names is missing
            text = t(key, **values)
    return text


def _counts(info: SnapshotInfo) -> dict[str, object]:
    return {
        "name": escape_markdown(info.collection),
        "documents": info.documents,
        "chunks": info.chunks,
        "model": escape_markdown(info.embedding_model),
    }


def render_snapshot_panel(engine: Engine, collection: str, caller: Caller | None) -> None:
    """A toggle that opens the export and import controls of the active collection.

    Args:
        engine: the engine (it checks ``caller`` at the export and the import).
        collection: the active collection.
        caller: the signed-in user (None: the local user).
    """
    message = st.session_state.pop(IMPORTED_KEY, None)
    if message:
        st.success(message)
    if not st.toggle(t("snap.toggle"), key=TOGGLE_KEY, help=t("snap.toggle_help")):
        return
    export, restore = st.columns(2)
    with export:
        _render_export(engine, collection, caller)
    with restore:
        _render_import(engine, caller)


def _render_export(engine: Engine, collection: str, caller: Caller | None) -> None:
    st.markdown(f"**{t('snap.export_title', name=escape_markdown(collection))}**")
    with_files = st.checkbox(t("snap.with_files"), value=True, key="snapshot_with_files")
    if not st.button(t("snap.prepare"), key="snapshot_prepare"):
        return
    with tempfile.TemporaryDirectory(prefix="rag-export-") as tmp:
        target = Path(tmp) / "snapshot.zip"
        try:
            with st.spinner(t("snap.preparing")):
                info = engine.export_collection(
                    collection, target, include_files=with_files, caller=caller
                )
        except RagError as exc:
            st.error(snapshot_error_text(exc))
            return
        data = target.read_bytes()
    day = datetime.now(UTC).strftime("%Y%m%d")
    st.success(t("snap.exported", **_counts(info)))
    st.download_button(
        t("snap.download"),
        data=data,
        file_name=f"{collection}-{day}.zip",
        mime="application/zip",
        key="snapshot_download",
        on_click="ignore",  # no rerun: the button stays until the next interaction
        type="primary",
    )


def _render_import(engine: Engine, caller: Caller | None) -> None:
    st.markdown(f"**{t('snap.import_title')}**")
    upload = file_uploader(t("snap.uploader"), key="snapshot_file", types=["zip"])
    name = st.text_input(t("snap.name"), key="snapshot_name", help=t("snap.name_help"))
    if not st.button(t("snap.import"), key="snapshot_import", disabled=upload is None):
        return
    assert upload is not None  # the button is disabled without one
    with tempfile.TemporaryDirectory(prefix="rag-import-") as tmp:
        # the upload's name (made safe) names the file in messages; never a path outside tmp
        shown = re.sub(r"[^\w.\- ]", "_", Path(upload.name).name)[:100].strip(". ")
        source = Path(tmp) / (shown or "snapshot.zip")
        with source.open("wb") as handle:
            shutil.copyfileobj(upload, handle)
        try:
            with st.spinner(t("snap.importing")):
                info = engine.import_collection(source, name=name.strip() or None, caller=caller)
        except RagError as exc:
            st.error(snapshot_error_text(exc))
            return
    get_collections.clear()  # the sidebar's picker lists the new collection
    st.session_state[IMPORTED_KEY] = t("snap.imported", **_counts(info))
    st.rerun()
