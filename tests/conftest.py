"""Shared fixtures: the test documents, one knowledge base embedded once per run, a fake
Ollama server on 127.0.0.1."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from rag_core.config import Settings, build_settings
from rag_core.index.embeddings import build_embeddings
from rag_core.index.vector_store import run_chroma_server
from rag_core.knowledge_base import KnowledgeBase
from tests.ollama_server import FakeOllamaServer

DATA = Path(__file__).parent / "data"
LSHORT = DATA / "lshort.pdf"
LSHORT_KO = DATA / "lshort-ko.pdf"
QA_SAMPLE = DATA / "qa_sample.jsonl"
QA_DEV = DATA / "qa_dev.jsonl"
REPO = Path(__file__).resolve().parent.parent

# A run started in the background by a shell without job control inherits SIGINT ignored,
# and so would every CLI a test starts: then Ctrl-C (the tests' SIGINT) does nothing. A
# handler (unlike "ignored") is reset to the default when a child starts, so children get
# Ctrl-C as a user's terminal gives it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# The retrieval floors and thresholds were set on openvino-int8 vectors: the suite pins that
# backend rather than "auto" (which would measure the CPU at hand in every fresh data
# directory); the automatic choice has its own tests (test_embedding_choice.py).
os.environ.setdefault("RAG_EMBEDDING_BACKEND", "openvino-int8")


def process_stacks(pid: int) -> str:
    """Every thread's stack in process ``pid``, Python and native frames (``py-spy dump``).

    For the report of a test whose child process hangs; py-spy's error if it cannot.
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    try:
        dumped = subprocess.run(
            [spy, "dump", "--native", "--pid", str(pid)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no stacks (py-spy: {exc})"
    return dumped.stdout + dumped.stderr


def pdf_pages(source: Path, first: int, last: int) -> bytes:
    """Return a real PDF made of pages ``first..last`` (1-based, inclusive) of ``source``."""
    writer = PdfWriter()
    for page in PdfReader(source).pages[first - 1 : last]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def text_pdf(
    pages: Sequence[str],
    *,
    user_password: str | None = None,
    owner_password: str | None = None,
    algorithm: str = "AES-256",
) -> bytes:
    """Build a real PDF (pypdf ``PdfWriter``) with one page per string, in Helvetica.

    Args:
        pages: the text of each page (ASCII, one line); ``""`` makes a page with no text
            (like a scanned page without OCR).
        user_password: encrypt with this password to open (``""`` with an owner password
            makes an owner-password-only PDF that opens without asking).
        owner_password: the owner (permissions) password; defaults to the user password.
        algorithm: pypdf encryption algorithm, e.g. "RC4-128" or "AES-256".
    """
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        if not text:
            continue
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    if user_password is not None or owner_password is not None:
        writer.encrypt(
            user_password=user_password or "",
            owner_password=owner_password if owner_password is not None else user_password,
            algorithm=algorithm,
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def default_embeddings() -> Embeddings:
    """The embedding model and backend of the settings (``build_settings()``), loaded now.

    all-MiniLM-L6-v2 from its PyPI package, run by the ``openvino-int8`` backend the suite
    pins (``RAG_EMBEDDING_BACKEND``), so thresholds and model checks are tested on the
    vectors of the fastest backend on VNNI CPUs.
    """
    defaults = build_settings()
    return build_embeddings(
        defaults.embedding_model,
        batch_size=defaults.embedding_batch_size,
        backend=defaults.embedding_backend,
    )


@pytest.fixture(scope="session", autouse=True)
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Per-user caches (the ONNX and int8 exports, ``platformdirs.user_cache_dir``) go to a
    temporary directory: tests write nowhere else, and every run starts as cold as a fresh
    CI machine. Apps and CLIs the tests start inherit it."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))


@pytest.fixture(scope="session")
def embeddings() -> Embeddings:
    """The default embedding model (:func:`default_embeddings`), loaded once per run."""
    return default_embeddings()


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data directory of the session knowledge base."""
    return tmp_path_factory.mktemp("corpus-data")


@pytest.fixture(scope="session")
def corpus_kb(corpus_dir: Path, embeddings: Embeddings) -> KnowledgeBase:
    """Both test PDFs ingested into a real Chroma on disk, once per test run.

    Tests must not change it (use ``empty_kb`` for writes).
    """
    kb = KnowledgeBase(build_settings(data_dir=corpus_dir), embeddings)
    for path in (LSHORT, LSHORT_KO):
        result = kb.ingest_path(path)
        assert result.status == "indexed", result.error
    return kb


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test data directory."""
    return build_settings(data_dir=data_dir, **overrides)


@pytest.fixture
def empty_kb(tmp_path: Path, embeddings: Embeddings) -> KnowledgeBase:
    """A fresh, empty knowledge base in ``tmp_path``."""
    return KnowledgeBase(settings_for(tmp_path / "data"), embeddings)


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllamaServer]:
    """A real HTTP server on 127.0.0.1 speaking Ollama's REST API."""
    with FakeOllamaServer() as server:
        yield server


@pytest.fixture(scope="module")
def module_ollama() -> Iterator[FakeOllamaServer]:
    """A test Ollama server shared by one test module, streaming without delay.

    A test module's own fixture sets its translation table and clears its requests
    (:func:`reset_translating`).
    """
    with FakeOllamaServer(token_delay=0.0) as server:
        yield server


def reset_translating(server: FakeOllamaServer, translations: dict[str, str]) -> None:
    """Give ``server`` a translation table and forget earlier requests and translations."""
    from rag_core.retrieval.translation import clear_translation_cache

    server.translations = dict(translations)
    server.clear_requests()
    clear_translation_cache()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (``chroma run``, shipped with chromadb) on 127.0.0.1; its URL."""
    with run_chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url
