"""Who may do what, in the app (sign-in on): readers, non-members, owners and their panel."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit_authenticator as stauth
import yaml
from langchain_core.embeddings import Embeddings
from streamlit.testing.v1 import AppTest

from rag_core.access import AccessControl, Role
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer
from tests.ui.test_login import COOKIE_KEY, sign_in

PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-2", "carol": "carol-secret-3"}
WALRUS = b"Walruses live in the Arctic and have long tusks."


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sign-in config with alice, bob (group team-a) and carol (bcrypt hashed once)."""
    users = {
        name: {"name": name.title(), "password": stauth.Hasher.hash(password)}
        for name, password in PASSWORDS.items()
    }
    users["bob"]["groups"] = ["team-a"]
    config = {
        "credentials": {"usernames": users},
        "cookie": {"name": "rag_login", "key": COOKIE_KEY, "expiry_days": 1},
    }
    path = tmp_path_factory.mktemp("auth") / "auth.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def shared(
    tmp_path: Path, embeddings: Embeddings, auth_file: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A data directory where alice owns 'team' (bob reads it) and 'secret' (hers alone).

    The configured collection is 'team'; sign-in is on.
    """
    monkeypatch.setenv("RAG_AUTH_CONFIG", str(auth_file))
    monkeypatch.setenv("RAG_COLLECTION", "team")
    data = tmp_path / "data"
    for name in ("team", "secret"):
        kb = KnowledgeBase(settings_for(data, collection=name), embeddings)
        assert kb.ingest_bytes(f"{name}-walrus.txt", WALRUS).status == "indexed"
    access = AccessControl(settings_for(data, auth_config=auth_file))
    access.share("team", "alice", Role.OWNER)
    access.share("team", "bob", Role.READER)
    access.share("secret", "alice", Role.OWNER)
    return data


def documents_page(make_app, data: Path, ollama: str, user: str) -> AppTest:
    app = sign_in(make_app(data, ollama), user, PASSWORDS[user])
    app.switch_page("pages/documents.py").run()
    assert not app.exception, app.exception
    return app


def picker_options(app: AppTest) -> list[str]:
    pickers = [s for s in app.sidebar.selectbox if s.key == "collection"]
    return list(pickers[0].options) if pickers else []


def test_a_reader_sees_the_documents_but_no_upload_or_delete(
    make_app, shared: Path, auth_file: Path, fake_ollama: FakeOllamaServer
):
    app = documents_page(make_app, shared, fake_ollama.url, "bob")
    assert list(app.dataframe[0].value["Name"]) == ["team-walrus.txt"]
    assert not app.get("file_uploader")
    assert not [w for w in app.text_input if w.key == "pdf_password"]
    assert not [m for m in app.multiselect if m.key == "delete_names"]
    assert any("You are a reader" in i.value and "alice" in i.value for i in app.info)
    assert not [e for e in app.expander if "Members of" in e.label]  # the owner's panel

    # made an editor by the owner, he gets the uploader and the delete control
    AccessControl(settings_for(shared, auth_config=auth_file)).share(
        "team", "team-a", Role.EDITOR, group=True
    )
    app.run()
    assert len(app.get("file_uploader")) == 1
    assert [m for m in app.multiselect if m.key == "delete_names"]


def test_a_non_member_does_not_see_the_collection_anywhere(
    make_app, shared: Path, auth_file: Path, fake_ollama: FakeOllamaServer
):
    alice = documents_page(make_app, shared, fake_ollama.url, "alice")
    assert picker_options(alice) == ["secret", "team"]

    bob = documents_page(make_app, shared, fake_ollama.url, "bob")
    assert picker_options(bob) == []  # 'team' alone: no picker, no 'secret'
    assert not [m for m in bob.sidebar.multiselect if m.key == "also_search"]
    bob.switch_page("pages/chat.py").run()
    assert not bob.exception and not bob.error
    assert not [m for m in bob.sidebar.multiselect if m.key == "also_search"]

    # once alice shares it, 'secret' shows up for him, in the picker and in "Also search in"
    AccessControl(settings_for(shared, auth_config=auth_file)).share("secret", "bob", Role.READER)
    bob.run()
    assert picker_options(bob) == ["secret", "team"]
    [also] = [m for m in bob.sidebar.multiselect if m.key == "also_search"]
    assert list(also.options) == ["secret"]


def test_a_member_of_nothing_is_told_so_and_owns_what_they_create(
    make_app, shared: Path, auth_file: Path, fake_ollama: FakeOllamaServer
):
    carol = sign_in(make_app(shared, fake_ollama.url), "carol", PASSWORDS["carol"])
    assert any("not a member of any collection" in i.value for i in carol.info)
    assert not carol.chat_input  # the Chat page stops there: nothing to search
    carol.switch_page("pages/documents.py").run()
    assert any("not a member of any collection" in i.value for i in carol.info)
    assert not carol.get("file_uploader") and not carol.dataframe
    carol.text_input[-1].input("mine")
    [create] = [b for b in carol.button if b.label == "Create and switch to it"]
    create.click().run()
    assert not carol.exception, carol.exception
    assert len(carol.get("file_uploader")) == 1  # her own collection
    access = AccessControl(settings_for(shared, auth_config=auth_file))
    assert access.owner("mine") == "carol"
    carol.switch_page("pages/chat.py").run()
    assert not carol.exception and not carol.error


def test_the_owner_adds_and_removes_members_in_the_members_panel(
    make_app, shared: Path, auth_file: Path, fake_ollama: FakeOllamaServer
):
    access = AccessControl(settings_for(shared, auth_config=auth_file))
    app = documents_page(make_app, shared, fake_ollama.url, "alice")
    assert [e for e in app.expander if e.label == "Members of team"]
    assert list(app.dataframe[-1].value["Name"]) == ["alice", "bob"]

    who = app.selectbox(key="member_who")
    assert ("alice", False) not in who.options  # the owner is not offered
    who.set_value(("team-a", True))
    app.selectbox(key="member_role").set_value(Role.EDITOR)
    [add] = [b for b in app.button if b.label == "Add member"]
    add.click().run()
    assert not app.exception, app.exception
    assert access.role(access.caller_for("bob"), "team") is Role.EDITOR  # via team-a
    assert list(app.dataframe[-1].value["Name"]) == ["alice", "bob", "team-a"]

    app.selectbox(key="member_remove").set_value(("bob", False))
    [remove] = [b for b in app.button if b.label == "Remove member"]
    remove.click().run()
    assert not app.exception, app.exception
    assert [m.name for m in access.members("team")] == ["alice", "team-a"]
