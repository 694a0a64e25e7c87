"""Who may export and import a collection, through the engine (sign-in on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.access import Role
from rag_core.engine import Engine
from rag_core.errors import CollectionNotFoundError, PermissionDeniedError
from tests.conftest import settings_for
from tests.rag_core.test_access import write_auth


def test_readers_export_and_importing_makes_the_caller_owner(
    tmp_path: Path, embeddings: Embeddings
):
    auth = write_auth(tmp_path / "auth.yaml")
    engine = Engine(settings_for(tmp_path / "data", auth_config=auth), embeddings)
    alice, bob, dave = (engine.access.caller_for(u) for u in ("alice", "bob", "dave"))
    engine.ingest("walrus.txt", b"Walruses live in the Arctic.", "team", caller=alice)
    engine.access.share("team", "bob", Role.READER)
    archive = tmp_path / "team.zip"

    with pytest.raises(CollectionNotFoundError):  # no member: no such collection for him
        engine.export_collection("team", archive, caller=dave)
    assert not archive.exists()
    info = engine.export_collection("team", archive, caller=bob)  # a reader may read it all
    assert info.documents == 1 and info.chunks == 1

    # dave imports it as a collection of his own, which he then owns
    assert engine.import_collection(archive, name="daves", caller=dave).collection == "daves"
    assert engine.access.owner("daves") == "dave"
    assert [d.name for d in engine.documents("daves", caller=dave)] == ["walrus.txt"]
    # bob may not write into the (emptied) team collection; dave not even see it
    engine.delete_document("walrus.txt", "team", caller=alice)
    with pytest.raises(PermissionDeniedError):
        engine.import_collection(archive, name="team", caller=bob)
    with pytest.raises(CollectionNotFoundError):
        engine.import_collection(archive, name="team", caller=dave)
    assert engine.documents("team", caller=alice) == []
    # its owner may restore it into the empty collection
    engine.import_collection(archive, caller=alice)
    assert [d.name for d in engine.documents("team", caller=alice)] == ["walrus.txt"]
    assert engine.search("walrus", "team", translate=False, caller=alice).citations
