"""Which Chroma collection holds a collection's vectors, and with which embedding model.

A collection's chunks live in the Chroma collection of the same name until its embedding
model is switched (:mod:`rag_core.ingestion.model_switch`). A switch builds the new
vectors beside the old ones, in a Chroma collection of its own
(``<collection>.vectors-<8 hex digits>``), then moves a pointer: one record (id
``"vectors"``) in the collection's registry collection (``<collection>.registry``,
:mod:`rag_core.index.registry`) naming the Chroma collection and the model identity.
Writing that record is one upsert, so every reader finds either the old index or the new
one, never none and never a half-built one; living in Chroma, the pointer is shared by
every app instance on the same Chroma server, and reading it is one ``get`` by id (about
1 ms), cheap enough to do before every search.

A collection without the record (every collection built before switches existed, or never
switched) keeps its vectors in the Chroma collection of its own name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import chromadb
from chromadb.errors import NotFoundError

from rag_core.config import IMPORT_SUFFIX, REGISTRY_SUFFIX, REINDEX_SUFFIX, VECTORS_MARK
from rag_core.index.registry import registry_collection_name
from rag_core.index.vector_store import store_unavailable

POINTER_ID = "vectors"
"""Id of the registry record that names a collection's vectors."""

_PHYSICAL = re.compile(rf"^(?P<collection>.+){re.escape(VECTORS_MARK)}[0-9a-f]{{8}}$")


@dataclass(frozen=True)
class Vectors:
    """Where a collection's vectors are.

    Attributes:
        physical: the Chroma collection holding them.
        identity: the embedding identity they were made with
            (:func:`rag_core.index.embeddings.embedding_identity`), "" when unknown.
    """

    physical: str
    identity: str


def vectors_name(collection: str, identity: str) -> str:
    """The Chroma collection that holds ``collection``'s vectors of the model ``identity``.

    The same for the same pair, so an interrupted switch finds its staging collection again.

    Args:
        collection: the collection's name.
        identity: the embedding identity.

    Returns:
        ``<collection>.vectors-<first 8 hex digits of sha256(identity)>``.
    """
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{collection}{VECTORS_MARK}{digest}"


def is_vectors_name(name: str) -> bool:
    """True for a Chroma collection that holds switched vectors (see :func:`vectors_name`)."""
    return _PHYSICAL.match(name) is not None


def _registry(client: chromadb.ClientAPI, collection: str) -> chromadb.Collection | None:
    try:
        return client.get_collection(registry_collection_name(collection))
    except NotFoundError:
        return None
    except ValueError:  # older chromadb raises ValueError for a missing collection
        return None
    except Exception as exc:
        raise store_unavailable(exc) from exc


def read_pointer(client: chromadb.ClientAPI, collection: str) -> Vectors | None:
    """The collection's vectors as its pointer record names them (None: no record).

    Args:
        client: the Chroma client.
        collection: the collection's name.

    Raises:
        StoreUnavailableError: the Chroma server stopped answering.
    """
    registry = _registry(client, collection)
    if registry is None:
        return None
    try:
        got = registry.get(ids=[POINTER_ID], include=["metadatas"])
    except NotFoundError:
        return None
    except Exception as exc:
        raise store_unavailable(exc) from exc
    metas = got["metadatas"] or []
    if not metas or not metas[0]:
        return None
    meta: dict[str, Any] = dict(metas[0])
    return Vectors(str(meta.get("physical", "")), str(meta.get("identity", "")))


def current_vectors(client: chromadb.ClientAPI, collection: str) -> Vectors:
    """Where ``collection``'s vectors are now: its pointer, else the collection of its name.

    The identity of an unpointed collection is read from its metadata ("" when the
    collection does not exist yet or records none).

    Raises:
        StoreUnavailableError: the Chroma server stopped answering.
    """
    pointer = read_pointer(client, collection)
    if pointer is not None:
        return pointer
    try:
        meta = client.get_collection(collection).metadata or {}
    except (NotFoundError, ValueError):
        meta = {}
    return Vectors(collection, str(meta.get("embedding_model", "") or ""))


def write_pointer(client: chromadb.ClientAPI, collection: str, vectors: Vectors) -> None:
    """Point ``collection`` at ``vectors`` (one upsert: the atomic step of a switch).

    Raises:
        StoreUnavailableError: the Chroma server stopped answering.
    """
    try:
        registry = client.get_or_create_collection(
            registry_collection_name(collection),
            embedding_function=None,
            metadata={"hnsw:space": "l2"},
        )
        registry.upsert(
            ids=[POINTER_ID],
            embeddings=[[0.0]],
            metadatas=[
                {"kind": POINTER_ID, "physical": vectors.physical, "identity": vectors.identity}
            ],
        )
    except Exception as exc:
        raise store_unavailable(exc) from exc


def logical_collections(client: chromadb.ClientAPI) -> dict[str, chromadb.Collection]:
    """The store's collections by name, each with the Chroma collection of its vectors.

    A switched collection is listed under its own name with the collection its pointer
    names; staging collections, the vectors a switch replaced and the registries are
    left out.

    Raises:
        StoreUnavailableError: the Chroma server stopped answering.
    """
    everything = {c.name: c for c in client.list_collections()}
    out: dict[str, chromadb.Collection] = {}
    for name in everything:
        if name.endswith(REGISTRY_SUFFIX):
            collection = name[: -len(REGISTRY_SUFFIX)]
            pointer = read_pointer(client, collection)
            if pointer is not None and pointer.physical in everything:
                out[collection] = everything[pointer.physical]
    for name, chroma in everything.items():
        if name in out or name.endswith((REGISTRY_SUFFIX, REINDEX_SUFFIX, IMPORT_SUFFIX)):
            continue
        if not is_vectors_name(name):
            out[name] = chroma
    return dict(sorted(out.items()))


def vectors_collections(client: chromadb.ClientAPI, collection: str) -> list[str]:
    """Every Chroma collection holding vectors of ``collection`` (its own name included).

    For deleting a collection with everything in it.
    """
    names = [c.name for c in client.list_collections()]
    return [
        n
        for n in names
        if n == collection or ((m := _PHYSICAL.match(n)) and m["collection"] == collection)
    ]


__all__ = [
    "POINTER_ID",
    "Vectors",
    "current_vectors",
    "is_vectors_name",
    "logical_collections",
    "read_pointer",
    "vectors_collections",
    "vectors_name",
    "write_pointer",
]
