"""Shared fixtures: the test documents, one knowledge base embedded once per run, a fake
Ollama server on 127.0.0.1."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from pypdf import PdfReader, PdfWriter

from rag_core.config import Settings, build_settings
from rag_core.embeddings import build_embeddings
from rag_core.knowledge_base import KnowledgeBase
from tests.ollama_server import FakeOllamaServer

DATA = Path(__file__).parent / "data"
LSHORT = DATA / "lshort.pdf"
LSHORT_KO = DATA / "lshort-ko.pdf"
QA_SAMPLE = DATA / "qa_sample.jsonl"
REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def pdf_pages(source: Path, first: int, last: int) -> bytes:
    """Return a real PDF made of pages ``first..last`` (1-based, inclusive) of ``source``."""
    writer = PdfWriter()
    for page in PdfReader(source).pages[first - 1 : last]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def embeddings() -> Embeddings:
    """The real all-MiniLM-L6-v2 model, loaded once."""
    return build_embeddings("all-MiniLM-L6-v2")


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
