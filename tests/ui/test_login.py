"""Sign-in (RAG_AUTH_CONFIG), headless: the gate, wrong passwords, chats kept per user."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit_authenticator as stauth
import yaml
from streamlit.testing.v1 import AppTest

from rag_core.chats.history import ChatHistory
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import REPO
from tests.ollama_server import FakeOllamaServer
from ui.auth import MIN_COOKIE_KEY_CHARS, SAMPLE_COOKIE_KEYS, AuthConfigError, check_cookie_key
from ui.text import escape_markdown

QUESTION = "When did Knuth start writing TeX?"
PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-2"}
COOKIE_KEY = "k" * 32
"""A cookie key the config check accepts (32 characters, not a published sample)."""
MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def write_config(path: Path, **changes: object) -> Path:
    """A streamlit-authenticator config with alice and bob (bcrypt-hashed passwords)."""
    config = {
        "credentials": {
            "usernames": {
                "alice": {"name": "Alice Kim", "password": stauth.Hasher.hash(PASSWORDS["alice"])},
                "bob": {"name": "Bob Lee", "password": stauth.Hasher.hash(PASSWORDS["bob"])},
            }
        },
        "cookie": {"name": "rag_login", "key": COOKIE_KEY, "expiry_days": 1},
        **changes,
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def auth_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sign-in on: RAG_AUTH_CONFIG names a config with the users alice and bob."""
    path = write_config(tmp_path / "auth.yaml")
    monkeypatch.setenv("RAG_AUTH_CONFIG", str(path))
    return path


def _text_input(app: AppTest, label: str):
    [widget] = [w for w in app.text_input if w.label == label]
    return widget


def _shows_login_form(app: AppTest) -> bool:
    labels = [w.label for w in app.text_input]
    return "Username" in labels and "Password" in labels


def sign_in(app: AppTest, username: str, password: str) -> AppTest:
    """Fill in and submit the sign-in form.

    AppTest runs ``app.py`` on its first run only and the page file directly after it
    (ui/routing.py), and a widget's id includes the script it is drawn from; so the form
    is drawn once more (now by the page's ``require_router``) before it is filled in.
    """
    app.run()
    _text_input(app, "Username").input(username)
    _text_input(app, "Password").input(password)
    [button] = [b for b in app.button if b.label == "Sign in"]
    button.click().run()
    assert not app.exception, app.exception
    return app


def _assistant(app: AppTest):
    return [m for m in app.chat_message if m.name == "assistant"]


def _user_texts(app: AppTest) -> list[str]:
    return [t.value for m in app.chat_message if m.name == "user" for t in m.text]


def _chat_id(app: AppTest) -> str:
    value = app.query_params["chat"]
    return value[0] if isinstance(value, list) else value


@pytest.mark.parametrize("setting", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_login_off_shows_no_form_and_no_account(
    make_app, corpus_kb, fake_ollama, monkeypatch, setting
):
    if setting is None:
        monkeypatch.delenv("RAG_AUTH_CONFIG", raising=False)
    else:
        monkeypatch.setenv("RAG_AUTH_CONFIG", setting)
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    assert not _shows_login_form(app)
    assert len(app.chat_input) == 1
    assert not [c for c in app.sidebar.caption if c.value.startswith("Signed in as")]
    assert not [b for b in app.sidebar.button if b.key == "sign_out"]


def test_the_form_gates_the_app_and_rejects_a_wrong_password(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, auth_config: Path
):
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    assert _shows_login_form(app)
    assert any(s.value == "Sign in" for s in app.subheader)
    assert not app.chat_input and not app.title  # nothing of the Chat page

    sign_in(app, "alice", "not-her-password")
    assert any("Wrong username or password" in e.value for e in app.error)
    assert _shows_login_form(app) and not app.chat_input
    sign_in(app, "mallory", PASSWORDS["alice"])
    assert any("Wrong username or password" in e.value for e in app.error)
    assert not app.chat_input
    assert not app.session_state["authentication_status"]

    app.selectbox(key="ui_language").set_value("ko").run()
    assert {"사용자 이름", "비밀번호"} <= {w.label for w in app.text_input}
    assert any("사용자 이름 또는 비밀번호가 틀렸습니다" in e.value for e in app.error)


def test_signed_in_users_see_only_their_own_chats(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, auth_config: Path
):
    data_dir = corpus_kb.settings.data_dir
    alice = sign_in(make_app(data_dir, fake_ollama.url), "alice", PASSWORDS["alice"])
    assert not _shows_login_form(alice)
    assert not alice.error
    assert any(c.value == "Signed in as Alice Kim" for c in alice.sidebar.caption)
    alice.chat_input[0].set_value(QUESTION).run()
    [answer] = _assistant(alice)
    assert "[1]" in answer.markdown[0].value  # answered through the Ollama server
    assert fake_ollama.chat_requests
    alice_chat = _chat_id(alice)
    alice.run()  # the sidebar's list was drawn before the question was asked
    assert any(escape_markdown(QUESTION[:40]) in b.label for b in alice.sidebar.button)

    # bob, in another session on the same data directory
    bob = sign_in(make_app(data_dir, fake_ollama.url), "bob", PASSWORDS["bob"])
    assert any(c.value == "Signed in as Bob Lee" for c in bob.sidebar.caption)
    assert len(bob.chat_input) == 1
    assert not any(escape_markdown(QUESTION[:40]) in b.label for b in bob.sidebar.button)
    assert not [b for b in bob.sidebar.button if b.key == f"chat_{alice_chat}"]

    # bob opens alice's chat by its id (?chat=...): nothing of it shows
    nosy = make_app(data_dir, fake_ollama.url, query={"chat": alice_chat})
    sign_in(nosy, "bob", PASSWORDS["bob"])
    assert len(nosy.chat_input) == 1
    assert not nosy.chat_message
    assert not nosy.get("download_button")
    # ... and asking there starts a chat of his own instead of writing into hers
    nosy.chat_input[0].set_value("Which class gives a book layout?").run()
    assert _chat_id(nosy) != alice_chat
    history = ChatHistory(data_dir / "chats.sqlite3")
    assert len(history.messages(alice_chat, owner="alice")) == 2
    assert [c.id for c in history.chats(owner="bob")] == [_chat_id(nosy)]

    # alice, signing in again later, finds her chat and opens it
    again = sign_in(make_app(data_dir, fake_ollama.url), "alice", PASSWORDS["alice"])
    [listed] = [b for b in again.sidebar.button if b.key == f"chat_{alice_chat}"]
    assert escape_markdown(QUESTION[:40]) in listed.label
    assert not any("book layout" in b.label for b in again.sidebar.button)
    listed.click().run()
    assert _user_texts(again) == [QUESTION]
    assert len(_assistant(again)) == 1


def test_sign_out_brings_the_form_back(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, auth_config: Path
):
    app = sign_in(make_app(corpus_kb.settings.data_dir, fake_ollama.url), "bob", PASSWORDS["bob"])
    assert len(app.chat_input) == 1
    app.sidebar.button(key="sign_out").click().run()
    assert not app.exception, app.exception
    assert _shows_login_form(app)
    assert not app.chat_input
    assert not app.session_state["authentication_status"]
    sign_in(app, "alice", PASSWORDS["alice"])
    assert any(c.value == "Signed in as Alice Kim" for c in app.sidebar.caption)
    assert len(app.chat_input) == 1


def test_a_user_removed_from_the_config_is_signed_out(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, auth_config: Path
):
    app = sign_in(make_app(corpus_kb.settings.data_dir, fake_ollama.url), "bob", PASSWORDS["bob"])
    assert len(app.chat_input) == 1
    config = yaml.safe_load(auth_config.read_text(encoding="utf-8"))
    del config["credentials"]["usernames"]["bob"]
    auth_config.write_text(yaml.safe_dump(config), encoding="utf-8")
    app.run()
    assert not app.exception, app.exception
    assert _shows_login_form(app) and not app.chat_input
    assert any("no longer valid" in i.value for i in app.info)
    sign_in(app, "bob", PASSWORDS["bob"])
    assert any("Wrong username or password" in e.value for e in app.error)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "the file does not exist"),
        ("credentials: [unclosed\n", "it is not valid YAML"),
        (f"cookie: {{name: c, key: {COOKIE_KEY}, expiry_days: 1}}\n", "lists no users"),
        (
            "credentials: {usernames: {carol: {name: Carol, password: plain-text}}}\n"
            f"cookie: {{name: c, key: {COOKIE_KEY}, expiry_days: 1}}\n",
            "the password of user 'carol' is missing or not a bcrypt hash",
        ),
        ("", "lists no users"),
    ],
    ids=["missing", "not-yaml", "no-users", "plain-password", "empty"],
)
def test_an_unusable_config_stops_with_an_error_naming_the_file(
    make_app, corpus_kb, fake_ollama, tmp_path: Path, monkeypatch, content, expected
):
    path = tmp_path / "auth.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("RAG_AUTH_CONFIG", str(path))
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    [error] = app.error
    assert str(path) in error.value and expected in error.value
    assert "RAG_AUTH_CONFIG" in error.value
    assert not app.chat_input and not _shows_login_form(app)  # no silent "no sign-in"


def _readme_cookie_key() -> str:
    """The cookie key in the documentation's sample sign-in config (docs/deployment.md)."""
    readme = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "cookie:" in b]
    return yaml.safe_load(block)["cookie"]["key"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("short", "has 5 characters; it needs at least 32 random characters"),
        ("x" * 31, "has 31 characters; it needs at least 32 random characters"),
        ("a-long-random-secret", "a sample value from documentation"),  # the old README's
        ("some_signature_key", "a sample value from documentation"),  # the library's README
        ("  Some_Signature_Key ", "a sample value from documentation"),
        ("REPLACE-with-output-of-secrets.token_urlsafe(32)", "a sample value from documentation"),
    ],
    ids=["short", "31-chars", "old-readme-sample", "library-sample", "sample-case", "placeholder"],
)
def test_a_weak_cookie_key_is_refused_with_how_to_make_one(
    make_app, corpus_kb, fake_ollama, tmp_path, monkeypatch, key, expected
):
    path = write_config(tmp_path / "auth.yaml", cookie={"name": "c", "key": key, "expiry_days": 1})
    monkeypatch.setenv("RAG_AUTH_CONFIG", str(path))
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    [error] = app.error
    assert str(path) in error.value and expected in error.value
    assert MAKE_A_KEY in error.value
    assert not app.chat_input and not _shows_login_form(app)


def test_the_documented_sample_cookie_key_is_refused(tmp_path: Path):
    readme_key = _readme_cookie_key()
    assert readme_key.casefold() in SAMPLE_COOKIE_KEYS
    with pytest.raises(AuthConfigError) as refused:
        check_cookie_key(tmp_path / "auth.yaml", readme_key)
    assert refused.value.code == "cookie_key_sample"
    readme = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert f"at least {MIN_COOKIE_KEY_CHARS} characters" in readme
    assert MAKE_A_KEY in readme


def test_a_key_of_32_random_characters_is_enough(tmp_path: Path):
    check_cookie_key(tmp_path / "auth.yaml", COOKIE_KEY)  # what the other tests sign in with
