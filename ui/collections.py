"""Collections in the UI: the active collection, creating one, deleting one.

The active collection (sidebar) is where the Documents page uploads and what the Chat
page searches; the Chat page can also search other collections at the same time.
"""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from rag_core.config import Settings
from rag_core.errors import RagError, StoreBusyError
from rag_core.index.collections import delete_collection
from ui.i18n import t
from ui.resources import forget_knowledge_base, get_collections
from ui.text import escape_markdown

COLLECTION_KEY = "collection"
CREATED_KEY = "created_collections"
"""Names created in this session that hold no chunks yet (Chroma lists them anyway)."""
ALSO_SEARCH_KEY = "also_search"
DELETE_COLLECTION_KEY = "delete_collection_pending"


def collection_names(settings: Settings) -> list[str]:
    """The store's collections, the configured one and this session's new ones, sorted."""
    names = set(get_collections(settings.data_dir, settings.chroma_url))
    names |= {settings.collection, *st.session_state.get(CREATED_KEY, [])}
    return sorted(names)


def active_settings(settings: Settings) -> Settings:
    """``settings`` with the collection chosen in the sidebar (the configured one if none)."""
    chosen = st.session_state.get(COLLECTION_KEY)
    if not chosen or chosen == settings.collection:
        return settings
    return settings.model_copy(update={"collection": chosen})


def collection_settings(settings: Settings, names: list[str]) -> list[Settings]:
    """``settings`` once per collection in ``names``."""
    return [settings.model_copy(update={"collection": name}) for name in names]


def render_collection_picker(settings: Settings) -> None:
    """A sidebar selectbox of the collections (shown when there is more than one)."""
    names = collection_names(settings)
    if st.session_state.get(COLLECTION_KEY) not in names:
        st.session_state[COLLECTION_KEY] = settings.collection
    if len(names) > 1:
        st.sidebar.selectbox(t("collections.active"), names, key=COLLECTION_KEY)


def other_collections_to_search(configured: Settings) -> list[str]:
    """A multiselect of the collections other than the active one to search too.

    Args:
        configured: the settings before the sidebar's collection choice.

    Returns:
        The chosen collection names.
    """
    active = active_settings(configured).collection
    others = [n for n in collection_names(configured) if n != active]
    if not others:
        return []
    chosen = st.sidebar.multiselect(t("collections.also_search"), others, key=ALSO_SEARCH_KEY)
    return [name for name in chosen if name in others]


def render_collection_manager(settings: Settings) -> None:
    """Create a collection (and switch to it), or delete the active one after a confirm."""
    with st.expander(t("collections.manage", name=escape_markdown(settings.collection))):
        with st.form("new_collection", clear_on_submit=True, border=False):
            name = st.text_input(t("collections.new"), help=t("collections.name_help"))
            if st.form_submit_button(t("collections.create")) and name:
                try:
                    Settings.model_validate({**settings.model_dump(), "collection": name})
                except ValidationError:
                    st.error(t("collections.bad_name", name=escape_markdown(name)))
                else:
                    st.session_state.setdefault(CREATED_KEY, []).append(name)
                    st.session_state[COLLECTION_KEY] = name
                    st.rerun()
        current = escape_markdown(settings.collection)
        if not st.session_state.get(DELETE_COLLECTION_KEY):
            if st.button(t("collections.delete", name=current), key="delete_collection"):
                st.session_state[DELETE_COLLECTION_KEY] = True
                st.rerun()
            return
        st.warning(t("collections.delete_confirm", name=current))
        yes, no = st.columns(2)
        if no.button(t("docs.delete_cancel"), key="delete_collection_cancel"):
            del st.session_state[DELETE_COLLECTION_KEY]
            st.rerun()
        if yes.button(t("docs.delete_yes"), type="primary", key="delete_collection_confirm"):
            del st.session_state[DELETE_COLLECTION_KEY]
            try:
                delete_collection(settings, settings.collection)
            except (StoreBusyError, RagError) as exc:
                st.error(escape_markdown(str(exc)))
                return
            created = st.session_state.get(CREATED_KEY, [])
            if settings.collection in created:
                created.remove(settings.collection)
            st.session_state.pop(COLLECTION_KEY, None)
            forget_knowledge_base()
            get_collections.clear()
            st.rerun()
