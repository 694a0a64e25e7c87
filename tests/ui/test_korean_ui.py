"""Every page in Korean shows no English sentence of the app's own.

The walk: Chat (empty), Documents (upload with progress, the table, the delete and
collection-delete confirmations), Chat again (a question answered with its thinking, its
sources and the cited page; an answer with every notice: truncated, wrong language after
the retry note, invalid and unsupported citations with the unsupported sentence marked;
an answer citing nothing), Evaluate (a question set run).

What counts as an English sentence: a visible text of the app (a title, label, caption,
alert, help text, placeholder, progress text, table header) with no Hangul in it and at
least two Latin words of two letters or more, once names and code are taken out: code
spans, URLs, file names (``x.pdf``, ``.jsonl``...), setting names (``RAG_*``,
``OLLAMA_HOST``), model tags (``llama3.2:latest``) and the product and term names in
``ALLOWED_WORDS``. Document content is not UI text and is left out: passages and the
model's thinking (``st.text``), table cells, selectbox options, and the model's answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from tests.conftest import LSHORT_KO, pdf_pages
from tests.ollama_server import FakeOllamaServer, answer_passages, default_responder
from tests.ui.conftest import settle

HANGUL = re.compile(r"[\uac00-\ud7a3]")
NAMES_AND_CODE = re.compile(
    r"`[^`]*`"  # code span
    r"|https?://\S+"  # URL
    r"|[\w.-]*\.(?:pdf|txt|md|jsonl|json|tex)\b"  # file name or type
    r"|\b(?:RAG_[A-Z_]+|OLLAMA_HOST)\b"  # setting names
    r"|\b[\w.-]+:[\w.-]+\b"  # model tag
    r"|\b\w+@\d+\b"  # metric@k
)
ALLOWED_WORDS = {"Ollama", "Markdown", "PDF", "JSON", "Lines", "OCR", "top", "BM25", "MMR"}
UI_FIELDS = {"label", "body", "help", "placeholder", "caption", "text", "page_title", "title"}
"""Proto fields that hold what a person reads (not options, values or data)."""
SKIPPED_TYPES = {"text"}
"""Element types holding document content (passages are shown with ``st.text``)."""
ANSWER = "문서에 따르면 [1] 그렇습니다."
THINKING = "<think>생각: [2]도 본다</think>"
ENGLISH_ANSWER = "The moon is made of green cheese [1]. The documents say so [9]. " * 3
"""An answer in the wrong language (asked again, still English: a notice), cut at
RAG_NUM_PREDICT=16 tokens (truncated), citing [9] of 5 (invalid) and [1] for a sentence
passage [1] does not hold (unsupported)."""
UNCITED_ANSWER = "문서에 그런 내용이 있습니다."
ANSWERS = (ANSWER, ENGLISH_ANSWER, UNCITED_ANSWER)
"""The model's answers: document content, not UI text (a cut answer is a prefix)."""


def english_sentence(text: str) -> bool:
    """True when ``text`` reads as an English sentence (see the module docstring)."""
    plain = re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")  # undo escape_markdown
    if HANGUL.search(plain):
        return False
    words = re.findall(r"[A-Za-z]{2,}", NAMES_AND_CODE.sub(" ", plain))
    return len([w for w in words if w not in ALLOWED_WORDS]) >= 2


def test_english_sentence_rule():
    assert english_sentence("Yes, delete")
    assert english_sentence("Loading the embedding model...")
    assert not english_sentence("예, 삭제합니다")
    assert not english_sentence("연결됨 - Ollama 0.12.0")
    assert not english_sentence("Ollama")
    assert not english_sentence("lshort-ko.pdf, llama3.2:latest, RAG_NUM_CTX, `ollama serve`")
    assert not english_sentence("recall@5")


def _proto_texts(message: Message) -> Iterator[str]:
    for field, value in message.ListFields():
        if field.message_type is not None:
            values = [value] if isinstance(value, Message) else value  # repeated: a list
            for item in values:
                yield from _proto_texts(item)
        elif field.name in UI_FIELDS and isinstance(value, str):
            yield value


def visible_texts(app: AppTest) -> list[str]:
    """Every UI text on the page now (main area and sidebar), document content left out."""
    texts: list[str] = []

    def visit(node) -> None:
        if getattr(node, "type", "") in SKIPPED_TYPES:
            return
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            texts.extend(_proto_texts(proto))
        if getattr(node, "type", "") == "arrow_data_frame":
            texts.extend(str(c) for c in node.value.columns)
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(app._tree)
    return [t for t in texts if not any(a.startswith(t.strip()) for a in ANSWERS)]


def test_every_page_in_korean_has_no_english_sentence(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, monkeypatch
):
    monkeypatch.setenv("RAG_UI_LANGUAGE", "ko")
    monkeypatch.setenv("RAG_NUM_PREDICT", "16")  # the server cuts replies there
    reply = {"text": THINKING + ANSWER}
    fake_ollama.responder = lambda body: (
        reply["text"] if answer_passages(body) else default_responder(body)
    )
    seen: dict[str, list[str]] = {}

    def look(app: AppTest, where: str) -> AppTest:
        assert not app.exception, app.exception
        seen[where] = visible_texts(app)
        return app

    app = look(make_app(tmp_path / "data", fake_ollama.url), "chat, empty")
    assert app.title[0].value == "문서와 대화하기"

    app.switch_page("pages/documents.py").run()
    look(app, "documents, empty")
    name = "lshort-ko-1.pdf"
    app.file_uploader[0].set_value([(name, pdf_pages(LSHORT_KO, 15, 17), "application/pdf")])
    look(app.run(), "documents, indexing")
    look(settle(app), "documents, indexed")
    app.multiselect(key="delete_names").set_value([name]).run()
    look(app.button(key="delete_button").click().run(), "documents, delete confirmation")
    app.button(key="delete_cancel").click().run()
    look(app.button(key="delete_collection").click().run(), "documents, collection delete")
    app.button(key="delete_collection_cancel").click().run()

    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value("LaTeX 명령은 대소문자를 구별하나요?").run()
    answer = next(m for m in app.chat_message if m.name == "assistant")
    assert answer.expander, "no sources shown"
    assert answer.expander[0].label == "생각 과정", "no thinking expander"
    look(app, "chat, answered with thinking")
    answer.expander[1].toggle[0].set_value(True).run()
    look(app, "chat, cited page")
    assert app.get("image"), "the cited page is not shown"

    reply["text"] = ENGLISH_ANSWER
    app.chat_input[0].set_value("대소문자는 어떻게 구별하나요?").run()
    notices = look(app, "chat, notices").chat_message[-1].warning
    # truncated, language (after the retry), invalid [9], unsupported [1]
    assert len(notices) == 4, [n.value for n in notices]
    reply["text"] = UNCITED_ANSWER
    app.chat_input[0].set_value("명령 이름은 무엇으로 시작하나요?").run()
    assert look(app, "chat, no citation").chat_message[-1].warning, "no notice"

    app.switch_page("pages/evaluate.py").run()
    qa = json.dumps({"question": "LaTeX 명령", "doc": name, "pages": [17]}, ensure_ascii=False)
    app.file_uploader[0].set_value([("qa.jsonl", qa.encode(), "application/json")]).run()
    look(app.button(key="run_eval").click().run(), "evaluate, results")
    assert app.dataframe

    english = {where: [t for t in texts if english_sentence(t)] for where, texts in seen.items()}
    assert not any(english.values()), english
    assert all(seen.values())


def test_the_picked_ui_language_survives_a_reload(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer
):
    app = make_app(tmp_path / "data", fake_ollama.url)
    assert app.title[0].value == "Chat with your documents"  # the default: English
    app.sidebar.selectbox(key="ui_language").set_value("ko").run()
    assert app.title[0].value == "문서와 대화하기"
    again = make_app(tmp_path / "data", fake_ollama.url)  # a new browser session
    assert again.title[0].value == "문서와 대화하기"
    assert again.sidebar.selectbox(key="ui_language").value == "ko"
    again.sidebar.selectbox(key="ui_language").set_value("en").run()
    assert make_app(tmp_path / "data", fake_ollama.url).title[0].value == (
        "Chat with your documents"
    )
