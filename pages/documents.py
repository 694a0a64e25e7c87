"""Documents page: drop files to index them; the table of indexed documents.

With sign-in on, a reader sees the documents but no upload or delete, and the owner
manages the members.
"""

import streamlit as st

from rag_core.access import Action
from rag_core.errors import EmbeddingModelMismatchError, RagError
from ui.collections import active_settings, render_collection_manager
from ui.documents import (
    render_delete_control,
    render_documents_table,
    render_ingest_panel,
    render_model_stage,
    render_reindex_offer,
    submit_uploads,
    upload_types,
)
from ui.folder_sync import render_folder_sync
from ui.i18n import t
from ui.members import current_role, render_members_panel, render_role_note, signed_in_caller
from ui.model_switch import render_model_switch
from ui.resources import get_engine, get_ingest_queue, get_knowledge_base, get_settings
from ui.routing import require_router
from ui.sidebar import render_sidebar
from ui.snapshots import render_snapshot_panel
from ui.streamlit_texts import file_uploader
from ui.text import escape_markdown

require_router()

configured = get_settings()
render_sidebar(configured)
settings = active_settings(configured, stop=False)
role = current_role(settings)
st.title(t("docs.title"))
render_model_stage(configured)  # drawn before anything that waits for the model's backend
render_collection_manager(settings, role)
if role is None:  # a member of no collection: they can create one above
    st.info(t("members.no_collection"), icon=":material/lock:")
    st.stop()

try:
    kb = get_knowledge_base(settings)
except EmbeddingModelMismatchError as exc:
    render_reindex_offer(settings, exc)
    st.stop()
except RagError as exc:
    st.error(escape_markdown(str(exc)))
    st.stop()


writer = role.allows(Action.WRITE)
engine = get_engine(settings)
caller = signed_in_caller(settings)  # the engine checks it again at each write
if writer:
    files = file_uploader(
        t("docs.uploader"),
        key="uploader",
        types=upload_types(),
        check_types=False,  # the queue reports another type at once, in the UI language
        multiple=True,
        help=t("docs.uploader_help"),
    )
    password = st.text_input(t("docs.password"), type="password", key="pdf_password") or None
    queue = get_ingest_queue(settings)
    if files:
        submit_uploads(engine, settings.collection, files, password=password, caller=caller)
    render_ingest_panel(queue, engine, caller)
    render_folder_sync(engine, settings.collection, caller)
else:
    render_role_note(settings, role)

st.subheader(t("docs.indexed"))
if writer:
    render_delete_control(engine, settings.collection, caller)
render_documents_table(kb)
render_model_switch(engine, kb, writer=writer, caller=caller)
if writer:  # export and import (the engine checks the caller again)
    render_snapshot_panel(engine, settings.collection, caller)
render_members_panel(settings)
