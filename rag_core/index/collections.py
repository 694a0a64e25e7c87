"""Collection admin: list and delete (re-indexing: :mod:`rag_core.ingestion.reindex`)."""

from __future__ import annotations

import logging
import shutil

from rag_core.config import Settings
from rag_core.index.locking import write_lock
from rag_core.index.registry import registry_collection_name
from rag_core.index.vector_store import build_chroma_client
from rag_core.index.vectors import logical_collections, vectors_collections

logger = logging.getLogger(__name__)


def list_collections(settings: Settings) -> dict[str, int]:
    """Return the store's collections and their chunk counts, by name (sorted).

    Raises:
        StoreUnavailableError: the configured Chroma server cannot be reached.
    """
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    return {name: c.count() for name, c in logical_collections(client).items()}


def stored_embedding_identities(settings: Settings) -> dict[str, int]:
    """The embedding identities the store's collections record, with their chunk counts.

    Each collection keeps the identity of the vectors it holds in its metadata
    (``embedding_model``, :func:`rag_core.index.embeddings.embedding_identity`); a
    re-index in progress and the document lists are left out. A store that does not
    exist yet has none (and is not created).

    Raises:
        StoreUnavailableError: the configured Chroma server cannot be reached.
    """
    if not settings.chroma_url and not settings.chroma_dir.exists():
        return {}
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    out: dict[str, int] = {}
    for collection in logical_collections(client).values():
        identity = (collection.metadata or {}).get("embedding_model")
        if identity:
            out[str(identity)] = out.get(str(identity), 0) + collection.count()
    return out


def delete_collection(settings: Settings, name: str, *, lock_timeout_s: float = 0.0) -> bool:
    """Delete the collection ``name``: its chunks, BM25 index, document list and originals.

    Args:
        settings: any settings of the store (``collection`` is ignored).
        name: the collection to delete.
        lock_timeout_s: seconds to wait for another writer.

    Returns:
        True if the collection existed.

    Raises:
        StoreBusyError: another process is writing to the store.
        StoreUnavailableError: the configured Chroma server cannot be reached.
        pydantic.ValidationError: ``name`` is not a valid collection name.
    """
    target = settings.model_copy(update={"collection": name})
    target = Settings.model_validate(target.model_dump())  # validates the name
    client = build_chroma_client(target.chroma_dir, target.chroma_url)
    with write_lock(target.lock_path, timeout_s=lock_timeout_s):
        existed = name in logical_collections(client)
        names = {c.name for c in client.list_collections()}
        for doomed in (*vectors_collections(client, name), registry_collection_name(name)):
            if doomed in names:
                client.delete_collection(doomed)
        shutil.rmtree(target.keyword_index_dir / name, ignore_errors=True)
        if target.collection_dir != target.data_dir:
            shutil.rmtree(target.collection_dir, ignore_errors=True)
        else:  # the default collection lives at the top of the data directory
            for legacy in target.data_dir.glob(target.registry_path.name + "*"):
                legacy.unlink(missing_ok=True)
            shutil.rmtree(target.files_dir, ignore_errors=True)
    logger.info("deleted collection %s (existed: %s)", name, existed)
    return existed
