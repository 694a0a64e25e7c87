"""The Documents page's embedding-model panel: an editor switches the model in the background."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rag_core.index.embeddings import build_embeddings, resolve_model_path
from rag_core.index.vector_store import build_chroma_client
from rag_core.index.vectors import read_pointer
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer


def _expander_text(app: AppTest) -> str:
    shown = " ".join(str(c.value) for c in [*app.caption, *app.success, *app.error, *app.info])
    return shown.replace("\\", "")  # names are escaped Markdown


def test_an_editor_switches_the_model_and_sees_the_build_finish(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "torch")  # fp32 both ways: quick to load
    data_dir = tmp_path / "data"
    kb = KnowledgeBase(
        settings_for(data_dir, embedding_backend="torch"),
        build_embeddings("all-MiniLM-L6-v2", backend="torch"),
    )
    kb.ingest_bytes("otter.txt", b"Sea otters hold hands while sleeping.")
    copy = tmp_path / "models" / "minilm-copy"  # another model: a local folder, no profile
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), copy)

    app = make_app(data_dir, fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    assert "answers with all-MiniLM-L6-v2 (languages: en)" in _expander_text(app)
    app.selectbox(key="model_switch_pick").set_value("__other__").run()
    app.text_input(key="model_switch_other").input(str(copy)).run()
    app.button(key="model_switch_start").click().run()
    deadline = time.monotonic() + 180
    while "now answers with" not in _expander_text(app):
        assert not app.exception and not app.error, (app.exception, app.error)
        assert time.monotonic() < deadline, _expander_text(app)
        time.sleep(0.5)
        app.run()
    assert f"answers with {copy}" in _expander_text(app)
    pointer = read_pointer(build_chroma_client(data_dir / "chroma"), "documents")
    assert pointer is not None and pointer.identity == str(copy)
    assert list(app.dataframe[0].value["Name"]) == ["otter.txt"]
