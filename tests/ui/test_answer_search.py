"""The chat page shows the queries a question was searched with (the question and its
translation) and says when no translation could be used (test server: a lookup table)."""

from __future__ import annotations

from rag_core.knowledge_base import KnowledgeBase
from rag_core.retrieval.translation import clear_translation_cache
from tests.ollama_server import FakeOllamaServer
from tests.rag_core.retrieval.test_crosslingual import EN2KO, TRANSLATIONS, en_kb  # noqa: F401
from ui.text import escape_markdown


def _last_answer(app):
    return [m for m in app.chat_message if m.name == "assistant"][-1]


def test_translated_queries_show_under_the_answer_and_a_failed_one_says_so(
    make_app,
    en_kb: KnowledgeBase,  # noqa: F811
):
    item = EN2KO["lshort-14"]
    question, english = item["question"], item["source_question"]
    clear_translation_cache()
    with FakeOllamaServer(mode="honest", token_delay=0.0, translations=TRANSLATIONS) as server:
        app = make_app(en_kb.settings.data_dir, server.url)
        app.chat_input[0].set_value(question).run()
        assert not app.exception
        captions = " ".join(c.value for c in _last_answer(app).caption)
        assert escape_markdown(english) in captions and escape_markdown(question) in captions
        server.translations, server.mode = {}, "translate"  # now it returns the question as is
        app.chat_input[0].set_value("표를 가운데 정렬하려면 어떻게 하나요?").run()
        warnings = " ".join(w.value for w in _last_answer(app).warning)
        assert "searched only as asked" in warnings.replace("\\", "")
        app.run()  # replayed from the history: the notice and the queries stay
        answers = [m for m in app.chat_message if m.name == "assistant"]
        assert escape_markdown(english) in " ".join(c.value for c in answers[0].caption)
        assert "searched only as asked" in " ".join(w.value for w in answers[1].warning).replace(
            "\\", ""
        )
