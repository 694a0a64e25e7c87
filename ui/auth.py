"""Optional sign-in for a shared deployment, with streamlit-authenticator.

Sign-in is off unless ``RAG_AUTH_CONFIG`` names a streamlit-authenticator YAML file
(https://github.com/mkhorasani/Streamlit-Authenticator, "Creating a config file"): users
with bcrypt-hashed passwords under ``credentials: usernames:``, and the ``cookie:`` that
keeps a user signed in across refreshes (``name``, ``key``, ``expiry_days``). The file is
only read, never written (the library would write login counters back into a file it was
given as a path, so it gets the parsed credentials instead).

``app.py`` calls :func:`require_login` before it runs any page. While nobody is signed in
the run shows the sign-in form and stops there, with the page menu hidden; a successful
sign-in reruns the script so the form goes and the menu comes back. The pages ask
:func:`current_user` whose chats to show. A broken config file stops every run with an
error naming the file: it never falls back to "no sign-in".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
import yaml

from rag_core.chats.history import LOCAL_OWNER
from rag_core.config import Settings
from ui.i18n import render_language_picker, t
from ui.preferences import remember_language
from ui.text import escape_markdown

AUTH_STATUS_KEY = "authentication_status"
"""streamlit-authenticator's session key: True signed in, False wrong password, None."""
USERNAME_KEY = "username"
NAME_KEY = "name"
LIBRARY_LOGOUT_KEY = "logout"
"""streamlit-authenticator's session key: True makes it ignore the sign-in cookie."""
LOGOUT_REQUESTED_KEY = "_auth_logout_requested"
SET_COOKIE_KEY = "_auth_set_cookie"
SIGNED_OUT_NOTICE_KEY = "_auth_signed_out_notice"
"""Set when a user was signed out because the config no longer has them; until the next
sign-in the form says so (on every run: the cookie component reruns the script)."""
LOGIN_FORM_KEY = "login"
LOGOUT_BUTTON_KEY = "sign_out"
"""Not "logout": a widget with that key would share the library's session key."""
MIN_COOKIE_KEY_CHARS = 32
"""The cookie key signs the sign-in cookie (HS256 JWT): a short one can be guessed.
``secrets.token_urlsafe(32)``, which the error message suggests, gives 43 characters."""
SAMPLE_COOKIE_KEYS = frozenset(
    key.casefold()
    for key in (
        # this project's docs: the sample of earlier versions and today's placeholder
        "a-long-random-secret",
        "REPLACE-with-output-of-secrets.token_urlsafe(32)",
        # streamlit-authenticator's README samples and its Authenticate default
        "some_signature_key",
        "random_signature_key",
        "signature_key",
        "some_key",
        "abcdef",
    )
)
"""Cookie keys published in documentation: anyone can sign a cookie with them, so they
are refused whatever their length (compared without case and surrounding spaces)."""


class AuthConfigError(Exception):
    """The sign-in config file cannot be used.

    Attributes:
        path: the config file.
        code: what is wrong, a key of the ``auth.err.*`` UI texts ("missing", "unreadable",
            "yaml", "no_users", "password", "cookie", "cookie_key_short",
            "cookie_key_sample").
        values: the values that text is formatted with (e.g. ``user``, ``detail``).
    """

    def __init__(self, path: Path, code: str, **values: object) -> None:
        """Store what is wrong; the English message is for logs."""
        super().__init__(f"{path}: {code} {values or ''}".rstrip())
        self.path = path
        self.code = code
        self.values = values


@dataclass(frozen=True)
class AuthConfig:
    """A checked sign-in config.

    Attributes:
        credentials: ``{"usernames": {username: {"name": ..., "password": bcrypt hash}}}``
            as ``stauth.Authenticate`` takes it, usernames in lower case.
        cookie_name: name of the sign-in cookie.
        cookie_key: secret that signs the cookie.
        cookie_expiry_days: days a sign-in is remembered (0 = until the tab is closed).
    """

    credentials: dict[str, Any]
    cookie_name: str
    cookie_key: str
    cookie_expiry_days: float

    @property
    def usernames(self) -> set[str]:
        """The users who may sign in (lower case)."""
        return set(self.credentials["usernames"])


def parse_auth_config(path: Path, text: str) -> AuthConfig:
    """Check a streamlit-authenticator YAML config and return what sign-in needs.

    Args:
        path: the file the text came from (for error messages).
        text: the file's YAML text.

    Returns:
        The credentials and the cookie settings.

    Raises:
        AuthConfigError: the text is not YAML, lists no users, has a password that is not a
            bcrypt hash, lacks a usable ``cookie`` section, or its cookie key is short or
            a published sample (:func:`check_cookie_key`).
    """
    try:
        data = yaml.load(text, Loader=stauth.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = str(getattr(exc, "problem", None) or exc)
        if mark is not None:
            detail += f", line {mark.line + 1}"
        raise AuthConfigError(path, "yaml", detail=detail) from exc
    data = data if isinstance(data, Mapping) else {}
    credentials = data.get("credentials")
    users = credentials.get("usernames") if isinstance(credentials, Mapping) else None
    if not isinstance(users, Mapping) or not users:
        raise AuthConfigError(path, "no_users")
    checked: dict[str, dict[str, Any]] = {}
    for username, user in users.items():
        password = user.get("password") if isinstance(user, Mapping) else None
        if not isinstance(password, str) or not stauth.Hasher.is_hash(password):
            raise AuthConfigError(path, "password", user=username)
        checked[str(username).lower()] = dict(user)  # the library compares in lower case
    cookie = data.get("cookie")
    cookie = cookie if isinstance(cookie, Mapping) else {}
    name, key, days = cookie.get("name"), cookie.get("key"), cookie.get("expiry_days")
    if (
        not isinstance(name, str)
        or not name.strip()
        or not isinstance(key, str)
        or isinstance(days, bool)
        or not isinstance(days, int | float)
        or days < 0
    ):
        raise AuthConfigError(path, "cookie", chars=MIN_COOKIE_KEY_CHARS)
    check_cookie_key(path, key)
    return AuthConfig(
        credentials={"usernames": checked},
        cookie_name=name,
        cookie_key=key,
        cookie_expiry_days=float(days),
    )


def check_cookie_key(path: Path, key: str) -> None:
    """Refuse a cookie key that would let someone forge the sign-in cookie.

    Whoever knows the key can sign a cookie naming any user and is signed in as them
    without a password. So the key must have at least :data:`MIN_COOKIE_KEY_CHARS`
    characters and must not be a sample value from documentation (:data:`SAMPLE_COOKIE_KEYS`),
    which a team copying the sample config would otherwise share with everyone.

    Args:
        path: the config file (for the error).
        key: the ``cookie: key:`` value.

    Raises:
        AuthConfigError: "cookie_key_sample" or "cookie_key_short"; both messages say how
            to make a key.
    """
    if key.strip().casefold() in SAMPLE_COOKIE_KEYS:
        raise AuthConfigError(path, "cookie_key_sample")
    if len(key) < MIN_COOKIE_KEY_CHARS:
        raise AuthConfigError(path, "cookie_key_short", length=len(key), chars=MIN_COOKIE_KEY_CHARS)


@st.cache_data(show_spinner=False, max_entries=4)
def _cached_auth_config(path: str, mtime_ns: int, size: int) -> AuthConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(Path(path), "unreadable", detail=str(exc)) from exc
    return parse_auth_config(Path(path), text)


def load_auth_config(path: Path) -> AuthConfig:
    """Read and check the sign-in config, parsed once per version of the file.

    The cache is keyed by the file's modification time and size, so an edited file (a new
    user, a changed password) is read again on the next run. ``st.cache_data`` hands each
    caller its own copy, so what the library records in the credentials of one session
    (login counters) never reaches another.

    Args:
        path: the YAML file (``RAG_AUTH_CONFIG``).

    Returns:
        The checked config.

    Raises:
        AuthConfigError: the file is missing, unreadable or not a usable config.
    """
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise AuthConfigError(path, "missing") from exc
    except OSError as exc:
        raise AuthConfigError(path, "unreadable", detail=str(exc)) from exc
    return _cached_auth_config(str(path), stat.st_mtime_ns, stat.st_size)


def is_signed_in(settings: Settings) -> bool:
    """Return True when the pages may be shown: sign-in is off, or a user is signed in.

    ``app.py`` asks before building the page menu, which is hidden while this is False.
    """
    if settings.auth_config is None:
        return True
    return bool(st.session_state.get(AUTH_STATUS_KEY)) and not st.session_state.get(
        LOGOUT_REQUESTED_KEY
    )


def current_user(settings: Settings) -> str:
    """Return whose chats the page shows: the signed-in username, "" when sign-in is off.

    Stops the run if sign-in is on and nobody is signed in (``app.py`` shows the form
    before any page runs, so a page never gets here without a user).
    """
    if settings.auth_config is None:
        return LOCAL_OWNER
    username = st.session_state.get(USERNAME_KEY)
    if not st.session_state.get(AUTH_STATUS_KEY) or not username:
        st.stop()
    return str(username)


def require_login(settings: Settings) -> str:
    """Gate the run behind the sign-in form when ``settings.auth_config`` is set.

    When sign-in is on: shows the form (and "wrong username or password") and stops the run
    until a user signs in; then puts "Signed in as NAME" and a sign-out button at the top of
    the sidebar. A user removed from the config file is signed out on their next run. A
    missing or broken config file shows an error naming the file and stops the run.

    Args:
        settings: the configured settings (``auth_config``, ``ui_language``).

    Returns:
        The signed-in username (lower case, as streamlit-authenticator stores it), or
        "" when sign-in is off.
    """
    if settings.auth_config is None:
        return LOCAL_OWNER
    menu_shown = is_signed_in(settings)
    path = settings.auth_config
    try:
        config = load_auth_config(path)
    except AuthConfigError as exc:
        values = {name: escape_markdown(str(value)) for name, value in exc.values.items()}
        problem = t(f"auth.err.{exc.code}", **values)
        st.error(t("auth.bad_config", path=str(path), problem=problem), icon=":material/error:")
        st.stop()
    authenticator = stauth.Authenticate(
        config.credentials,
        config.cookie_name,
        config.cookie_key,
        config.cookie_expiry_days,
        auto_hash=False,
    )
    signed_in = bool(st.session_state.get(AUTH_STATUS_KEY))
    removed = signed_in and st.session_state.get(USERNAME_KEY) not in config.usernames
    if signed_in and (st.session_state.pop(LOGOUT_REQUESTED_KEY, False) or removed):
        authenticator.logout(location="unrendered")  # also deletes the sign-in cookie
        if removed:  # from the config file, while signed in
            st.session_state[SIGNED_OUT_NOTICE_KEY] = True
    if not st.session_state.get(AUTH_STATUS_KEY):
        _sign_in(authenticator, settings)
    if not menu_shown:
        st.rerun()  # draw the page with its menu, without the form
    if st.session_state.pop(SET_COOKIE_KEY, False):
        # login() set the cookie in the run the form was submitted in, which the rerun
        # above cut short; set it again in this run, which finishes.
        authenticator.cookie_controller.set_cookie()
    username = str(st.session_state[USERNAME_KEY])
    with st.sidebar:
        name = st.session_state.get(NAME_KEY) or username
        st.caption(t("auth.signed_in", name=escape_markdown(str(name))))
        st.button(
            t("auth.logout"),
            key=LOGOUT_BUTTON_KEY,
            icon=":material/logout:",
            on_click=_request_logout,
        )
    return username


def _request_logout() -> None:
    """The sign-out button's callback: the next run signs out (before anything is drawn)."""
    st.session_state[LOGOUT_REQUESTED_KEY] = True


def _signed_in_with_form(_event: dict[str, Any]) -> None:
    """streamlit-authenticator's login callback, called on a sign-in with the form only."""
    st.session_state[SET_COOKIE_KEY] = True


def _sign_in(authenticator: stauth.Authenticate, settings: Settings) -> None:
    """Show the sign-in form; return only once a user is signed in, else stop the run."""
    render_language_picker(settings.ui_language, on_change=lambda: remember_language(settings))
    notice = st.empty()
    fields = {
        "Form name": t("auth.title"),
        "Username": t("auth.username"),
        "Password": t("auth.password"),
        "Login": t("auth.login"),
    }

    def show_form() -> None:
        authenticator.login(
            location="main", fields=fields, key=LOGIN_FORM_KEY, callback=_signed_in_with_form
        )

    try:
        show_form()
    except stauth.LoginError:
        # A remembered sign-in (cookie) of a user no longer in the config, raised before
        # the form is drawn: ignore the cookie from now on, delete it, show the form.
        st.session_state[LIBRARY_LOGOUT_KEY] = True
        st.session_state[SIGNED_OUT_NOTICE_KEY] = True
        authenticator.cookie_controller.delete_cookie()
        show_form()
    status = st.session_state.get(AUTH_STATUS_KEY)
    if status:
        st.session_state.pop(SIGNED_OUT_NOTICE_KEY, None)
        return
    if st.session_state.get(SIGNED_OUT_NOTICE_KEY):
        notice.info(t("auth.stale_cookie"), icon=":material/info:")
    if status is False:
        st.error(t("auth.wrong"), icon=":material/error:")
    st.stop()
