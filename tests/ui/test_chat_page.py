"""The Chat page, headless (streamlit.testing AppTest), against a fake Ollama server."""

from __future__ import annotations

from rag_core.knowledge_base import KnowledgeBase
from tests.ollama_server import FakeOllamaServer, closed_port_url
from ui.text import escape_markdown

QUESTION = "When did Knuth start writing TeX?"


def _assistant(app):
    return [m for m in app.chat_message if m.name == "assistant"]


def test_sidebar_shows_host_version_and_models(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.models = ["llama3.2:latest", "gemma3:4b"]
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    assert any("0.12.0" in s.value for s in app.sidebar.success)
    assert any(fake_ollama.url in c.value for c in app.sidebar.caption)
    picker = app.sidebar.selectbox(key="chat_model")
    assert sorted(picker.options) == ["gemma3:4b", "llama3.2:latest"]
    assert picker.value == "llama3.2:latest"
    assert app.sidebar.slider(key="top_k").value == 5


def test_question_streams_the_servers_echo_and_marks_its_source_cited(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    app.sidebar.slider(key="top_k").set_value(3).run()
    app.chat_input[0].set_value(QUESTION).run()
    assert not app.exception
    [answer] = _assistant(app)
    assert "[1]" in answer.markdown[0].value
    labels = [e.label for e in answer.expander]
    assert len(labels) == 3 and labels[0].startswith("[1] lshort")
    assert "p. 15 (printed 1)" in " ".join(labels)
    headings = [m.value for m in answer.markdown if m.value.startswith("**")]
    assert headings == ["**Cited** (1)", "**Also retrieved** (2)"]  # [1] is cited
    assert "Knuth started writing" in " ".join(" ".join(t.value.split()) for t in answer.text)
    assert fake_ollama.chat_requests[-1]["model"] == "llama3.2:latest"

    app.chat_input[0].set_value("Which class gives a book layout?").run()
    answers = _assistant(app)
    assert len(answers) == 2
    assert [e.label for e in answers[0].expander] == labels  # the first turn keeps its sources
    assert len(fake_ollama.chat_requests[-1]["messages"]) == 4  # system, q1, a1, q2


def test_ollama_down_still_shows_sources_and_what_to_do(make_app, corpus_kb: KnowledgeBase):
    host = closed_port_url()
    app = make_app(corpus_kb.settings.data_dir, host)
    assert any("ollama serve" in e.value and host in e.value for e in app.sidebar.error)
    app.chat_input[0].set_value(QUESTION).run()
    [answer] = _assistant(app)
    # the warning is shown as plain text (escaped Markdown), also when it is replayed
    assert any(
        "ollama serve" in w.value and escape_markdown(host) in w.value for w in answer.warning
    )
    # no Markdown in the engine's text, so no escaped backticks shown around the command
    assert not any("`" in w.value for w in [*answer.warning, *app.sidebar.error])
    assert len(answer.expander) == 5
    assert any("lshort\\.pdf" in e.label for e in answer.expander)  # escaped markdown


def test_model_not_pulled_says_ollama_pull(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.models = ["gemma3:4b"]
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    assert app.sidebar.selectbox(key="chat_model").value == "llama3.2"
    app.chat_input[0].set_value(QUESTION).run()
    [answer] = _assistant(app)
    assert any("ollama pull llama3\\.2" in w.value for w in answer.warning)
    assert answer.expander and not fake_ollama.chat_requests
    app.sidebar.selectbox(key="chat_model").set_value("gemma3:4b").run()
    app.chat_input[0].set_value(QUESTION).run()
    assert fake_ollama.chat_requests[-1]["model"] == "gemma3:4b"
    assert "[1]" in _assistant(app)[-1].markdown[0].value


def test_chat_survives_a_refresh_and_exports_as_markdown(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    app.chat_input[0].set_value(QUESTION).run()
    chat_id = (
        app.query_params["chat"][0]
        if isinstance(app.query_params["chat"], list)
        else app.query_params["chat"]
    )
    first_labels = [e.label for e in _assistant(app)[0].expander]

    # a browser refresh: a new session that opens the URL with ?chat=<id>
    again = make_app(corpus_kb.settings.data_dir, fake_ollama.url, query={"chat": chat_id})
    [answer] = _assistant(again)
    assert [e.label for e in answer.expander] == first_labels
    assert any(QUESTION in t.value for m in again.chat_message if m.name == "user" for t in m.text)
    assert any(escape_markdown(QUESTION[:40]) in b.label for b in again.sidebar.button)

    exported = again.get("download_button")[0]
    assert "Export chat as Markdown" in exported.proto.label

    # a new chat starts empty, and the old one stays listed
    again.sidebar.button(key="new_chat").click().run()
    assert not _assistant(again)
    assert any(escape_markdown(QUESTION[:40]) in b.label for b in again.sidebar.button)


def test_korean_ui(make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer):
    app = make_app(corpus_kb.settings.data_dir, fake_ollama.url)
    assert app.title[0].value == "Chat with your documents"
    app.sidebar.selectbox(key="ui_language").set_value("ko").run()
    assert app.title[0].value == "문서와 대화하기"
    app.chat_input[0].set_value("한국어 윈도우에서 .tex 파일은 어떤 인코딩으로 저장하나요?").run()
    [answer] = _assistant(app)
    assert any(m.value.startswith("**인용한 출처**") for m in answer.markdown)
    assert any("쪽" in e.label for e in answer.expander)
    assert any("연결됨" in s.value for s in app.sidebar.success)


def test_every_ui_text_has_both_languages():
    from ui.i18n import MESSAGES

    for key, texts in MESSAGES.items():
        assert set(texts) == {"en", "ko"}, key
        assert all(texts.values()), key


def _chat_buttons(app) -> list[str]:
    return [b.label for b in app.sidebar.button if b.key and b.key.startswith("chat_")]


def test_a_new_chat_is_listed_at_once_with_its_time_and_can_be_renamed_and_deleted(
    make_app, tmp_path, fake_ollama: FakeOllamaServer
):
    import re

    app = make_app(tmp_path / "data", fake_ollama.url)
    assert _chat_buttons(app) == []
    app.chat_input[0].set_value(QUESTION).run()
    # listed in the same run as its first question, with the time of its last message
    [label] = _chat_buttons(app)
    assert label.startswith("> When did Knuth") and re.search(r" · \d\d-\d\d \d\d:\d\d$", label)
    app.text_input(key="chat_title").set_value("Knuth and *TeX*").run()
    app.button(key="rename_chat").click().run()
    [label] = _chat_buttons(app)
    assert label.startswith("> Knuth and \\*TeX\\*"), label  # a person's text, escaped

    app.button(key="delete_chat").click().run()
    assert _chat_buttons(app)  # asks first
    app.button(key="delete_chat_confirm").click().run()
    assert _chat_buttons(app) == [] and not _assistant(app)


def test_a_source_whose_document_was_deleted_says_why_it_has_no_page(
    make_app, tmp_path, fake_ollama: FakeOllamaServer
):
    from tests.conftest import LSHORT, pdf_pages

    app = make_app(tmp_path / "data", fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    chapter = ("ch1.pdf", pdf_pages(LSHORT, 13, 20), "application/pdf")
    app.file_uploader[0].set_value([chapter]).run()
    while app.progress:  # the ingest runs in the background
        app.run()
    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value(QUESTION).run()
    [answer] = _assistant(app)
    assert any(t.label == "Show on the page" for t in answer.toggle)
    app.switch_page("pages/documents.py").run()
    app.multiselect(key="delete_names").set_value(["ch1.pdf"]).run()
    app.button(key="delete_button").click().run()
    app.button(key="delete_confirm").click().run()
    app.switch_page("pages/chat.py").run()  # the chat is replayed from the history
    [answer] = _assistant(app)
    assert not answer.toggle
    assert any("no longer stored" in c.value for c in answer.caption), answer.caption
