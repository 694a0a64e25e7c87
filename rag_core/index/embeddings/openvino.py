"""The `openvino-int8` backend: NNCF post-training int8, run by OpenVINO (fastest with VNNI).

The fp32 ONNX graph (:func:`rag_core.index.embeddings.export.ensure_onnx_model`) is quantised
by ``nncf.quantize`` (``ModelType.TRANSFORMER``,
https://docs.openvino.ai/2024/openvino-workflow/model-optimization-guide/quantizing-models-post-training.html),
calibrated on the packaged passages of ``rag_core/data/calibration.jsonl``, and run with
the OpenVINO runtime on the CPU. OpenVINO's and NNCF's usage reports are switched off in
this process (:func:`without_openvino_telemetry`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import filelock
import numpy as np

from rag_core.index.embeddings.export import OPENVINO_INT8_FILE, ensure_onnx_model

logger = logging.getLogger(__name__)

OPENVINO_BATCH_SIZE = 8
"""Forward-pass batch of the OpenVINO int8 model at most: on 2 cores it embedded 500-character
chunks at about 125/s with 8 texts a pass, 103/s with 32 and 73/s with 128 (less padding,
warmer caches)."""
OPENVINO_PAD_MULTIPLE = 8
"""Token sequences for OpenVINO are padded to a multiple of this. OpenVINO compiles and
keeps kernels per input shape: embedding the 2014 chunks of the gnuplot manual grew the
process by 893 MB with every length its own shape, by 329 MB in steps of 8 and by 224 MB in
steps of 32; steps of 8 ran fastest (191 chunks/s against 168 and 175) because padding
costs compute too."""


class TokenBatches(Protocol):
    """What the OpenVINO backend needs of its encoder (an ``OnnxEmbeddings``)."""

    model_dir: Path

    def batches(self, texts: Any) -> Any:
        """Tokenised batches of ``texts``: ``(indices, feed dict)`` pairs."""


CALIBRATION_FILE = Path(__file__).parents[2] / "data" / "calibration.jsonl"
"""Passages NNCF calibrates the int8 activations on (see ``rag_core/data/README.md``)."""


def compile_int8(
    encoder: TokenBatches, cache_dir: Path
) -> tuple[Path, int, Any, Callable[[dict[str, np.ndarray]], np.ndarray]]:
    """Compile the int8 model of ``encoder.model_dir`` for the CPU (quantising it once).

    THROUGHPUT mode: one single-threaded stream per core, each with its own request, fed
    asynchronously (``openvino.AsyncInferQueue``). Under load (the PDF worker parsing
    beside it) this kept 140 chunks/s where LATENCY's one two-thread request fell to 99;
    alone both ran about 190 chunks/s on 2 cores. Queries get a request of their own, so a
    chat question asked while a file ingests waits for one batch of 8, not a whole call.
    The compiled model is cached beside the int8 one (OpenVINO's ``CACHE_DIR``, keyed by the
    model, the device and the settings): a start compiles in 0.3 s instead of 1.5 s.

    Args:
        encoder: supplies the model directory and the tokenizer batches for calibration.
        cache_dir: the export cache.

    Returns:
        ``(model path, vector dimension, async request queue, query infer function)``;
        the infer function maps a feed of int64 arrays (batch, sequence) to float32
        vectors (batch, dimension).
    """
    without_openvino_telemetry()
    import openvino

    path = ensure_openvino_int8(encoder.model_dir, cache_dir, encoder)
    config = {"PERFORMANCE_HINT": "THROUGHPUT", "CACHE_DIR": str(path.parent / "compiled")}
    compiled = openvino.Core().compile_model(str(path), "CPU", config)
    dimension = int(compiled.output(0).get_partial_shape()[-1].get_length())
    jobs = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    requests = openvino.AsyncInferQueue(compiled, max(1, jobs))
    query_request = compiled.create_infer_request()
    output = compiled.output(0)
    query_lock = threading.Lock()

    def infer_query(feed: dict[str, np.ndarray]) -> np.ndarray:
        with query_lock:
            return query_request.infer(feed)[output]

    return path, dimension, requests, infer_query


def ensure_openvino_int8(model_dir: Path, cache_dir: Path, encoder: TokenBatches) -> Path:
    """Return the cached NNCF int8 OpenVINO model of ``model_dir``, quantising it once.

    The fp32 ONNX graph (:func:`ensure_onnx_model`) is read by OpenVINO and quantised by
    ``nncf.quantize`` (``ModelType.TRANSFORMER``, which keeps softmax, layer norm and the
    pooling in fp32), calibrated on :data:`CALIBRATION_FILE` tokenised by ``encoder``.
    About a minute on 2 cores, once per model; written under the export lock.

    Args:
        model_dir: local sentence-transformers model directory.
        cache_dir: the export cache.
        encoder: supplies the tokenizer batches (:meth:`OnnxEmbeddings.batches`).

    Returns:
        Path of ``model-ov-int8.xml`` (weights beside it in ``.bin``).
    """
    fp32 = ensure_onnx_model(model_dir, cache_dir, quantized=False)
    target = fp32.with_name(OPENVINO_INT8_FILE)
    if target.is_file():
        return target
    with filelock.FileLock(str(fp32.parent / "export.lock")):
        if target.is_file():
            return target
        without_openvino_telemetry()
        import nncf
        import openvino

        logger.info("quantising %s to int8 with NNCF (once)", fp32)
        model = openvino.Core().read_model(str(fp32))
        lines = CALIBRATION_FILE.read_text(encoding="utf-8").splitlines()
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
        samples = [feed for _, feed in encoder.batches(texts)]
        quantized = nncf.quantize(
            model,
            nncf.Dataset(samples),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(samples),
        )
        tmp = target.with_name(f"tmp-{os.getpid()}.xml")
        openvino.save_model(quantized, str(tmp))
        os.replace(tmp.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(tmp, target)  # the .xml last: its presence means the pair is complete
    return target


def without_openvino_telemetry() -> None:
    """Switch off the usage reports of OpenVINO and NNCF in this process; call before import.

    Both send events to Google Analytics through ``openvino-telemetry`` (``import openvino``
    already sends one, from ``openvino/tools/ovc/__init__.py``) whenever the user has not
    opted out with ``opt_in_out --opt_out``; the only other switch is a CI environment
    variable. Nothing may leave this machine but the Ollama calls, so the consent check
    of ``openvino_telemetry.utils.opt_in_checker.OptInChecker`` is made to answer
    "declined" in this process, which every OpenVINO tool obeys. The user's own opt-in
    file is left as it is. Tested by the offline test in ``tests/e2e/test_cli.py``.
    """
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:  # without the package OpenVINO uses a stub that sends nothing
        return

    def declined(self: Any, *args: Any, **kwargs: Any) -> Any:
        return ConsentCheckResult.DECLINED

    OptInChecker.check = declined  # type: ignore[method-assign]
