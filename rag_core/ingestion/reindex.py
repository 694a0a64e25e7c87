"""Re-index a store into the configured embedding model (after the model was changed).

For a collection built with another model than the configured one
(:class:`~rag_core.errors.EmbeddingModelMismatchError`): every stored chunk is embedded
again beside the old index, which then gives way at once
(:func:`rag_core.ingestion.model_switch.switch_model`).
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from rag_core.config import Settings
from rag_core.index.embeddings import embedding_identity
from rag_core.ingestion.model_switch import switch_model
from rag_core.ingestion.progress import ProgressCallback


def reindex_into_new_collection(
    settings: Settings,
    embeddings: Embeddings,
    *,
    model_name: str | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout_s: float = 0.0,
    drop_grace_s: float = 0.0,
) -> int:
    """Re-embed every stored chunk with the configured model, then swap to the new index.

    No grace period by default: the old index could not be opened with the configured
    model, so no search of this configuration is using it.

    Args:
        settings: the engine settings (data directory, collection).
        embeddings: the new embedding model.
        model_name: its identity, recorded with the vectors (the setting's if None).
        progress: called with :class:`IngestProgress` events (stage "embed", chunks).
        lock_timeout_s: seconds to wait for another writer.
        drop_grace_s: seconds the old vectors are kept after the swap.

    Returns:
        The number of chunks re-embedded.

    Raises:
        StoreBusyError: another process is writing to the store.
        RagError: the store cannot be read or written.
    """
    identity = model_name or embedding_identity(
        settings.embedding_model, settings.embedding_backend
    )
    return switch_model(
        settings,
        embeddings,
        identity,
        progress=progress,
        lock_timeout_s=lock_timeout_s,
        drop_grace_s=drop_grace_s,
    )


__all__ = ["reindex_into_new_collection"]
