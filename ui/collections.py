"""Collections in the UI: the active collection, creating one, deleting one.

The active collection (sidebar) is where the Documents page uploads and what the Chat
page searches; the Chat page can also search other collections at the same time. With
sign-in on, every list offers only the collections the signed-in user may read
(:meth:`rag_core.access.AccessControl.readable`), creating a collection makes them its
owner, and only the owner may delete it.
"""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from rag_core.access import Role
from rag_core.config import Settings
from rag_core.errors import RagError
from ui.i18n import t
from ui.members import get_access, signed_in_caller
from ui.resources import get_collections, get_engine
from ui.text import escape_markdown

COLLECTION_KEY = "collection"
CREATED_KEY = "created_collections"
"""Names created in this session that hold no chunks yet (Chroma lists them anyway)."""
ALSO_SEARCH_KEY = "also_search"
DELETE_COLLECTION_KEY = "delete_collection_pending"


def collection_names(settings: Settings) -> list[str]:
    """The store's collections, the configured one and this session's new ones, sorted.

    Only those the signed-in user may read (all of them with sign-in off).
    """
    names = set(get_collections(settings.data_dir, settings.chroma_url))
    names |= {settings.collection, *st.session_state.get(CREATED_KEY, [])}
    return get_access(settings).readable(signed_in_caller(settings), sorted(names))


def active_settings(settings: Settings, *, stop: bool = True) -> Settings:
    """``settings`` with the collection chosen in the sidebar (the configured one if none).

    Args:
        settings: the configured settings.
        stop: when the signed-in user may read no collection at all, say so and stop the
            run (False: return the configured collection; the caller checks the role).
    """
    chosen = st.session_state.get(COLLECTION_KEY)
    active = settings
    if chosen and chosen != settings.collection:
        active = settings.model_copy(update={"collection": chosen})
    if stop and get_access(settings).enabled and not collection_names(settings):
        st.info(t("members.no_collection"), icon=":material/lock:")
        st.stop()
    return active


def collection_settings(settings: Settings, names: list[str]) -> list[Settings]:
    """``settings`` once per collection in ``names``."""
    return [settings.model_copy(update={"collection": name}) for name in names]


def render_collection_picker(settings: Settings) -> None:
    """A sidebar selectbox of the collections (shown when there is more than one)."""
    names = collection_names(settings)
    if st.session_state.get(COLLECTION_KEY) not in names:
        fallback = settings.collection if settings.collection in names or not names else names[0]
        st.session_state[COLLECTION_KEY] = fallback
    if len(names) > 1:
        st.sidebar.selectbox(
            t("collections.active"),
            names,
            key=COLLECTION_KEY,
            placeholder=t("widget.choose_one"),  # shown while a person types to filter
        )


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
    chosen = st.sidebar.multiselect(
        t("collections.also_search"),
        others,
        key=ALSO_SEARCH_KEY,
        placeholder=t("collections.also_search_placeholder"),
        select_all=False,  # its "Select all" text has no parameter (English in every language)
    )
    return [name for name in chosen if name in others]


def render_collection_manager(settings: Settings, role: Role | None = Role.OWNER) -> None:
    """Create a collection (and switch to it), or delete the active one after a confirm.

    Args:
        settings: the settings of the active collection.
        role: the signed-in user's role in it: only its owner may delete it; None (not a
            member of any collection) offers only the creation.
    """
    title = t("collections.manage", name=escape_markdown(settings.collection))
    with st.expander(title if role is not None else t("collections.new")):
        _render_create_form(settings)
        if role is Role.OWNER:
            _render_delete(settings)


def _render_create_form(settings: Settings) -> None:
    """A new collection's name; with sign-in on, the user who creates it is its owner."""
    with st.form("new_collection", clear_on_submit=True, border=False):
        name = st.text_input(t("collections.new"), help=t("collections.name_help"))
        if not (st.form_submit_button(t("collections.create")) and name):
            return
        try:
            Settings.model_validate({**settings.model_dump(), "collection": name})
        except ValidationError:
            st.error(t("collections.bad_name", name=escape_markdown(name)))
            return
        access, caller = get_access(settings), signed_in_caller(settings)
        try:
            access.created(caller, name)
            taken = access.role(caller, name) is None
        except RagError as exc:
            st.error(escape_markdown(str(exc)))
            return
        if taken:  # another user's collection: the name is taken
            st.error(t("members.name_taken", name=escape_markdown(name)))
            return
        st.session_state.setdefault(CREATED_KEY, []).append(name)
        st.session_state[COLLECTION_KEY] = name
        st.rerun()


def _render_delete(settings: Settings) -> None:
    """The delete button, its confirmation, and the deletion (through the engine)."""
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
        try:  # the engine checks again that the user owns it, and forgets its members
            get_engine(settings).delete_collection(
                settings.collection, caller=signed_in_caller(settings)
            )
        except RagError as exc:
            st.error(escape_markdown(str(exc)))
            return
        created = st.session_state.get(CREATED_KEY, [])
        if settings.collection in created:
            created.remove(settings.collection)
        st.session_state.pop(COLLECTION_KEY, None)
        get_collections.clear()
        st.rerun()
