"""The ONNX export of a sentence-transformers model, cached on disk: fp32 and int8.

The fp32 graph is exported once with ``torch.onnx.export``; the int8 one quantises its
MatMul weights per channel (``onnxruntime.quantization.quantize_dynamic``). Both the ONNX
Runtime backends (:mod:`rag_core.index.embeddings.onnx`) and the OpenVINO one
(:mod:`rag_core.index.embeddings.openvino`, which quantises the fp32 graph with NNCF) start
from these files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import filelock

logger = logging.getLogger(__name__)

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""Input names of the exported graph (:func:`ensure_onnx_model`)."""
ONNX_EXPORT_VERSION = 1
"""Bump to invalidate cached ONNX exports when the export recipe changes."""
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
OPENVINO_INT8_FILE = "model-ov-int8.xml"
"""File names in :func:`export_dir`: the fp32 and int8 ONNX graphs, the NNCF int8 OpenVINO
model (its weights in the ``.bin`` beside it)."""


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


def export_dir(model_dir: Path, cache_dir: Path) -> Path:
    """The cache folder of ``model_dir``'s exports: ``<cache_dir>/<name>-<key>``.

    The key changes with the model's files and the export recipe
    (:data:`ONNX_EXPORT_VERSION`).
    """
    return cache_dir / f"{model_dir.name}-{_export_key(model_dir)}"


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
    target_dir = export_dir(model_dir, cache_dir)
    fp32 = target_dir / FP32_FILE
    int8 = target_dir / INT8_FILE
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
