"""ONNX Runtime backends (``onnx`` fp32, ``onnx-int8``) and the shared ONNX encoder.

:class:`OnnxEmbeddings` tokenises, batches by token count, mean-pools and L2-normalises
like sentence-transformers; it runs the exported graph with ONNX Runtime, or the NNCF int8
model with OpenVINO (:mod:`rag_core.index.embeddings.openvino`). The fp32 graph is exported
once with ``torch.onnx.export``; the int8 one quantises its MatMul weights per channel
(``onnxruntime.quantization.quantize_dynamic``).

**The first start prepares the files in a child process** (:func:`prepare_in_child`,
``python -m rag_core.index.embeddings.onnx``): exporting with torch and quantising with
NNCF (calibration included) take about a minute on 2 cores, mostly Python that holds the
GIL, and leave torch's and NNCF's memory behind (measured: the calling process peaked at
1,518 MB and kept 831 MB; with the child, 453 MB; its other threads were held up at most
0.97 s, with the child 0.3 s; docs/ingestion.md). The caller only loads the finished files.
A failed child is reported with its last line of output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from rag_core.config import child_env
from rag_core.index.embeddings.export import (
    FP32_FILE,
    INT8_FILE,
    ONNX_INPUTS,
    OPENVINO_INT8_FILE,
    ensure_onnx_model,
    export_dir,
)

logger = logging.getLogger(__name__)

PREPARE_TIMEOUT_S = 1800.0
"""Seconds the child may take to export and quantise (about 60 s on 2 cores here)."""
IN_CHILD_ENV = "RAG_EMBEDDINGS_PREPARING"
"""Set in the child: it prepares in its own process instead of starting another child."""
OUTPUT_TAIL_CHARS = 4000


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
        prepare_in_child(model_dir, cache_dir, quantized=quantized, runtime=runtime)
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


def prepared_file(model_dir: Path, cache_dir: Path, *, quantized: bool, runtime: str) -> Path:
    """The cached file a backend loads, whose presence means it is prepared.

    ``model.onnx``, ``model-int8.onnx`` or, for OpenVINO, ``model-ov-int8.xml`` (renamed
    into place after the ``.bin`` of its weights).
    """
    if runtime == "openvino":
        return export_dir(model_dir, cache_dir) / OPENVINO_INT8_FILE
    return export_dir(model_dir, cache_dir) / (INT8_FILE if quantized else FP32_FILE)


def prepare_in_child(
    model_dir: Path,
    cache_dir: Path,
    *,
    quantized: bool,
    runtime: str,
    timeout_s: float = PREPARE_TIMEOUT_S,
) -> None:
    """Export and quantise ``model_dir`` for a backend in a child process, once.

    Does nothing when the backend's file (:func:`prepared_file`) is cached, or inside the
    child itself. The child builds the same :class:`OnnxEmbeddings`, which writes the files
    under the export lock (:func:`~rag_core.index.embeddings.export.ensure_onnx_model`,
    :func:`~rag_core.index.embeddings.openvino.ensure_openvino_int8`); for OpenVINO it also
    leaves the compiled model in OpenVINO's cache.

    Args:
        model_dir: local sentence-transformers model directory.
        cache_dir: the export cache.
        quantized: the int8 graph.
        runtime: "onnxruntime" or "openvino".
        timeout_s: seconds before the child is killed.

    Raises:
        RuntimeError: the child failed (the message ends with its last line of output,
            the log has more) or timed out.
    """
    if (
        os.environ.get(IN_CHILD_ENV)
        or prepared_file(model_dir, cache_dir, quantized=quantized, runtime=runtime).is_file()
    ):
        return
    args = [sys.executable, "-m", __name__, str(model_dir), str(cache_dir), "--runtime", runtime]
    if quantized:
        args.append("--quantized")
    logger.info("preparing %s for %s in a child process (once)", model_dir.name, runtime)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            args,
            env={**child_env(), IN_CHILD_ENV: "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"preparing the embedding model took over {timeout_s:.0f} s and was stopped"
        ) from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:]
        logger.warning("preparing %s failed; its output ends:\n%s", model_dir.name, output)
        lines = [line for line in output.splitlines() if line.strip()]
        raise RuntimeError(
            f"preparing the embedding model failed (exit code {done.returncode}): "
            + (lines[-1] if lines else "no output")
        )
    logger.info("prepared %s in %.1f s", model_dir.name, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    """The child of :func:`prepare_in_child`: build the backend once, which prepares it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("cache_dir", type=Path)
    parser.add_argument("--runtime", choices=("onnxruntime", "openvino"), required=True)
    parser.add_argument("--quantized", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ[IN_CHILD_ENV] = "1"
    OnnxEmbeddings(
        args.model_dir,
        quantized=args.quantized,
        batch_size=8,
        cache_dir=args.cache_dir,
        runtime=args.runtime,
    )
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
