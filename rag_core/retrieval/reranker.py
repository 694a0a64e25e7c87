"""An optional cross-encoder reranker (sentence-transformers ``CrossEncoder``)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def build_reranker(model_name: str) -> Any | None:
    """Load a sentence-transformers ``CrossEncoder`` reranker, or None if it is unavailable.

    Nothing is downloaded when ``HF_HUB_OFFLINE=1``: a model that is neither a local path
    nor in the Hugging Face cache is skipped with a warning, and retrieval goes on without
    reranking. Source: https://sbert.net/docs/cross_encoder/usage/usage.html.

    Args:
        model_name: model name (e.g. "cross-encoder/ms-marco-MiniLM-L6-v2") or local path;
            "" means no reranker.

    Returns:
        The CrossEncoder, or None.
    """
    if not model_name:
        return None
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(model_name, device="cpu")
    except (OSError, ValueError) as exc:
        logger.warning("reranker %s unavailable, retrieval goes on without it: %s", model_name, exc)
        return None
