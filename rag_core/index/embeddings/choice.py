"""The embedding runtime that is fastest on this CPU: measured once, remembered.

With ``RAG_EMBEDDING_BACKEND=auto`` (the default) the backend is not fixed in the code: which
one is fastest depends on the instruction set. NNCF's int8 activations run on VNNI
(AVX-512 VNNI, AVX-VNNI, AMX) units, where ``openvino-int8`` embedded about 4x as fast as
torch; on a CPU with AVX2 alone, ``onnx-int8`` (int8 weights only) was faster (issue 21:
39-45 chunks/s against the seed's 25.5). So each candidate embeds the packaged calibration
passages (:data:`rag_core.index.embeddings.openvino.CALIBRATION_FILE`) once, timed, and the
fastest is written to ``<data dir>/embedding_runtime.json`` with the CPU's model name, its
instruction-set flags and every candidate's chunks per second. The next start reads it and
measures nothing; a changed model, CPU model or flag set measures again.

Stored vectors stay compatible: a backend is a candidate only if its vectors carry the same
identity (:func:`rag_core.index.embeddings.embedding_identity`) as those already in the
store. torch and onnx compute the same fp32 vectors and share one identity; each int8
backend has its own, so once a store holds int8 vectors of one kind only that backend is
measured and chosen (a store built with the former default, openvino-int8, keeps it). The
choice never mixes vectors of two identities in one collection, and never makes an
existing collection fail the store's model check.

The CPU is read from ``/proc/cpuinfo`` (Linux: ``model name`` and ``flags``), else from
py-cpuinfo when it is installed, else ``platform.processor()`` with no flags.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import filelock
from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)

CHOICE_FILE = "embedding_runtime.json"
"""Name of the remembered choice in the data directory."""
CANDIDATES: tuple[str, ...] = ("onnx-int8", "openvino-int8", "onnx", "torch")
"""Backends measured, in this order (the cheapest to prepare first)."""
ISA_PREFIXES = ("sse", "ssse", "avx", "fma", "f16c", "amx", "vnni", "bf16")
"""Instruction-set flags that can change which runtime is fastest (x86 names in
``/proc/cpuinfo``; ``asimd``, ``sve``... on ARM are kept by :data:`ARM_FLAGS`)."""
ARM_FLAGS = ("asimd", "asimddp", "asimdhp", "sve", "sve2", "i8mm", "bf16", "sme")
MEASURE_PASSAGES = 32
"""Calibration passages timed per backend (every fourth of the 126, English and Korean,
about 460 characters each, like a 500-character chunk): a few seconds per backend."""
SHOWN_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimddp",
    "i8mm",
    "sve",
)
"""Flags worth naming in a benchmark header (those present are printed)."""


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name and its instruction-set flags.

    Attributes:
        model: e.g. ``"AMD EPYC 7763 64-Core Processor"`` ("" when unknown).
        flags: instruction-set flags relevant to inference (:data:`ISA_PREFIXES`), sorted.
    """

    model: str
    flags: tuple[str, ...]

    def shown_flags(self) -> list[str]:
        """The notable flags this CPU has (:data:`SHOWN_FLAGS`), in that order."""
        return [flag for flag in SHOWN_FLAGS if flag in self.flags]


def isa_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """Keep the instruction-set flags of ``flags`` (see :data:`ISA_PREFIXES`), sorted."""
    return tuple(
        sorted({f for f in flags if f.startswith(ISA_PREFIXES) or "vnni" in f or f in ARM_FLAGS})
    )


def parse_cpuinfo(text: str) -> CpuInfo:
    """Read the first processor's model name and flags from ``/proc/cpuinfo`` text.

    x86 kernels write ``model name`` and ``flags``; ARM ones ``Features`` (and often no
    model name, then ``CPU part`` stands in).
    """
    model = ""
    flags: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu part") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = value.split()
    return CpuInfo(model, isa_flags(flags))


def cpu_info(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """The CPU of this machine: ``/proc/cpuinfo``, else py-cpuinfo if installed, else platform.

    Args:
        cpuinfo_path: the file to read (tests pass their own).

    Returns:
        The model name and instruction-set flags; flags are empty when no source gives them.
    """
    try:
        info = parse_cpuinfo(cpuinfo_path.read_text(encoding="utf-8", errors="replace"))
        if info.model or info.flags:
            return info
    except OSError:
        pass
    try:
        import cpuinfo  # py-cpuinfo, optional: used only if already installed

        data = cpuinfo.get_cpu_info()
        return CpuInfo(str(data.get("brand_raw", "")), isa_flags(data.get("flags", [])))
    except Exception:  # not installed, or it failed to probe
        return CpuInfo(platform.processor() or platform.machine(), ())


@dataclass
class BackendChoice:
    """A remembered choice: which backend embeds fastest for one model on one CPU.

    Attributes:
        model: the configured embedding model name.
        backend: the chosen backend.
        cpu_model: the CPU's model name when it was measured.
        cpu_flags: its instruction-set flags.
        chunks_per_s: calibration passages embedded per second, per candidate measured.
        candidates: the backends that were allowed (same identity as the stored vectors).
        measured_at: UTC time of the measurement, ISO 8601.
    """

    model: str
    backend: str
    cpu_model: str
    cpu_flags: list[str]
    chunks_per_s: dict[str, float] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)
    measured_at: str = ""

    def fits(self, model: str, cpu: CpuInfo, allowed: Sequence[str]) -> bool:
        """True when this choice was made for ``model`` on ``cpu`` and is ``allowed``."""
        return (
            self.model == model
            and self.cpu_model == cpu.model
            and tuple(self.cpu_flags) == cpu.flags
            and self.backend in allowed
        )


Measure = Callable[[str, float], tuple[float, Embeddings | None]]
"""Measures one backend, given the best chunks per second so far (0 at first): returns
(its chunks per second, the loaded model or None)."""
CLEAR_LOSER = 0.5
"""A backend whose warm-up pass runs at less than this share of the best rate so far is
not timed further (its fp32 passes cost 20 s under load and cannot win)."""


def read_choices(data_dir: Path) -> list[BackendChoice]:
    """The choices remembered in ``data_dir`` (none when the file is missing or unreadable)."""
    path = data_dir / CHOICE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [BackendChoice(**entry) for entry in data.get("choices", [])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError) as exc:
        logger.warning("ignoring %s (%s); the embedding runtime is measured again", path, exc)
        return []


def _write_choices(data_dir: Path, choices: list[BackendChoice]) -> None:
    path = data_dir / CHOICE_FILE
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    body = {"choices": [asdict(c) for c in choices]}
    tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def choose_backend(
    model: str,
    data_dir: Path,
    measure: Measure,
    *,
    allowed: Sequence[str] = CANDIDATES,
    cpu: CpuInfo | None = None,
) -> tuple[BackendChoice, Embeddings | None]:
    """Return the remembered backend for ``model`` on this CPU, measuring it the first time.

    A remembered choice is used when it was made for the same model, CPU model and flags
    and is still ``allowed``. Otherwise each allowed backend is measured (a backend that
    fails to load is logged and skipped), the fastest wins, and the choice is written to
    ``data_dir/embedding_runtime.json`` (other models' and CPUs' choices are kept). A file
    lock keeps two processes from measuring at once.

    Args:
        model: the configured embedding model name.
        data_dir: the app's data directory.
        measure: times one backend (see :func:`measure_backend`).
        allowed: backends whose vectors are compatible with the store (see the module
            docstring); one allowed backend is chosen without measuring.
        cpu: this machine's CPU (:func:`cpu_info` if None).

    Returns:
        The choice and, when it was measured now, the winner's loaded model (else None).

    Raises:
        ValueError: ``allowed`` is empty.
        Exception: what the last candidate's load raised, when none could be loaded.
    """
    if not allowed:
        raise ValueError("no embedding backend allowed")
    cpu = cpu or cpu_info()
    data_dir.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(data_dir / f"{CHOICE_FILE}.lock")):
        choices = read_choices(data_dir)
        for choice in choices:
            if choice.fits(model, cpu, allowed):
                logger.info("embedding backend %s (chosen %s)", choice.backend, choice.measured_at)
                return choice, None
        rates: dict[str, float] = {}
        fastest: Embeddings | None = None  # only the fastest model so far stays loaded
        failure: Exception | None = None
        if len(allowed) == 1:
            rates[allowed[0]] = 0.0  # nothing to compare: chosen without measuring
        for backend in allowed if len(allowed) > 1 else ():
            try:
                rate, embeddings = measure(backend, max(rates.values(), default=0.0))
            except Exception as exc:
                logger.warning("embedding backend %s cannot run here: %s", backend, exc)
                failure = exc
                continue
            logger.info("embedding backend %s: %.1f chunks/s", backend, rate)
            if not rates or rate > max(rates.values()):
                fastest = embeddings
            rates[backend] = rate
        if not rates:
            assert failure is not None
            raise failure
        best = max(rates, key=rates.__getitem__)
        choice = BackendChoice(
            model=model,
            backend=best,
            cpu_model=cpu.model,
            cpu_flags=list(cpu.flags),
            chunks_per_s={k: round(v, 1) for k, v in rates.items()},
            candidates=list(allowed),
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        kept = [c for c in choices if not (c.model == model and c.cpu_model == cpu.model)]
        _write_choices(data_dir, [*kept, choice])
        logger.info("embedding backend chosen for %s on %s: %s %s", model, cpu.model, best, rates)
        return choice, fastest


def calibration_passages(count: int | None = None) -> list[str]:
    """The packaged calibration passages (``rag_core/data/calibration.jsonl``).

    Args:
        count: return about this many, evenly spread over the file (None: all, in order).
    """
    from rag_core.index.embeddings.openvino import CALIBRATION_FILE

    lines = CALIBRATION_FILE.read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    if count is None or count >= len(texts):
        return texts
    step = len(texts) / count
    return [texts[int(i * step)] for i in range(count)]


def measure_backend(
    build: Callable[[str], Embeddings], texts: Sequence[str], *, repeats: int = 2
) -> Measure:
    """Return a :data:`Measure` that builds a backend and times it embedding ``texts``.

    The model is built (exporting or quantising it on first use, not timed) and warmed
    on 8 texts, timed; a backend already below :data:`CLEAR_LOSER` of the best rate so far
    stops there. Otherwise ``texts`` are embedded ``repeats`` times and the best pass
    counts, as ``timeit`` does, since a shared machine only ever slows a pass down.

    Args:
        build: builds the embeddings of one backend name.
        texts: the passages to embed (:data:`MEASURE_PASSAGES` calibration passages).
        repeats: timed passes.
    """

    def measure(backend: str, best_so_far: float) -> tuple[float, Embeddings]:
        embeddings = build(backend)
        warm = list(texts[:8])
        started = time.perf_counter()
        embeddings.embed_documents(warm)
        warm_rate = len(warm) / max(time.perf_counter() - started, 1e-9)
        if warm_rate < CLEAR_LOSER * best_so_far:
            return warm_rate, embeddings
        best = float("inf")
        for _ in range(max(1, repeats)):
            started = time.perf_counter()
            embeddings.embed_documents(list(texts))
            best = min(best, time.perf_counter() - started)
        return len(texts) / max(best, 1e-9), embeddings

    return measure
