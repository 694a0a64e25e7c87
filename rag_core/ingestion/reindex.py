"""Re-index a store into a new embedding model: every stored chunk embedded again.

The chunks (text and metadata, BM25 terms included) are read back from the collection and
embedded with the configured model through the ingest pipeline's batching, into a new
collection that then replaces the old one.
"""

from __future__ import annotations

import logging

from chromadb.errors import ChromaError
from langchain_core.embeddings import Embeddings

from rag_core.config import REINDEX_SUFFIX, Settings
from rag_core.errors import RagError
from rag_core.index.embeddings import embedding_dimension, embedding_identity
from rag_core.index.locking import write_lock
from rag_core.index.vector_store import VectorStore, build_chroma_client, iter_stored_chunks
from rag_core.ingestion.pipeline import STORE_BATCH, embed_in_batches
from rag_core.ingestion.progress import ProgressCallback, ProgressReporter

logger = logging.getLogger(__name__)


def reindex_into_new_collection(
    settings: Settings,
    embeddings: Embeddings,
    *,
    model_name: str | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout_s: float = 0.0,
) -> int:
    """Re-embed every stored chunk with another model, into a collection that replaces the old.

    It is longer than 60 lines because the staging, copy and rename steps must all run
    under one write lock, in this order, to survive a kill at any point.

    For a store built with another embedding model (:class:`EmbeddingModelMismatchError`).
    The chunk texts, ids and metadata are read back from the old collection (no file is
    parsed again) and embedded into a staging collection ``<collection>-reindex``; only when
    it is complete is the old collection deleted and the staging one renamed to
    ``settings.collection``. The registry and the BM25 index stay as they are (same chunk
    ids and texts). An interrupted run leaves the old collection intact and is restarted
    from scratch by the next call.

    Args:
        settings: the engine settings (data directory, collection).
        embeddings: the new embedding model.
        model_name: its name, recorded in the collection metadata (the setting if None).
        progress: called with :class:`IngestProgress` events (stage "embed", chunks).
        lock_timeout_s: seconds to wait for another writer.

    Returns:
        The number of chunks re-embedded.

    Raises:
        StoreBusyError: another process is writing to the store.
        RagError: the store cannot be read or written.
    """
    name = model_name or embedding_identity(settings.embedding_model, settings.embedding_backend)
    staging = f"{settings.collection}{REINDEX_SUFFIX}"
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    report = ProgressReporter(f"re-index with {name}", progress)
    done = 0
    with write_lock(settings.lock_path, timeout_s=lock_timeout_s):
        existing = {c.name for c in client.list_collections()}
        if staging in existing and settings.collection not in existing:
            # killed between deleting the old collection and renaming the new one
            client.get_collection(staging).modify(name=settings.collection)
            return 0
        if staging in existing:
            client.delete_collection(staging)  # a partial earlier run
        try:
            target = VectorStore(
                client, staging, model_name=name, dimension=lambda: embedding_dimension(embeddings)
            )
            if settings.collection in existing:
                source = client.get_collection(settings.collection)
                total = source.count()
                report("embed", 0, total)
                for batch in iter_stored_chunks(source, STORE_BATCH):
                    vectors = embed_in_batches(embeddings.embed_documents, batch)
                    target.upsert(batch, vectors)
                    done += len(batch)
                    report("embed", done, total)
                client.delete_collection(settings.collection)
            client.get_collection(staging).modify(name=settings.collection)
        except (ChromaError, ValueError) as exc:
            raise RagError(f"re-indexing into a new collection failed: {exc}") from exc
    logger.info("re-indexed collection %s with %s", settings.collection, name)
    report("done", 1, 1)
    return done


__all__ = ["reindex_into_new_collection"]
