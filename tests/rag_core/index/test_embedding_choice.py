"""The embedding runtime is measured once per machine and model, remembered, and kept
compatible with the stored vectors; the warm-up prepares the model once, in the background."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from rag_core.config import Settings, build_settings
from rag_core.index.embeddings import (
    LazyEmbeddings,
    compatible_backends,
    embedding_identity,
)
from rag_core.index.embeddings.choice import (
    CANDIDATES,
    CHOICE_FILE,
    CpuInfo,
    choose_backend,
    cpu_info,
    measure_backend,
    parse_cpuinfo,
)
from rag_core.ingestion.progress import IngestProgress
from rag_core.knowledge_base import EmbeddingWarmup, KnowledgeBase, resolve_embedding_backend

MODEL = "all-MiniLM-L6-v2"
AVX2 = CpuInfo("AMD EPYC 7B13", ("avx", "avx2", "fma", "sse4_2"))
VNNI = CpuInfo("AMD EPYC 7B13", ("avx", "avx2", "avx512_vnni", "avx512f", "fma", "sse4_2"))
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13 64-Core Processor
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c avx2 fma hypervisor avx512f avx512_vnni amx_int8

processor\t: 1
model name\t: AMD EPYC 7B13 64-Core Processor
flags\t\t: fpu
"""


class FakeMeasure:
    """Times nothing: returns fixed chunks/s per backend and counts what it measured."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates = rates
        self.measured: list[str] = []

    def __call__(self, backend: str, best_so_far: float) -> tuple[float, Embeddings]:
        self.measured.append(backend)
        if self.rates[backend] < 0:
            raise OSError(f"{backend} is not installed")
        return self.rates[backend], DeterministicFakeEmbedding(size=8)


RATES = {"onnx-int8": 70.0, "openvino-int8": 50.0, "onnx": 40.0, "torch": 25.0}


def test_cpu_model_and_instruction_set_flags_are_read_from_proc_cpuinfo(tmp_path: Path):
    info = parse_cpuinfo(CPUINFO)
    assert info.model == "AMD EPYC 7B13 64-Core Processor"
    assert {"avx2", "avx512_vnni", "amx_int8", "fma", "f16c"} <= set(info.flags)
    assert "hypervisor" not in info.flags and "fpu" not in info.flags  # not instruction sets
    assert info.shown_flags()[:2] == ["avx2", "fma"]
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert cpu_info(path) == info
    fallback = cpu_info(tmp_path / "missing")  # no /proc: py-cpuinfo if installed, else platform
    assert isinstance(fallback.model, str)


def test_the_runtime_is_measured_once_then_remembered(tmp_path: Path):
    first = FakeMeasure(RATES)
    choice, model = choose_backend(MODEL, tmp_path, first, cpu=AVX2)
    assert choice.backend == "onnx-int8" and sorted(first.measured) == sorted(CANDIDATES)
    assert isinstance(model, DeterministicFakeEmbedding)  # the winner comes back loaded
    stored = json.loads((tmp_path / CHOICE_FILE).read_text())["choices"][0]
    assert stored["backend"] == "onnx-int8"
    assert stored["cpu_model"] == AVX2.model and stored["cpu_flags"] == list(AVX2.flags)
    assert stored["chunks_per_s"]["torch"] == 25.0

    again = FakeMeasure({b: 1.0 for b in CANDIDATES})  # would pick another if it measured
    choice, model = choose_backend(MODEL, tmp_path, again, cpu=AVX2)
    assert again.measured == [] and choice.backend == "onnx-int8" and model is None


def test_a_changed_cpu_flag_set_or_model_measures_again(tmp_path: Path):
    choose_backend(MODEL, tmp_path, FakeMeasure(RATES), cpu=AVX2)
    vnni = FakeMeasure({**RATES, "openvino-int8": 200.0})
    choice, _ = choose_backend(MODEL, tmp_path, vnni, cpu=VNNI)
    assert vnni.measured and choice.backend == "openvino-int8"
    other = FakeMeasure(RATES)
    choice, _ = choose_backend("paraphrase-multilingual-MiniLM-L12-v2", tmp_path, other, cpu=VNNI)
    assert other.measured and choice.backend == "onnx-int8"
    models = [c["model"] for c in json.loads((tmp_path / CHOICE_FILE).read_text())["choices"]]
    assert sorted(models) == sorted([MODEL, "paraphrase-multilingual-MiniLM-L12-v2"])


def test_a_backend_that_cannot_load_is_skipped(tmp_path: Path):
    measure = FakeMeasure({**RATES, "onnx-int8": -1.0})
    choice, _ = choose_backend(MODEL, tmp_path, measure, cpu=AVX2)
    assert choice.backend == "openvino-int8" and "onnx-int8" not in choice.chunks_per_s


def test_only_backends_with_the_stored_vectors_identity_are_candidates(tmp_path: Path):
    assert compatible_backends(MODEL, {}) == CANDIDATES
    assert compatible_backends(MODEL, {"other-model": 9}) == CANDIDATES
    assert compatible_backends(MODEL, {f"{MODEL}#openvino-int8": 10}) == ("openvino-int8",)
    assert compatible_backends(MODEL, {MODEL: 10, f"{MODEL}#onnx-int8": 3}) == ("onnx", "torch")
    # a remembered choice that no longer fits the store is measured again among those that do
    choose_backend(MODEL, tmp_path, FakeMeasure(RATES), cpu=AVX2)
    measure = FakeMeasure(RATES)
    choice, _ = choose_backend(MODEL, tmp_path, measure, allowed=("onnx", "torch"), cpu=AVX2)
    assert sorted(measure.measured) == ["onnx", "torch"] and choice.backend == "onnx"
    # one allowed backend is taken without measuring
    single = FakeMeasure(RATES)
    choice, _ = choose_backend(MODEL, tmp_path, single, allowed=("openvino-int8",), cpu=VNNI)
    assert single.measured == [] and choice.backend == "openvino-int8"


def _store_with(data_dir: Path, backend: str) -> None:
    """A real Chroma collection recorded with ``backend``'s identity (fake 384-d vectors)."""
    settings = build_settings(data_dir=data_dir, embedding_backend=backend)
    KnowledgeBase(settings, DeterministicFakeEmbedding(size=384))


def test_auto_keeps_an_existing_store_compatible_and_an_explicit_backend_wins(tmp_path: Path):
    data = tmp_path / "data"
    _store_with(data, "openvino-int8")  # built with the former default
    auto = build_settings(data_dir=data, embedding_backend="auto")
    resolved = resolve_embedding_backend(auto)  # one candidate: nothing is measured
    assert resolved.embedding_backend == "openvino-int8"
    assert json.loads((data / CHOICE_FILE).read_text())["choices"][0]["chunks_per_s"] == {
        "openvino-int8": 0.0
    }
    KnowledgeBase(auto, DeterministicFakeEmbedding(size=384))  # opens: no model mismatch
    explicit = build_settings(data_dir=tmp_path / "other", embedding_backend="torch")
    assert resolve_embedding_backend(explicit) is explicit
    assert not (tmp_path / "other" / CHOICE_FILE).exists()
    with pytest.raises(ValueError, match="auto"):
        embedding_identity(MODEL, "auto")


class CountingEmbedding(DeterministicFakeEmbedding):
    """Counts the texts it embeds."""

    texts: int = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Count, then embed."""
        self.texts += len(texts)
        return super().embed_documents(texts)


def test_measure_backend_times_the_built_model_and_cuts_clear_losers(tmp_path: Path):
    built: list[CountingEmbedding] = []

    def build(backend: str) -> Embeddings:
        built.append(CountingEmbedding(size=8))
        return built[-1]

    measure = measure_backend(build, ["a passage"] * 20, repeats=2)
    rate, model = measure("onnx", 0.0)
    assert rate > 0 and model is built[0] and built[0].texts == 8 + 2 * 20
    rate, _ = measure("torch", float("inf"))  # cannot win: only the warm-up pass runs
    assert built[1].texts == 8


def _slow_model(gate: threading.Event, builds: list[int]) -> LazyEmbeddings:
    def build() -> Embeddings:
        builds.append(1)
        gate.wait(30)
        return DeterministicFakeEmbedding(size=384)

    return LazyEmbeddings(MODEL, build)


def test_the_warmup_runs_once_in_the_background(tmp_path: Path):
    gate, builds = threading.Event(), []
    lazy = _slow_model(gate, builds)
    settings = build_settings(data_dir=tmp_path, embedding_backend="onnx-int8")
    warmup = EmbeddingWarmup(settings, embeddings_for=lambda _: lazy)
    assert warmup.start() is warmup.start()  # a second start does nothing
    assert warmup.settings(timeout_s=10).embedding_backend == "onnx-int8"
    assert warmup.stage == "loading" and not warmup.ready  # the caller was not blocked
    gate.set()
    assert warmup.wait(30) and warmup.stage == "ready" and lazy.loaded
    assert builds == [1] and warmup.error is None


def test_ingest_reports_the_model_stage_while_the_model_is_prepared(tmp_path: Path):
    gate, builds = threading.Event(), []
    lazy = _slow_model(gate, builds)
    kb = KnowledgeBase(build_settings(data_dir=tmp_path, embedding_backend="onnx-int8"), lazy)
    events: list[IngestProgress] = []
    gate.set()
    result = kb.ingest_bytes(
        "notes.txt", b"Walruses live in the Arctic. " * 40, progress=events.append
    )
    assert result.status == "indexed" and builds == [1]
    stages = [e.stage for e in events]
    assert "model" in stages and stages.index("model") < stages.index("embed")


def test_the_model_wait_is_left_out_of_the_other_stages_eta():
    from rag_core.ingestion.progress import ProgressReporter

    events: list[IngestProgress] = []
    report = ProgressReporter("a.pdf", events.append)
    report("parse", 1, 10)
    report.stage_started["parse"] -= 1.0  # one second of reading
    report("model", 0, 1)
    report._model_wait_started -= 60.0  # type: ignore[operator]  # a minute of preparing
    report("parse", 2, 10)
    assert events[-1].stage_elapsed_s < 5  # not 61 s: the ETA does not jump


def test_settings_default_to_auto(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RAG_EMBEDDING_BACKEND", raising=False)
    assert Settings().embedding_backend == "auto"
