"""The engine applies who may do what on every entry point (the door every client uses)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.access import Role
from rag_core.engine import Engine
from rag_core.errors import CollectionNotFoundError, PermissionDeniedError
from tests.conftest import settings_for
from tests.rag_core.test_access import write_auth

WALRUS = b"Walruses live in the Arctic and have long tusks."


@pytest.fixture
def engine(tmp_path: Path, embeddings: Embeddings) -> Engine:
    """An engine with sign-in on (alice, bob in team-a, carol, dave) on an empty store."""
    auth = write_auth(tmp_path / "auth.yaml")
    return Engine(settings_for(tmp_path / "data", auth_config=auth), embeddings)


def test_the_first_uploader_owns_the_collection_and_others_meet_its_roles(engine: Engine):
    access = engine.access
    alice, bob, carol, dave = (access.caller_for(u) for u in ("alice", "bob", "carol", "dave"))
    result = engine.ingest("walrus.txt", WALRUS, "team", caller=alice)
    assert result.status == "indexed"
    assert access.owner("team") == "alice"
    access.share("team", "team-a", Role.READER, group=True)
    access.share("team", "carol", Role.EDITOR)

    # bob reads through his group, but cannot write
    assert [d.name for d in engine.documents("team", caller=bob)] == ["walrus.txt"]
    assert engine.search("walrus tusks", "team", translate=False, caller=bob).citations
    with pytest.raises(PermissionDeniedError):
        engine.ingest("more.txt", b"Seals live there too.", "team", caller=bob)
    with pytest.raises(PermissionDeniedError):
        engine.delete_document("walrus.txt", "team", caller=bob)
    # carol writes, but cannot delete the collection
    assert engine.ingest("seal.txt", b"Seals swim.", "team", caller=carol).status == "indexed"
    with pytest.raises(PermissionDeniedError):
        engine.delete_collection("team", caller=carol)
    # dave is no member: the collection does not exist for him
    assert "team" not in engine.collections(caller=dave)
    assert "team" in engine.collections(caller=bob)
    with pytest.raises(CollectionNotFoundError):
        engine.documents("team", caller=dave)
    with pytest.raises(CollectionNotFoundError):
        engine.ingest("x.txt", b"Dave was here.", "team", caller=dave)
    assert access.owner("team") == "alice"  # a refused write claims nothing

    # the owner deletes it; the name starts afresh for the next creator
    assert engine.delete_collection("team", caller=alice)
    assert access.members("team") == []
    engine.ingest("walrus.txt", WALRUS, "team", caller=dave)
    assert access.owner("team") == "dave"


def test_the_local_user_is_never_refused(engine: Engine):
    alice = engine.access.caller_for("alice")
    engine.ingest("walrus.txt", WALRUS, "hers", caller=alice)
    assert engine.documents("hers")  # caller None: the CLI, the single-user app
    assert "hers" in engine.collections()
    assert engine.ingest("cli.txt", b"Made by the CLI.", "by-cli").status == "indexed"
    assert engine.access.owner("by-cli") is None  # nobody owns what the local user made
