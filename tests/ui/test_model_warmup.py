"""The app prepares the embedding model in the background at start; the Documents page says so.

The model's build is replaced by a slow one held by a gate (a LangChain
``DeterministicFakeEmbedding`` of the real model's 384 dimensions once it opens), so the
test sees the page while the model is still being prepared, and again when it is ready.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from rag_core.config import build_settings
from tests.ollama_server import FakeOllamaServer
from ui.resources import get_warmup

STAGE = {
    "en": "Preparing the embedding model (first start only)",
    "ko": "임베딩 모델을 준비하는 중입니다 (처음 시작할 때만)",
}


@pytest.mark.parametrize(("language", "batch_size"), [("en", "7"), ("ko", "9")])
def test_documents_page_shows_the_model_stage_while_the_warmup_runs(
    make_app,
    tmp_path: Path,
    fake_ollama: FakeOllamaServer,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    batch_size: str,
):
    gate = threading.Event()
    builds: list[str] = []

    def slow_build(model_name: str, *, batch_size: int, backend: str) -> Embeddings:
        builds.append(backend)
        gate.wait(60)
        return DeterministicFakeEmbedding(size=384)

    monkeypatch.setattr("ui.resources.build_embeddings", slow_build)
    # a batch size of its own: a model of its own in the process-wide cache
    monkeypatch.setenv("RAG_EMBEDDING_BATCH_SIZE", batch_size)
    monkeypatch.setenv("RAG_UI_LANGUAGE", language)
    data = tmp_path / "data"
    try:
        app = make_app(data, fake_ollama.url)  # app.py starts the warm-up, on the Chat page
        deadline = time.monotonic() + 30
        while not builds and time.monotonic() < deadline:
            time.sleep(0.05)
        assert builds, "app.py did not start preparing the model"
        app.switch_page("pages/documents.py").run()  # not blocked by the model's build
        assert not app.exception, app.exception
        assert any(STAGE[language] in i.value for i in app.info), [i.value for i in app.info]
        assert app.file_uploader  # files can be dropped meanwhile
        other = make_app(data, fake_ollama.url)  # a second session shares the warm-up
        other.switch_page("pages/documents.py").run()
        assert any(STAGE[language] in i.value for i in other.info)
    finally:
        gate.set()
    warmup = get_warmup(build_settings(data_dir=data))
    assert warmup.wait(60) and warmup.stage == "ready" and warmup.error is None
    app.run()
    assert not any(STAGE[language] in i.value for i in app.info)
    assert builds == ["openvino-int8"]  # built once, for every session (the suite's backend)


def test_the_progress_bar_names_the_model_stage_not_a_frozen_page_count():
    from rag_core.ingestion.progress import IngestProgress
    from ui.documents import progress_text

    event = IngestProgress("a.pdf", "model", 0, 1, 12.0, 11.0)
    assert progress_text(event, "a.pdf") == (
        "a.pdf: preparing the embedding model (first start only)"
    )
