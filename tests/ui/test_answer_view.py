"""What the user sees of an answer (headless): thinking, sources split, notices, replay.

Each test switches the Ollama test server to one quirk mode (tests/ollama_server.py) and
asks through the real chain, as the Chat page does.
"""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from rag_core.generation.types import AnswerDelta, Searched, Sources
from rag_core.knowledge_base import KnowledgeBase
from tests.ollama_server import (
    CHINESE_ANSWER,
    REASONING,
    FakeOllamaServer,
    answer_passages,
    default_responder,
)
from ui.answer import events_in_background
from ui.text import escape_markdown

QUESTION = "When did Knuth start writing TeX?"
KOREAN_QUESTION = "한국어 윈도우에서 .tex 파일은 어떤 인코딩으로 저장하나요?"


def _assistant(app: AppTest):
    return [m for m in app.chat_message if m.name == "assistant"]


def _chat_id(app: AppTest) -> str:
    value = app.query_params["chat"]
    return value[0] if isinstance(value, list) else value


def _texts(block) -> str:
    return " ".join(" ".join(t.value.split()) for t in block.text)


def _headings(answer) -> list[str]:
    return [m.value for m in answer.markdown if m.value.startswith("**")]


def _notices(answer) -> str:
    return " ".join(w.value for w in answer.warning)


def _captions(answer) -> str:
    return " ".join(c.value for c in answer.caption)


def _ask(make_app, kb: KnowledgeBase, server: FakeOllamaServer, question: str, k: int = 3):
    app = make_app(kb.settings.data_dir, server.url)
    app.sidebar.slider(key="top_k").set_value(k).run()
    app.chat_input[0].set_value(question).run()
    assert not app.exception, app.exception
    [answer] = _assistant(app)
    return app, answer


def _quotes_passage_1(answer, body: str) -> bool:
    """The answer is a sentence of passage [1] (the first source expander) citing [1]."""
    sentence = body.removesuffix(" [1].")
    return body.endswith(" [1].") and sentence in _texts(_sources(answer)[0])


def _sources(answer):
    return [e for e in answer.expander if e.label.startswith("[")]


def _thinking(answer):
    return [e for e in answer.expander if e.label == "Thinking"]


def test_reasoning_goes_to_a_collapsed_thinking_expander_and_stays_out_of_the_answer(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "think-inline"
    app, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    [thinking] = _thinking(answer)
    assert not thinking.proto.expanded
    assert REASONING[:40] in _texts(thinking)
    body = answer.markdown[0].value
    assert "<think>" not in body and "think>" not in body and REASONING[:20] not in body
    assert _quotes_passage_1(answer, body)
    # [2] and [3] are named in the reasoning only: they are not cited
    assert _headings(answer) == ["**Cited** (1)", "**Also retrieved** (2)"]

    # the reasoning is not sent back to the model with a follow-up
    app.chat_input[0].set_value("And who wrote LaTeX?").run()
    sent = " ".join(str(m["content"]) for m in fake_ollama.chat_requests[-1]["messages"])
    assert body in sent and REASONING[:20] not in sent

    # a refresh replays the same thinking expander, answer and sources from the history
    again = make_app(corpus_kb.settings.data_dir, fake_ollama.url, {"chat": _chat_id(app)})
    first = _assistant(again)[0]
    [replayed] = _thinking(first)
    assert not replayed.proto.expanded and REASONING[:40] in _texts(replayed)
    assert first.markdown[0].value == body
    assert _headings(first) == ["**Cited** (1)", "**Also retrieved** (2)"]


def test_a_lone_closing_tag_retracts_the_streamed_text_into_the_thinking(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "think-lone-close"
    _, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    [thinking] = _thinking(answer)
    assert REASONING[:40] in _texts(thinking)
    [body] = [m.value for m in answer.markdown if not m.value.startswith("**")]
    assert "</think>" not in body and REASONING[:20] not in body
    assert _quotes_passage_1(answer, body)
    assert not answer.warning  # an honest answer: no notice


def test_cited_and_also_retrieved_with_the_supporting_sentence_marked(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "honest"
    app, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    assert _headings(answer) == ["**Cited** (1)", "**Also retrieved** (2)"]
    labels = [e.label for e in _sources(answer)]
    assert labels[0].startswith("[1] lshort") and labels[1].startswith("[2] ")
    assert not _thinking(answer) and not answer.warning
    body = answer.markdown[0].value
    assert _quotes_passage_1(answer, body)
    cited = _sources(answer)[0]
    supporting = [c.value for c in cited.caption if c.value.startswith("Supports the answer")]
    sentence = escape_markdown(body.removesuffix(" [1]."))
    assert len(supporting) == 1 and sentence in supporting[0]
    assert not any(c.value.startswith("Supports") for c in _sources(answer)[1].caption)

    cited.toggle[0].set_value(True).run()
    shown = _sources(_assistant(app)[0])[0]
    [image] = shown.get("image")
    [caption] = image.captions
    assert caption.endswith("(the sentence supporting the answer is highlighted)")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("no-citations", "The answer cites no source"),
        ("out-of-range", "The answer cites [9], which are not among the sources shown."),
        ("wrong-citation", "1 cited statement(s) are not supported by the passage they cite"),
    ],
)
def test_citation_notices(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, mode, expected
):
    fake_ollama.mode = mode
    _, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    assert expected in _notices(answer)
    if mode == "wrong-citation":
        assert "Not supported by [1]:" in _captions(answer)
    else:
        assert "Not supported by" not in _captions(answer)
    if mode == "no-citations":
        assert _headings(answer) == ["**Sources** (3)"]


def test_a_cut_off_answer_names_the_setting_and_survives_a_refresh(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, monkeypatch
):
    # the server cuts every reply at the request's num_predict (the setting's minimum, 16
    # tokens) with done_reason "length"; the answer here is longer than that
    monkeypatch.setenv("RAG_NUM_PREDICT", "16")
    fake_ollama.responder = lambda body: (
        default_responder(body) + " It goes on and on." * 10
        if answer_passages(body)
        else default_responder(body)
    )
    app, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    assert fake_ollama.replies[-1]["done_reason"] == "length"
    assert "cut off at the length limit: raise RAG_NUM_PREDICT (now 16 tokens)" in _notices(answer)

    again = make_app(corpus_kb.settings.data_dir, fake_ollama.url, {"chat": _chat_id(app)})
    assert _notices(_assistant(again)[0]) == _notices(answer)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "lower-ranked passages were left out to fit the model's context window"),
        ("ko", "모델의 컨텍스트 창(RAG_NUM_CTX)에 맞추기 위해 순위가 낮은 구절"),
    ],
)
def test_passages_left_out_for_the_context_window_get_a_notice(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer, monkeypatch,
    language: str, expected: str,
):  # fmt: skip
    # issue 21, item 8: a 1,024-token window holds fewer than the 4 passages retrieved
    monkeypatch.setenv("RAG_NUM_CTX", "1024")
    monkeypatch.setenv("RAG_NUM_PREDICT", "256")
    monkeypatch.setenv("RAG_UI_LANGUAGE", language)
    app, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION, k=4)
    shown = _captions(answer).replace("\\", "")
    assert expected in shown, shown
    assert len(_sources(answer)) < 4  # the passages kept: fewer than retrieved

    again = make_app(corpus_kb.settings.data_dir, fake_ollama.url, {"chat": _chat_id(app)})
    assert expected in _captions(_assistant(again)[0]).replace("\\", "")  # kept in history


def test_an_answer_in_another_language_is_asked_again(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "chinese"  # Chinese first; Korean once reminded
    _, answer = _ask(make_app, corpus_kb, fake_ollama, KOREAN_QUESTION)
    assert [r["language_reminder"] for r in fake_ollama.replies if r["kind"] == "answer"] == [
        False,
        True,
    ]
    body = answer.markdown[0].value
    assert CHINESE_ANSWER not in body
    assert "Asked again for an answer in Korean." in _captions(answer)
    assert "not in the question's language" not in _notices(answer)


def test_an_answer_still_in_another_language_after_the_retry_gets_a_notice(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.responder = lambda body: (
        CHINESE_ANSWER if answer_passages(body) else default_responder(body)
    )
    app, answer = _ask(make_app, corpus_kb, fake_ollama, KOREAN_QUESTION)
    assert CHINESE_ANSWER in answer.markdown[0].value  # the second answer, shown once
    assert "Asked again for an answer in Korean." in _captions(answer)
    assert "The answer is in Chinese, not in the question's language" in _notices(answer)

    app.sidebar.selectbox(key="ui_language").set_value("ko").run()
    korean = _assistant(app)[0]
    assert "한국어로 다시 답하도록 요청했습니다." in _captions(korean)
    assert "중국어로 되어 있습니다" in _notices(korean)


def test_the_status_is_gone_once_a_slow_model_answers(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "slow-first-token"
    fake_ollama.first_token_delay = 1.5
    _, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    assert _quotes_passage_1(answer, answer.markdown[0].value)
    assert not [b for b in answer.children.values() if getattr(b, "type", "") == "status"]


def test_events_keep_ticking_while_the_model_is_silent():
    def silent_then_answer():
        yield Sources(())
        time.sleep(0.45)
        yield AnswerDelta("Paris [1].")

    seen = list(events_in_background(silent_then_answer, tick_s=0.1))
    assert seen[0] == Sources(())
    assert seen[-1] == AnswerDelta("Paris [1].")
    assert seen[1:-1].count(None) >= 3  # the status is redrawn while nothing comes


def test_an_error_in_the_stream_reaches_the_page_and_stops_the_worker():
    stopped = []

    def failing():
        try:
            yield Searched("q")
            raise ValueError("boom")
        finally:
            stopped.append(True)

    with pytest.raises(ValueError, match="boom"):
        list(events_in_background(failing, tick_s=0.05))
    assert stopped == [True]


def test_footnote_range_and_bracket_citations_show_as_plain_numbers(
    make_app, corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "odd-citations"  # [1-2], [1, 2], [^2], 【1】 (issue 21, item 4)
    app, answer = _ask(make_app, corpus_kb, fake_ollama, QUESTION)
    live = answer.markdown[0].value
    app.run()  # the same answer replayed from the history
    replayed = _assistant(app)[0].markdown[0].value
    for body in (live, replayed):
        assert "[1][2]" in body and "[^2]" not in body and "【" not in body, body
        assert "[1-2]" not in body and "[1, 2]" not in body, body
    assert not any("cite no source" in w.value for w in answer.warning)
