"""ONNX Runtime backends (``onnx`` fp32, ``onnx-int8``) and the shared ONNX encoder.

:class:`OnnxEmbeddings` tokenises, batches by token count, mean-pools and L2-normalises
like sentence-transformers; it runs the exported graph with ONNX Runtime, or the NNCF int8
model with OpenVINO (:mod:`rag_core.index.embeddings.openvino`). The fp32 graph is exported
once with ``torch.onnx.export``; the int8 one quantises its MatMul weights per channel
(``onnxruntime.quantization.quantize_dynamic``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import filelock
import numpy as np
from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""Input names of the exported graph (:func:`ensure_onnx_model`)."""
ONNX_EXPORT_VERSION = 1
"""Bump to invalidate cached ONNX exports when the export recipe changes."""


class OnnxEmbeddings(Embeddings):
    """A mean-pooling sentence-transformers model run with ONNX Runtime or OpenVINO.

    Same tokenizer, truncation (the model's ``max_seq_length``), mean pooling and L2
    normalisation as sentence-transformers; texts are batched in order of token count
    (see :meth:`batches`), so little time goes into padding. Hand it many texts per call
    (the ingest pipeline passes :data:`rag_core.ingestion.pipeline.EMBED_WINDOW`): the wider the
    window, the closer the lengths within a batch.

    Args:
        model_dir: local sentence-transformers model directory.
        quantized: run the int8 graph instead of the fp32 one.
        runtime: "onnxruntime" (the ONNX graph) or "openvino" (int8 only: the NNCF
            quantised OpenVINO model).
        batch_size: texts per forward pass (at most :data:`OPENVINO_BATCH_SIZE` with
            OpenVINO).
        cache_dir: where the exported graphs are kept.

    Raises:
        ValueError: the model does not use mean pooling, or OpenVINO without int8.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        quantized: bool,
        batch_size: int,
        cache_dir: Path,
        runtime: Literal["onnxruntime", "openvino"] = "onnxruntime",
    ) -> None:
        """Load (exporting on first use) the graph and the tokenizer."""
        from transformers import AutoTokenizer

        _check_mean_pooling(model_dir)
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.max_length = _max_seq_length(model_dir, self.tokenizer)
        self._lock = threading.Lock()
        self._inputs = set(ONNX_INPUTS)
        self._pad_multiple: int | None = None
        self._requests: Any = None
        if runtime == "openvino":
            if not quantized:
                raise ValueError("the OpenVINO backend runs the int8 model only")
            from rag_core.index.embeddings.openvino import (
                OPENVINO_BATCH_SIZE,
                OPENVINO_PAD_MULTIPLE,
                compile_int8,
            )

            self.batch_size = min(batch_size, OPENVINO_BATCH_SIZE)
            self._pad_multiple = OPENVINO_PAD_MULTIPLE
            self.onnx_path, self.dimension, self._requests, self._infer = compile_int8(
                self, cache_dir
            )
            return
        import onnxruntime as ort

        self.onnx_path = ensure_onnx_model(model_dir, cache_dir, quantized=quantized)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in session.get_inputs()}
        self.dimension = int(session.get_outputs()[0].shape[-1])
        self._infer = lambda feed: session.run(None, feed)[0]

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """Yield ``(text indices, model inputs)`` batches, most tokens first.

        Every text is tokenised once without padding; batches are then formed in order of
        token count, so the texts of one batch have nearly the same length and little
        compute goes into padding (sorting by characters, as ``SentenceTransformer.encode``
        does, left 41% padding on the gnuplot manual's code-heavy chunks; by tokens 6% in
        calls of 256 texts).

        Args:
            texts: n strings.

        Yields:
            Up to ``batch_size`` indices into ``texts`` and int64 arrays of shape
            (batch, sequence) under the model's input names: token ids padded with the
            tokenizer's pad id, an attention mask of ones over the real tokens and zeros
            over padding, and zero token types.
        """
        ids = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True
        )["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        pad_id = self.tokenizer.pad_token_id or 0
        multiple = self._pad_multiple or 1
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = -(-len(ids[idx[0]]) // multiple) * multiple
            input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(input_ids)
            yield idx, feed

    def _encode(self, texts: Sequence[str], *, pool: bool = True) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if self._requests is None or not pool:
            for idx, feed in self.batches(texts):
                out[idx] = self._infer(feed)
            return out

        def keep(request: Any, idx: list[int]) -> None:
            out[idx] = request.get_output_tensor(0).data

        with self._lock:  # the request pool and its callback serve one call at a time
            self._requests.set_callback(keep)
            for idx, feed in self.batches(texts):
                self._requests.start_async(feed, idx)
            self._requests.wait_all()
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts``; one L2-normalised vector per text, same order."""
        if not texts:
            return []
        return self._encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self._encode([text], pool=False)[0].tolist()


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
    names = list(ONNX_INPUTS)
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
