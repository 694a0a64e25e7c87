"""The ONNX embedding backends agree with torch fp32 (dimension, norm, cosine)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from rag_core.config import build_settings
from rag_core.index.embeddings import (
    build_embeddings,
    embedding_dimension,
    embedding_identity,
    export,
    resolve_model_path,
)
from rag_core.index.embeddings.export import ensure_onnx_model
from rag_core.index.embeddings.onnx import prepare_in_child, prepared_file

SENTENCES = [
    "Knuth started writing the TeX typesetting engine in 1977.",
    "To comment out a block of text, load the verbatim package and use the comment environment.",
    "The plot command draws functions and data files; splot draws surfaces.",
    "set logscale y makes the y axis logarithmic.",
    "수식은 달러 기호 사이에 넣어 본문 안에 쓸 수 있다.",
    "A table of contents is produced with \\tableofcontents after two LaTeX runs.",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export cache for this module (the graphs are exported once, here)."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino-int8"])
def test_backend_matches_torch_fp32(backend: str, embeddings: Embeddings, onnx_cache: Path) -> None:
    reference = np.array(embeddings.embed_documents(SENTENCES))
    other = build_embeddings("all-MiniLM-L6-v2", backend=backend, cache_dir=onnx_cache)  # type: ignore[arg-type]

    vectors = np.array(other.embed_documents(SENTENCES))
    query = np.array(other.embed_query(SENTENCES[0]))

    assert vectors.shape == (len(SENTENCES), 384)
    assert embedding_dimension(other) == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.mean() >= 0.95, cosines
    assert float(query @ reference[0]) >= 0.95
    assert other.embed_documents([]) == []

    # Batched by token count over several passes: every vector is the text's own, in order,
    # whatever the padding of the batch it ran in. (onnx-int8 quantises activations per
    # batch at run time, so its vectors move a little with the batch's other texts.)
    texts = [" ".join(SENTENCES[i % 6 : i % 6 + 1 + i % 4]) + f" Item {i}." for i in range(21)]
    together = np.array(other.embed_documents(texts))
    alone = np.array([other.embed_query(text) for text in texts])
    own = (together * alone).sum(axis=1)
    assert own.min() >= (0.95 if backend == "onnx-int8" else 0.999), own
    if backend != "onnx-int8":  # texts 0 and 12 differ only in their item number
        assert ((together @ alone.T).argmax(axis=1) == np.arange(len(texts))).all()


def test_onnx_export_is_cached(onnx_cache: Path) -> None:
    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    first = ensure_onnx_model(model_dir, onnx_cache, quantized=True)
    mtime = first.stat().st_mtime_ns

    again = ensure_onnx_model(model_dir, onnx_cache, quantized=True)

    assert again == first and again.stat().st_mtime_ns == mtime
    assert not list(first.parent.glob("*.tmp"))


def test_int8_vectors_have_their_own_identity() -> None:
    assert embedding_identity("all-MiniLM-L6-v2", "torch") == "all-MiniLM-L6-v2"
    assert embedding_identity("all-MiniLM-L6-v2", "onnx") == "all-MiniLM-L6-v2"
    assert embedding_identity("all-MiniLM-L6-v2", "onnx-int8") == "all-MiniLM-L6-v2#onnx-int8"
    assert embedding_identity("all-MiniLM-L6-v2", "openvino-int8") == (
        "all-MiniLM-L6-v2#openvino-int8"
    )


def test_openvino_int8_model_is_quantised_once_and_reused(onnx_cache: Path) -> None:
    first = build_embeddings("all-MiniLM-L6-v2", backend="openvino-int8", cache_dir=onnx_cache)
    path = first.onnx_path  # type: ignore[attr-defined]
    assert path.name == "model-ov-int8.xml" and path.with_suffix(".bin").is_file()
    # int8: the weights file is about a quarter of the fp32 graph's
    fp32 = path.with_name("model.onnx")
    assert path.with_suffix(".bin").stat().st_size < 0.4 * fp32.stat().st_size
    mtime = path.stat().st_mtime_ns
    again = build_embeddings("all-MiniLM-L6-v2", backend="openvino-int8", cache_dir=onnx_cache)
    assert again.onnx_path == path and path.stat().st_mtime_ns == mtime  # type: ignore[attr-defined]
    assert not list(path.parent.glob("tmp-*"))
    np.testing.assert_allclose(
        first.embed_documents(SENTENCES), again.embed_documents(SENTENCES), atol=1e-6
    )


def test_openvino_query_does_not_wait_for_a_running_ingest(onnx_cache: Path) -> None:
    # A chat question asked while a file embeds runs on its own request: it returns while
    # the long embed_documents call (one lock for its whole pool of requests) still runs.
    model = build_embeddings("all-MiniLM-L6-v2", backend="openvino-int8", cache_dir=onnx_cache)
    texts = [f"{SENTENCES[i % len(SENTENCES)]} Passage {i}. " * 4 for i in range(400)]
    finished = threading.Event()

    def ingest() -> None:
        model.embed_documents(texts)
        finished.set()

    worker = threading.Thread(target=ingest)
    worker.start()
    time.sleep(0.5)  # the document call is under way (400 texts take seconds)
    query = model.embed_query(SENTENCES[3])
    answered_during_ingest = not finished.is_set()
    worker.join()
    assert answered_during_ingest
    np.testing.assert_allclose(query, model.embed_query(SENTENCES[3]), atol=1e-6)


def test_backend_setting_and_unknown_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "onnx-int8")
    assert build_settings().embedding_backend == "onnx-int8"
    with pytest.raises(ValueError, match="unknown embedding backend"):
        build_embeddings("all-MiniLM-L6-v2", backend="cuda")  # type: ignore[arg-type]


def test_a_cold_cache_is_prepared_in_a_child_process(tmp_path: Path, monkeypatch) -> None:
    def in_this_process(*args: object) -> None:
        raise AssertionError("exported in the calling process")

    monkeypatch.setattr(export, "_export_fp32", in_this_process)
    model = build_embeddings("all-MiniLM-L6-v2", backend="onnx", cache_dir=tmp_path)
    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    assert prepared_file(model_dir, tmp_path, quantized=False, runtime="onnxruntime").is_file()
    assert len(model.embed_query("walruses")) == 384


def test_a_failed_or_slow_preparation_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(
        RuntimeError, match=r"failed \(exit code \d+\): OSError: .*config\.json.* not a valid JSON"
    ):
        prepare_in_child(broken, tmp_path / "cache", quantized=False, runtime="onnxruntime")
    assert not prepared_file(
        broken, tmp_path / "cache", quantized=False, runtime="onnxruntime"
    ).exists()

    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    with pytest.raises(RuntimeError, match=r"took over 1 s and was stopped"):
        prepare_in_child(
            model_dir, tmp_path / "slow", quantized=False, runtime="onnxruntime", timeout_s=1
        )
