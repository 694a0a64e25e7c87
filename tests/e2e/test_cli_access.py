"""The access commands of the CLI: keys create / list / revoke, share, members."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag_core.__main__ import main
from rag_core.access import AccessControl, Role
from rag_core.errors import AuthenticationError
from rag_core.index.vector_store import build_chroma_client
from tests.conftest import REPO, settings_for
from tests.rag_core.test_access import write_auth


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory with the collection 'team' in its store; sign-in on (alice, bob)."""
    monkeypatch.setenv("RAG_AUTH_CONFIG", str(write_auth(tmp_path / "auth.yaml")))
    data = tmp_path / "data"
    build_chroma_client(data / "chroma").create_collection("team")
    return data


def cli(data: Path, *args: str) -> int:
    return main(["--data-dir", str(data), *args])


def access(data: Path) -> AccessControl:
    return AccessControl(settings_for(data))


def test_keys_create_prints_the_key_once_and_list_and_revoke_use_its_id(data: Path, capsys):
    assert cli(data, "keys", "create", "--user", "Bob") == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("rag_") and "\n" not in key
    assert access(data).authenticate(key).user == "bob"
    [info] = access(data).keys()
    assert f"API key {info.id} for bob" in err

    assert cli(data, "keys", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["id"], k["user"], k["revoked"]) for k in listed] == [(info.id, "bob", False)]
    assert key not in json.dumps(listed)
    assert cli(data, "keys", "list", "--user", "alice") == 0
    assert capsys.readouterr().out.strip() == "no API keys"

    assert cli(data, "keys", "revoke", info.id) == 0
    assert f"revoked API key {info.id}" in capsys.readouterr().out
    with pytest.raises(AuthenticationError):
        access(data).authenticate(key)
    assert cli(data, "keys", "revoke", info.id) == 1  # nothing left to revoke
    assert cli(data, "keys", "list") == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{info.id}\tbob\tcreated ") and line.endswith("\trevoked")


def test_keys_create_refuses_a_user_the_sign_in_config_does_not_list(data: Path, capsys):
    assert cli(data, "keys", "create", "--user", "mallory") == 2
    assert "no user 'mallory'" in capsys.readouterr().err
    assert access(data).keys() == []


def test_share_gives_takes_and_lists_roles(data: Path, capsys):
    assert cli(data, "share", "team", "Alice", "--role", "owner") == 0
    assert cli(data, "share", "team", "bob", "--role", "reader") == 0
    assert cli(data, "share", "team", "Team-A", "--role", "editor", "--group") == 0
    capsys.readouterr()
    control = access(data)
    assert control.owner("team") == "alice"
    assert control.role(control.caller_for("bob"), "team") is Role.EDITOR  # via team-a

    assert cli(data, "members", "team", "--json") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "alice", "role": "owner", "group": False},
        {"name": "bob", "role": "reader", "group": False},
        {"name": "team-a", "role": "editor", "group": True},
    ]
    assert cli(data, "share", "team", "--list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "alice\towner",
        "bob\treader",
        "team-a\teditor\tgroup",
    ]

    assert cli(data, "share", "team", "team-a", "--remove", "--group") == 0
    assert control.role(control.caller_for("bob"), "team") is Role.READER
    assert cli(data, "share", "team", "team-a", "--remove", "--group") == 1
    assert cli(data, "share", "team", "alice", "--remove") == 2  # the owner stays
    assert "alice owns 'team'" in capsys.readouterr().err
    assert control.owner("team") == "alice"


def test_share_refuses_an_unknown_collection_and_notes_an_ownerless_one(data: Path, capsys):
    assert cli(data, "share", "nope", "bob", "--role", "reader") == 1
    assert "no collection named 'nope'" in capsys.readouterr().err
    assert access(data).members("nope") == []

    assert cli(data, "share", "team", "bob", "--role", "reader") == 0
    assert "has no owner" in capsys.readouterr().err  # the role applies once it has one


def test_delete_collection_forgets_its_members(data: Path, capsys):
    assert cli(data, "share", "team", "alice", "--role", "owner") == 0
    assert cli(data, "delete-collection", "team") == 0
    assert access(data).members("team") == []


def test_a_key_made_by_the_cli_works_in_another_process(data: Path):
    command = ["keys", "create", "--user", "alice"]
    made = subprocess.run(
        [sys.executable, "-m", "rag_core", "--data-dir", str(data), *command],
        cwd=REPO,
        env=dict(os.environ),  # RAG_AUTH_CONFIG from the fixture
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    key = made.stdout.strip()
    assert access(data).authenticate(key).user == "alice"
