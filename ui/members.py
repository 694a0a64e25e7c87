"""Who may do what, in the app: the signed-in caller, their role, the owner's Members panel.

The rules live in :mod:`rag_core.access` (the engine's :class:`~rag_core.access.AccessControl`);
the pages only ask them, so the app, the CLI, the HTTP API and the MCP server agree.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rag_core.access import AccessControl, Action, Caller, Role
from rag_core.config import Settings
from rag_core.errors import RagError
from ui.auth import current_user
from ui.i18n import t
from ui.resources import get_caller, get_engine
from ui.text import escape_markdown

MEMBER_ROLES = (Role.READER, Role.EDITOR)
"""The roles the Members panel gives (the owner is handed over with the CLI)."""


def get_access(settings: Settings) -> AccessControl:
    """The access control of ``settings``' store (the engine's, shared by every session)."""
    return get_engine(settings).access


def signed_in_caller(settings: Settings) -> Caller | None:
    """The signed-in user as the engine's caller; None with sign-in off (the local user)."""
    return get_caller(settings, current_user(settings))


def current_role(settings: Settings) -> Role | None:
    """The signed-in user's role in ``settings.collection`` (:attr:`Role.OWNER` when alone).

    Returns:
        None when the collection does not exist for them (not a member).
    """
    return get_access(settings).role(signed_in_caller(settings), settings.collection)


def require(settings: Settings, action: Action) -> None:
    """Check, at the moment of a write, that the signed-in user may still do ``action``.

    Raises:
        CollectionNotFoundError, PermissionDeniedError: see
            :meth:`rag_core.access.AccessControl.require`.
    """
    get_access(settings).require(signed_in_caller(settings), settings.collection, action)


def render_role_note(settings: Settings, role: Role) -> None:
    """Tell a reader why the page offers no upload or delete (nothing for others)."""
    if role is Role.READER:
        owner = get_access(settings).owner(settings.collection) or "?"
        st.info(t("members.reader_note", owner=escape_markdown(owner)), icon=":material/lock:")


def _candidates(access: AccessControl, collection: str) -> list[tuple[str, bool]]:
    """``(name, is_group)`` of every user and group of the sign-in config but the owner."""
    users = access.users()
    owner = access.owner(collection)
    groups = sorted({group for names in users.values() for group in names})
    return [(name, False) for name in sorted(users) if name != owner] + [
        (group, True) for group in groups
    ]


def _member_label(member: tuple[str, bool]) -> str:
    name, group = member
    return t("members.group", name=name) if group else name


def _change(settings: Settings, change: Callable[[], object]) -> None:
    """Apply a change of members if the user still owns the collection, then rerun."""
    try:
        require(settings, Action.MANAGE)
        change()
    except (RagError, ValueError) as exc:
        st.error(escape_markdown(str(exc)))
        return
    st.rerun()


def render_members_panel(settings: Settings) -> None:
    """The owner's Members panel: who has which role; add a user or group; remove one.

    Shown only with sign-in on, to the collection's owner (the one who may
    :attr:`~rag_core.access.Action.MANAGE` it); every change is checked again.
    """
    access = get_access(settings)
    collection = settings.collection
    if not access.enabled or current_role(settings) is not Role.OWNER:
        return
    members = access.members(collection)
    with st.expander(t("members.title", name=escape_markdown(collection)), icon=":material/group:"):
        rows = [
            {
                t("members.col_name"): m.name,
                t("members.col_kind"): t("members.kind_group" if m.group else "members.kind_user"),
                t("members.col_role"): t(f"members.role.{m.role}"),
            }
            for m in members
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
        with st.form("add_member", clear_on_submit=True, border=False):
            left, right = st.columns([2, 1])
            who = left.selectbox(
                t("members.who"),
                _candidates(access, collection),
                format_func=_member_label,
                index=None,
                placeholder=t("members.who_placeholder"),
                key="member_who",
            )
            role = right.selectbox(
                t("members.role"),
                MEMBER_ROLES,
                format_func=lambda r: t(f"members.role.{r}"),
                key="member_role",
                placeholder=t("widget.choose_one"),
            )
            if st.form_submit_button(t("members.add")) and who is not None:
                _change(settings, lambda: access.share(collection, who[0], role, group=who[1]))
        removable = [(m.name, m.group) for m in members if m.role is not Role.OWNER]
        if not removable:
            return
        with st.form("remove_member", border=False):
            gone = st.selectbox(
                t("members.remove_who"),
                removable,
                format_func=_member_label,
                index=None,
                placeholder=t("members.remove_placeholder"),
                key="member_remove",
            )
            if st.form_submit_button(t("members.remove")) and gone is not None:
                _change(settings, lambda: access.unshare(collection, gone[0], group=gone[1]))
