"""Sources of other formats on the Chat page: an HWPX source is cited by heading path and
paragraph, its table passage shows as a table and "Show in the document" shows the cited
paragraph with its neighbours; a source read by OCR says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.knowledge_base import KnowledgeBase
from tests import hwp_docs
from tests.conftest import LSHORT, settings_for
from tests.ollama_server import FakeOllamaServer
from tests.scans import scanned_copy


@pytest.fixture(scope="module")
def formats_dir(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> Path:
    data = tmp_path_factory.mktemp("formats")
    kb = KnowledgeBase(settings_for(data), embeddings)
    for name, blob in [
        ("여비규정.hwpx", hwp_docs.regulation_hwpx()),
        ("scan.pdf", scanned_copy(LSHORT, [15], dpi=150)),  # Knuth and TeX, as an image
    ]:
        result = kb.ingest_bytes(name, blob)
        assert result.status == "indexed", result.error
    return data


def _answer(app):
    return [m for m in app.chat_message if m.name == "assistant"][-1]


def test_hwpx_table_source_shows_heading_path_a_table_and_its_paragraphs(make_app, formats_dir):
    with FakeOllamaServer(mode="honest", token_delay=0.0) as server:
        app = make_app(formats_dir, server.url)
        app.chat_input[0].set_value("과장의 숙박비 상한은 얼마인가요?").run()
        assert not app.exception
        answer = _answer(app)
        hwp = [e for e in answer.expander if "여비규정" in e.label]
        assert hwp, [e.label for e in answer.expander]
        assert any("¶" in e.label and "제2장 국내 출장" in e.label for e in hwp)
        tables = [df.value for df in answer.dataframe]
        assert any(
            "숙박비(원)" in list(df.columns) and "110,000" in df.to_string() for df in tables
        )
        toggle = next(t for t in answer.toggle if t.label == "Show in the document")
        toggle.set_value(True).run()
        answer = _answer(app)
        captions = " ".join(c.value for c in answer.caption)
        assert "¶" in captions and "제3조" in captions


def test_a_source_read_by_ocr_says_so(make_app, formats_dir):
    with FakeOllamaServer(mode="honest", token_delay=0.0) as server:
        app = make_app(formats_dir, server.url)
        app.chat_input[0].set_value(
            "When did Knuth start writing the TeX typesetting engine?"
        ).run()
        labels = [e.label for e in _answer(app).expander if "scan" in e.label]
        assert labels and all(label.endswith("OCR") for label in labels)
