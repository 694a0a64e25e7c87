"""Downloading an embedding model with progress, from a fake hub on 127.0.0.1; offline messages.

huggingface_hub reads ``HF_ENDPOINT``, ``HF_HOME`` and ``HF_HUB_OFFLINE`` when it is
imported, so each case runs the CLI in a subprocess with its own environment (the suite
itself runs with ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.errors import ModelUnavailableError
from rag_core.index.embeddings import resolve_model_path
from rag_core.index.embeddings.download import ensure_model
from rag_core.index.vector_store import build_chroma_client
from rag_core.index.vectors import read_pointer
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import REPO, settings_for
from tests.hub_server import FakeHub

REPO_ID = "fake-org/minilm-mirror"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")
"""What the suite's environment sets (directly, or by loading a local model) and the
download cases must not inherit."""


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag_core", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARIABLES}
    env.update(
        HF_HOME=str(tmp_path / "hf-home"),
        RAG_EMBEDDING_BACKEND="torch",
        RAG_TRANSLATE_QUERIES="false",
        **extra,
    )
    return env


@pytest.fixture
def filled(tmp_path: Path, embeddings: Embeddings) -> Path:
    data = tmp_path / "data"
    kb = KnowledgeBase(settings_for(data), embeddings)
    kb.ingest_bytes("walrus.txt", b"Walruses use their long tusks to haul out onto sea ice.")
    kb.ingest_bytes("owl.txt", b"Barn owls hunt at night and find mice by sound alone.")
    return data


def test_reindex_downloads_a_missing_model_with_progress_then_switches_to_it(
    tmp_path: Path, filled: Path
):
    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    with FakeHub(REPO_ID, model_dir) as hub:
        env = _env(tmp_path, HF_ENDPOINT=hub.url)
        done = _cli(["--data-dir", str(filled), "reindex", "--model", REPO_ID, "--grace", "0"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"re-indexed 2 chunks with {REPO_ID}" in done.stdout
    assert f"download {REPO_ID}" in done.stderr  # the bytes bar
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()) / 1e6
    assert f"{size:.1f}M/{size:.1f}M" in done.stderr  # every byte counted, once
    assert "model.safetensors" in hub.downloads and "modules.json" in hub.downloads
    pointer = read_pointer(build_chroma_client(filled / "chroma"), "documents")
    assert pointer is not None and pointer.identity == REPO_ID
    # offline from now on: the downloaded model answers from the cache
    offline = _env(tmp_path, HF_HUB_OFFLINE="1")
    found = _cli(["--data-dir", str(filled), "retrieve", "owls at night", "--json"], offline)
    assert found.returncode == 0, found.stderr[-2000:]
    assert json.loads(found.stdout.splitlines()[-1])[0]["source"] == "owl.txt"


def test_offline_or_unreachable_hub_says_what_to_do(tmp_path: Path, filled: Path):
    args = ["--data-dir", str(filled), "reindex", "--model", "intfloat/multilingual-e5-small"]
    offline = _cli(args, _env(tmp_path, HF_HUB_OFFLINE="1"))
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    refused = _cli(args, _env(tmp_path, HF_ENDPOINT=closed))
    for done, why in ((offline, "HF_HUB_OFFLINE is set"), (refused, f"no hub answers at {closed}")):
        assert done.returncode == 2
        message = done.stderr.strip().splitlines()[-1]
        assert why in message and "Download it on a machine with internet" in message
        assert "set RAG_EMBEDDING_MODEL to its path" in message
    assert read_pointer(build_chroma_client(filled / "chroma"), "documents") is None


def test_a_model_already_here_is_not_downloaded_and_a_missing_folder_is_explained(
    tmp_path: Path,
):
    assert ensure_model("all-MiniLM-L6-v2") == resolve_model_path("all-MiniLM-L6-v2")
    with pytest.raises(ModelUnavailableError, match="no folder at"):
        ensure_model(str(tmp_path / "no-such-model"))
