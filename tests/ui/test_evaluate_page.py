"""The Evaluate page, headless: metrics per retrieval mode on an uploaded question set."""

from __future__ import annotations

from rag_core.evaluation.retrieval import evaluate, load_qa
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import QA_SAMPLE
from tests.ollama_server import FakeOllamaServer
from ui.text import escape_markdown


def test_evaluation_table_per_mode_and_document(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    app.switch_page("pages/evaluate.py").run()
    app.file_uploader(key="qa_file").set_value(
        ("qa.jsonl", QA_SAMPLE.read_bytes(), "application/json")
    ).run()
    app.multiselect(key="modes").set_value(["bm25", "hybrid"]).run()
    app.button(key="run_eval").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["mode"].unique()) == ["bm25", "hybrid"]
    # every question is in its document's language: no cross-lingual row
    assert set(table["scope"]) == {
        "overall",
        "questions in English",
        "questions in Korean",
        "same language as the document",
        "lshort.pdf",
        "lshort-ko.pdf",
    }
    expected = evaluate(load_qa(QA_SAMPLE), corpus_kb.retriever(mode="hybrid", k=5).retrieve, 5)
    hybrid = table[table["mode"] == "hybrid"].set_index("scope")
    assert hybrid.loc["overall", "recall@5"] == expected["overall"]["recall"]
    assert hybrid.loc["overall", "questions"] == 10
    english = expected["per_language"]["en"]
    assert hybrid.loc["questions in English", "recall@5"] == english["recall"]
    assert hybrid.loc["same language as the document", "questions"] == 10


def test_gate_rates_per_language_for_unanswerable_questions(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    from tests.conftest import QA_DEV

    lines = [line for line in QA_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = "\n".join(lines[:6] + lines[25:31] + lines[-12:]).encode()  # en, ko, 12 unanswerable
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    app.switch_page("pages/evaluate.py").run()
    app.file_uploader(key="qa_file").set_value(("qa.jsonl", sample, "application/json")).run()
    app.multiselect(key="modes").set_value(["hybrid"]).run()
    app.button(key="run_eval").click().run()
    assert not app.exception
    gate = app.dataframe[1].value
    assert set(gate["question language"]) == {"en", "ko"}
    en = gate[gate["question language"] == "en"].iloc[0]
    ko = gate[gate["question language"] == "ko"].iloc[0]
    # the gate refuses only clear misses (thresholds from the hard set): it lets one
    # Korean off-topic question through to the model
    assert en["caught"] == "6/6" and int(ko["caught"].split("/")[0]) >= 5
    assert en["refused wrongly"].endswith("/6") and ko["refused wrongly"].endswith("/6")


def test_a_bad_question_file_gets_a_clear_error(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    app.switch_page("pages/evaluate.py").run()
    app.file_uploader(key="qa_file").set_value(
        ("qa.jsonl", b'{"question": "no doc or pages"}\n', "application/json")
    ).run()
    app.button(key="run_eval").click().run()
    assert any(escape_markdown("qa.jsonl, line 1") in e.value for e in app.error)
    assert not app.dataframe
