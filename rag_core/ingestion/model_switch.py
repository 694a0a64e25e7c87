"""Switching a collection's embedding model without downtime.

The new index is built beside the old one, which keeps answering (with its own model)
until the new one is complete:

1. **Build.** Every stored chunk (text, metadata, id; no file is parsed again) is read back
   from the collection's current vectors and embedded with the new model into a staging
   Chroma collection (``<collection>.vectors-<hash of the model identity>``,
   :func:`rag_core.index.vectors.vectors_name`). Chunks already in the staging
   collection are skipped: chunk ids are derived from the content, so a run that was
   killed or cancelled continues where it stopped. The embedding runs outside the
   store's write lock; each batch's write takes it briefly, so uploads go on meanwhile.
2. **Catch up and swap**, under the write lock: chunks added or removed during the build
   are brought over, then the collection's pointer (one record in its registry,
   :mod:`rag_core.index.vectors`) is moved to the staging collection in one upsert.
   Every reader, in this process or another app instance on the same Chroma server,
   reads the pointer before each search: it finds the old index or the new one, never
   none and never a half-built one.
3. **Drop the old** vectors after :data:`DROP_GRACE_S` seconds, so that searches that
   read the old pointer just before the swap can finish.

The document list (registry) and the keyword index stay as they are: same chunks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import chromadb
from chromadb.errors import ChromaError, NotFoundError
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.config import Settings
from rag_core.errors import RagError
from rag_core.index.embeddings import embedding_dimension
from rag_core.index.locking import write_lock
from rag_core.index.vector_store import VectorStore, build_chroma_client, iter_stored_chunks
from rag_core.index.vectors import (
    Vectors,
    current_vectors,
    vectors_collections,
    vectors_name,
    write_pointer,
)
from rag_core.ingestion.pipeline import STORE_BATCH, embed_in_batches
from rag_core.ingestion.progress import ProgressCallback, ProgressReporter

logger = logging.getLogger(__name__)

DROP_GRACE_S = 30.0
"""Seconds the replaced vectors are kept after a swap, for searches already under way."""
BATCH_LOCK_TIMEOUT_S = 600.0
"""Seconds a build's batch write waits for an ingest holding the write lock."""


class SwitchCancelledError(RagError):
    """A model switch was cancelled; the staging collection keeps what was built."""


def switch_model(
    settings: Settings,
    embeddings: Embeddings,
    identity: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    lock_timeout_s: float = 0.0,
    batch_size: int = STORE_BATCH,
    drop_grace_s: float = DROP_GRACE_S,
) -> int:
    """Re-embed ``settings.collection`` with another model beside the old index, then swap.

    See the module docstring for the three steps.

    Args:
        settings: the engine settings (data directory, Chroma server, collection).
        embeddings: the new model (loaded, or a lazily loaded one).
        identity: its embedding identity
            (:func:`rag_core.index.embeddings.embedding_identity`).
        progress: called with :class:`~rag_core.ingestion.progress.IngestProgress`
            events: "embed" (chunks done of all), then "swap" and "done".
        cancel: set it to stop the build after the batch under way (what was built stays
            for the next run).
        lock_timeout_s: seconds the swap waits for another writer.
        batch_size: chunks read, embedded and written per round.
        drop_grace_s: seconds the old vectors are kept after the swap.

    Returns:
        The number of chunks embedded by this run (0 when the collection already has
        ``identity``; fewer than all when an earlier run was interrupted).

    Raises:
        SwitchCancelledError: ``cancel`` was set.
        StoreBusyError: another process held the write lock too long.
        EmbeddingModelMismatchError: the staging collection holds vectors of another
            dimension (a model whose files changed).
        RagError: the store cannot be read or written.
    """
    collection = settings.collection
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    old = current_vectors(client, collection)
    if old.identity == identity:
        logger.info("collection %s already has %s", collection, identity)
        return 0
    staging = VectorStore(
        client,
        collection,
        physical=vectors_name(collection, identity),
        model_name=identity,
        dimension=lambda: embedding_dimension(embeddings),
    )
    report = ProgressReporter(f"{collection}: {identity}", progress)
    try:
        _drop_leftovers(client, collection, keep={old.physical, staging.collection.name})
        copy = _Copy(old.physical, staging, embeddings, report, batch_size, cancel)
        copy.run(lock_path=settings.lock_path, prune=False)
        with write_lock(settings.lock_path, timeout_s=lock_timeout_s):
            if current_vectors(client, collection) != old:
                raise RagError(
                    f"the collection '{collection}' was switched by another process "
                    "meanwhile: run the switch again"
                )
            copy.run(lock_path=None, prune=True)  # what was ingested during the build
            write_pointer(client, collection, Vectors(staging.collection.name, identity))
    except (ChromaError, ValueError) as exc:
        raise RagError(f"switching the embedding model failed: {exc}") from exc
    report("swap", 1, 1)
    logger.info("collection %s now answers with %s", collection, identity)
    if old.physical != staging.collection.name:
        time.sleep(drop_grace_s)
        _drop(client, old.physical)
    report("done", 1, 1)
    return copy.embedded


@dataclass
class _Copy:
    """Embeds the chunks of a source collection that the staging collection lacks."""

    source: str
    staging: VectorStore
    embeddings: Embeddings
    report: ProgressReporter
    batch_size: int
    cancel: threading.Event | None
    embedded: int = 0

    def run(self, *, lock_path: Path | None, prune: bool) -> None:
        """One pass over the source; each batch write takes the lock ``lock_path`` if given.

        ``prune`` also removes staged chunks the source no longer has (deleted documents).
        """
        have = set(self.staging.collection.get(include=[])["ids"])
        try:
            source = self.staging.client.get_collection(self.source)
        except NotFoundError:  # an empty collection that was never written
            return
        total = source.count()
        seen: set[str] = set()
        self.report("embed", len(have), total)
        for batch in iter_stored_chunks(source, self.batch_size):
            seen.update(str(c.id) for c in batch)
            todo = [c for c in batch if c.id not in have]
            if todo:
                self._write(todo, lock_path)
            self.report("embed", min(len(seen), total), total)
        if prune and (gone := sorted(have - seen)):
            self.staging.collection.delete(ids=gone)

    def _write(self, chunks: list[Document], lock_path: Path | None) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise SwitchCancelledError("the model switch was cancelled; run it again to resume")
        vectors = embed_in_batches(self.embeddings.embed_documents, chunks)
        if lock_path is None:
            self.staging.upsert(chunks, vectors)
        else:
            with write_lock(lock_path, timeout_s=BATCH_LOCK_TIMEOUT_S):
                self.staging.upsert(chunks, vectors)
        self.embedded += len(chunks)


def _drop(client: chromadb.ClientAPI, name: str) -> None:
    with contextlib.suppress(NotFoundError, ValueError):  # gone: another instance dropped it
        client.delete_collection(name)


def _drop_leftovers(client: chromadb.ClientAPI, collection: str, keep: set[str]) -> None:
    """Drop the vectors of earlier switches that are neither answering nor being resumed."""
    for name in vectors_collections(client, collection):
        if name not in keep:
            logger.info("dropping leftover vectors %s", name)
            _drop(client, name)


__all__ = ["DROP_GRACE_S", "SwitchCancelledError", "switch_model"]
