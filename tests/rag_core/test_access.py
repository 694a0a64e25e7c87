"""Who may do what (rag_core.access): roles per collection, groups, API keys, one store."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest
import yaml

from rag_core.access import ACCESS_FILE, AccessControl, Action, Caller, Role
from rag_core.config import Settings
from rag_core.errors import (
    AuthenticationError,
    CollectionNotFoundError,
    PermissionDeniedError,
    RagError,
)
from tests.conftest import settings_for

USERS = {
    "alice": {"name": "Alice Kim", "password": "$2b$12$x"},
    "Bob": {"name": "Bob Lee", "password": "$2b$12$x", "groups": ["Team-A"]},
    "carol": {"name": "Carol", "password": "$2b$12$x", "roles": ["viewer"], "groups": "ops"},
    "dave": {"name": "Dave", "password": "$2b$12$x"},
}


def write_auth(path: Path, users: dict | None = None) -> Path:
    """A sign-in config (streamlit-authenticator YAML; the hashes are not checked here)."""
    config = {
        "credentials": {"usernames": users if users is not None else USERS},
        "cookie": {"name": "c", "key": "k" * 32, "expiry_days": 1},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Store:
    """Stands in for the Chroma store's list of collections (a set of names)."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)

    def __call__(self, name: str) -> bool:
        return name in self.names


@pytest.fixture
def signed_in(tmp_path: Path) -> Settings:
    """Settings with sign-in on (alice, bob in team-a, carol in viewer and ops, dave)."""
    return settings_for(tmp_path / "data", auth_config=write_auth(tmp_path / "auth.yaml"))


def access_for(settings: Settings, store: Store | None = None) -> AccessControl:
    return AccessControl(settings, exists=store or Store())


def caller(access: AccessControl, user: str) -> Caller:
    return access.caller_for(user)


def test_roles_owner_editor_reader_and_none(signed_in: Settings):
    access = access_for(signed_in)
    alice, bob, carol, dave = (caller(access, u) for u in ("alice", "bob", "carol", "dave"))
    access.created(alice, "team")
    access.share("team", "bob", Role.EDITOR)
    access.share("team", "carol", Role.READER)

    assert access.owner("team") == "alice"
    assert [access.role(c, "team") for c in (alice, bob, carol, dave)] == [
        Role.OWNER,
        Role.EDITOR,
        Role.READER,
        None,
    ]
    for action in Action:
        access.require(alice, "team", action)  # the owner may do everything
    access.require(bob, "team", Action.WRITE)
    with pytest.raises(PermissionDeniedError, match="owner"):
        access.require(bob, "team", Action.MANAGE)
    access.require(carol, "team", Action.READ)
    with pytest.raises(PermissionDeniedError, match="reader"):
        access.require(carol, "team", Action.WRITE)
    with pytest.raises(PermissionDeniedError):
        access.require(carol, "team", Action.MANAGE)
    for action in Action:  # not a member: the collection does not exist for dave
        with pytest.raises(CollectionNotFoundError, match="no collection named 'team'"):
            access.require(dave, "team", action)
    assert access.readable(dave, ["team"]) == []
    assert access.readable(carol, ["team"]) == ["team"]


def test_a_non_members_404_says_nothing_a_missing_collection_would_not(signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "secret")
    access.created(caller(access, "alice"), "other")
    dave = caller(access, "dave")
    with pytest.raises(CollectionNotFoundError) as hidden:
        access.require(dave, "secret", Action.READ)
    assert str(hidden.value) == "no collection named 'secret'"
    assert "alice" not in str(hidden.value)


def test_group_grants_come_from_the_sign_in_config(signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "team")
    bob, carol = caller(access, "BOB"), caller(access, "carol")
    assert bob == Caller("bob", frozenset({"team-a"}))  # names in lower case
    assert carol.groups == {"viewer", "ops"}  # streamlit-authenticator's roles: count too
    assert access.role(bob, "team") is None

    access.share("team", "Team-A", Role.READER, group=True)
    assert access.role(bob, "team") is Role.READER
    assert access.role(carol, "team") is None
    access.share("team", "viewer", Role.EDITOR, group=True)
    assert access.role(carol, "team") is Role.EDITOR  # via roles:
    access.share("team", "bob", Role.EDITOR)  # the highest of user and group roles wins
    assert access.role(bob, "team") is Role.EDITOR
    access.unshare("team", "bob")
    assert access.role(bob, "team") is Role.READER
    assert access.unshare("team", "team-a", group=True)
    assert access.role(bob, "team") is None
    assert not access.unshare("team", "team-a", group=True)  # had no role any more
    # a group of the same name as a user gives that user nothing
    access.share("team", "dave", Role.EDITOR, group=True)
    assert access.role(caller(access, "dave"), "team") is None


def test_groups_follow_edits_of_the_sign_in_config(signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "team")
    access.share("team", "ops", Role.READER, group=True)
    assert access.role(caller(access, "dave"), "team") is None
    users = dict(USERS, dave={"name": "Dave", "password": "$2b$12$x", "groups": ["ops", "x"]})
    write_auth(signed_in.auth_config, users)
    assert access.caller_for("dave").groups == {"ops", "x"}
    assert access.role(caller(access, "dave"), "team") is Role.READER


def test_a_broken_sign_in_config_gives_no_groups(signed_in: Settings):
    signed_in.auth_config.write_text("credentials: [unclosed", encoding="utf-8")
    access = access_for(signed_in)
    assert access.caller_for("bob") == Caller("bob", frozenset())


def test_an_ownerless_collection_is_open_to_every_signed_in_user_as_editor(
    signed_in: Settings,
):
    store = Store("legacy")  # made before permissions existed
    access = access_for(signed_in, store)
    dave = caller(access, "dave")
    access.created(dave, "legacy")  # writing to it does not make dave its owner
    assert access.owner("legacy") is None
    assert access.role(dave, "legacy") is Role.EDITOR
    access.require(dave, "legacy", Action.WRITE)
    with pytest.raises(PermissionDeniedError):
        access.require(dave, "legacy", Action.MANAGE)
    assert access.readable(dave, ["legacy"]) == ["legacy"]

    access.share("legacy", "alice", Role.OWNER)  # from now on it is alice's
    assert access.role(dave, "legacy") is None
    assert access.role(caller(access, "alice"), "legacy") is Role.OWNER


def test_the_first_writer_of_a_new_collection_owns_it(signed_in: Settings):
    store = Store()
    access = access_for(signed_in, store)
    alice, bob = caller(access, "alice"), caller(access, "bob")
    access.created(alice, "fresh")
    store.names.add("fresh")
    access.created(bob, "fresh")  # too late: alice owns it
    assert access.owner("fresh") == "alice"
    assert access.role(bob, "fresh") is None
    access.created(None, "cli-made")  # the local user records no owner
    assert access.owner("cli-made") is None


def test_the_owner_can_hand_over_but_not_drop_ownership(signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "team")
    with pytest.raises(ValueError, match="alice owns 'team'"):
        access.share("team", "alice", Role.READER)
    with pytest.raises(ValueError, match="alice owns 'team'"):
        access.unshare("team", "alice")
    with pytest.raises(ValueError, match="not a group"):
        access.share("team", "team-a", Role.OWNER, group=True)

    access.share("team", "Bob", Role.OWNER)
    assert access.owner("team") == "bob"
    assert access.role(caller(access, "alice"), "team") is Role.EDITOR  # stays an editor
    assert [m.to_dict() for m in access.members("team")] == [
        {"name": "bob", "role": "owner", "group": False},
        {"name": "alice", "role": "editor", "group": False},
    ]


def test_members_lists_owner_users_then_groups(signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "team")
    access.share("team", "team-a", Role.READER, group=True)
    access.share("team", "dave", Role.READER)
    access.share("team", "carol", Role.EDITOR)
    access.share("team", "dave", Role.EDITOR)  # replaces dave's role
    listed = [(m.name, m.role, m.group) for m in access.members("team")]
    assert listed == [
        ("alice", Role.OWNER, False),
        ("carol", Role.EDITOR, False),
        ("dave", Role.EDITOR, False),
        ("team-a", Role.READER, True),
    ]
    assert access.members("nobody-shared-this") == []


def test_forget_lets_a_new_collection_of_that_name_start_afresh(signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "team")
    access.share("team", "bob", Role.READER)
    access.forget("team")
    assert access.members("team") == []
    access.created(caller(access, "dave"), "team")
    assert access.owner("team") == "dave"
    assert access.role(caller(access, "bob"), "team") is None


def test_the_local_user_and_sign_in_off_may_do_everything(tmp_path: Path, signed_in: Settings):
    access = access_for(signed_in)
    access.created(caller(access, "alice"), "team")
    assert access.enabled
    assert access.role(None, "team") is Role.OWNER  # the CLI, the local app
    for action in Action:
        access.require(None, "team", action)
    assert access.readable(None, ["team", "x"]) == ["team", "x"]

    # the same store, sign-in off: one local user, everyone may do everything
    single = access_for(signed_in.model_copy(update={"auth_config": None}))
    assert not single.enabled
    dave = Caller("dave")
    assert single.role(dave, "team") is Role.OWNER
    for action in Action:
        single.require(dave, "team", action)
    single.created(dave, "new")
    assert single.owner("new") is None  # nothing is recorded
    assert single.caller_for("Dave") == Caller("dave")


def test_created_asks_the_real_store(tmp_path: Path, signed_in: Settings):
    from rag_core.index.vector_store import build_chroma_client

    client = build_chroma_client(signed_in.chroma_dir)
    client.create_collection("legacy")
    access = AccessControl(signed_in)  # the default check: the Chroma store
    assert access.in_store("legacy") and not access.in_store("fresh")
    access.created(caller(access, "alice"), "legacy")
    access.created(caller(access, "alice"), "fresh")
    assert access.owner("legacy") is None
    assert access.owner("fresh") == "alice"


def test_keys_authenticate_their_user_with_groups_and_store_only_a_hash(signed_in: Settings):
    access = access_for(signed_in)
    key = access.create_key("Bob")
    assert key.startswith("rag_") and len(key) >= 4 + 43
    assert access.authenticate(key) == Caller("bob", frozenset({"team-a"}))
    assert access.authenticate(f"  {key}\n") == Caller("bob", frozenset({"team-a"}))
    [info] = access.keys()
    assert (info.user, info.revoked) == ("bob", False)
    assert info.last_used is not None  # set by authenticate
    assert key not in info.to_dict().values()

    raw = (signed_in.data_dir / ACCESS_FILE).read_bytes()
    assert key.encode() not in raw and key[4:].encode() not in raw
    with sqlite3.connect(signed_in.data_dir / ACCESS_FILE) as db:
        [(digest,)] = db.execute("SELECT digest FROM api_keys").fetchall()
    assert digest == hashlib.sha256(key.encode()).hexdigest()


@pytest.mark.parametrize("token", [None, "", "   ", "rag_not-a-key", "Bearer"])
def test_missing_and_unknown_keys_are_refused(signed_in: Settings, token):
    access = access_for(signed_in)
    access.create_key("alice")
    with pytest.raises(AuthenticationError):
        access.authenticate(token)


def test_a_revoked_key_is_refused_and_other_keys_still_work(signed_in: Settings):
    access = access_for(signed_in)
    first, second = access.create_key("alice"), access.create_key("alice")
    other = access.create_key("dave")
    ids = {k.user: k.id for k in access.keys(None)}
    first_id, second_id = access.identify(first).id, access.identify(second).id
    assert [k.id for k in access.keys("ALICE")] == [first_id, second_id]  # oldest first
    assert access.revoke_key(first_id)
    assert not access.revoke_key(first_id)  # already revoked
    assert not access.revoke_key("no-such-id")
    with pytest.raises(AuthenticationError, match="revoked"):
        access.authenticate(first)
    assert access.authenticate(second).user == "alice"
    assert access.authenticate(other).user == "dave"
    assert {(k.id, k.revoked) for k in access.keys("alice")} == {
        (first_id, True),
        (second_id, False),
    }
    assert access.identify(first).revoked and not access.identify(second).revoked
    assert access.identify("rag_unknown") is None
    assert [k.id for k in access.keys("dave")] == [ids["dave"]]


def test_keys_need_a_user_of_the_sign_in_config(signed_in: Settings):
    access = access_for(signed_in)
    with pytest.raises(ValueError, match="no user 'mallory'"):
        access.create_key("mallory")
    key = access.create_key("dave")
    users = {name: entry for name, entry in USERS.items() if name != "dave"}
    write_auth(signed_in.auth_config, users)  # dave removed from the config
    with pytest.raises(AuthenticationError, match="dave"):
        access.authenticate(key)


def test_two_instances_share_roles_and_keys_like_two_processes(signed_in: Settings):
    app, api = access_for(signed_in), access_for(signed_in)
    app.created(app.caller_for("alice"), "team")
    key = api.create_key("carol")
    carol = app.authenticate(key)
    assert api.role(carol, "team") is None
    app.share("team", "carol", Role.READER)
    assert api.role(carol, "team") is Role.READER
    [info] = app.keys()
    assert api.revoke_key(info.id)
    with pytest.raises(AuthenticationError):
        app.authenticate(key)


def test_concurrent_writers_from_threads_lose_nothing(signed_in: Settings):
    access = access_for(signed_in)
    access.created(access.caller_for("alice"), "team")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            other = access_for(signed_in)  # its own instance, as another process has
            for i in range(10):
                other.share("team", f"user{n}-{i}", Role.READER)
                other.create_key("alice")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(access.members("team")) == 1 + 40
    assert len(access.keys("alice")) == 40


def test_an_unusable_access_store_is_a_rag_error(tmp_path: Path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    access = AccessControl(settings_for(blocker), exists=Store())
    with pytest.raises(RagError, match="access store"):
        access.keys()
