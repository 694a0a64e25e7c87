"""The embedding models of the collections' recorded identities, loaded once per process.

A collection answers with the model its vectors were made with (the identity its vectors
record, :mod:`rag_core.index.vectors`), which is not always the configured one: while a
switch builds a collection's new index, the old one still answers with the old model, and
collections switched one by one can use different models. This shelf keeps one lazily
loaded model per identity, so a model is loaded on its first query and shared after.
"""

from __future__ import annotations

import threading

from rag_core.index.embeddings import (
    BACKENDS,
    IDENTITY_SEPARATOR,
    LazyEmbeddings,
    build_embeddings,
)

_SHELF: dict[tuple[str, int], LazyEmbeddings] = {}
_LOCK = threading.Lock()


def split_identity(identity: str) -> tuple[str, str]:
    """Split an embedding identity into (model name, backend).

    A plain model name (fp32 vectors, which torch and onnx share) runs on "torch".

    Args:
        identity: e.g. "all-MiniLM-L6-v2" or "all-MiniLM-L6-v2#openvino-int8".

    Returns:
        ``(model_name, backend)``, backend one of
        :data:`rag_core.index.embeddings.BACKENDS`.
    """
    model, sep, backend = identity.rpartition(IDENTITY_SEPARATOR)
    if sep and backend in BACKENDS:
        return model, backend
    return identity, "torch"


def embeddings_for_identity(identity: str, *, batch_size: int = 32) -> LazyEmbeddings:
    """The model that makes vectors of ``identity``, built on its first use, once per process.

    Args:
        identity: an embedding identity (:func:`split_identity`).
        batch_size: chunks per forward pass.

    Returns:
        A :class:`LazyEmbeddings`; its first embedding raises what
        :func:`~rag_core.index.embeddings.build_embeddings` raises (e.g. OSError for a
        model that is not on this machine).
    """
    model, backend = split_identity(identity)
    with _LOCK:
        found = _SHELF.get((identity, batch_size))
        if found is None:
            found = LazyEmbeddings(
                model,
                lambda: build_embeddings(model, batch_size=batch_size, backend=backend),  # type: ignore[arg-type]
            )
            _SHELF[(identity, batch_size)] = found
        return found


__all__ = ["embeddings_for_identity", "split_identity"]
