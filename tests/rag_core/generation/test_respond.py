"""The answer post-processing through the real langchain-ollama client, one test server mode
each (tests/ollama_server.py imitates what real models send; it proves plumbing, not
answer quality)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag_core.errors import StoreUnavailableError
from rag_core.generation.chain import ChainOptions, build_rag_chain
from rag_core.generation.report import answer_notices
from rag_core.generation.respond import answer_question, stream_rag_answer
from rag_core.generation.types import AnswerDelta, AnswerRetracted, ChatTurn, Checked, Retrying
from rag_core.knowledge_base import KnowledgeBase
from rag_core.llm.ollama import build_chat_model
from tests.conftest import settings_for
from tests.ollama_server import FakeOllamaServer

QUESTION = "When did Knuth start writing TeX?"
KO_QUESTION = "한국어 윈도우에서 .tex 파일은 어떤 인코딩으로 저장하나요?"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer(token_delay=0.0) as running:
        yield running


@pytest.fixture
def ollama(server: FakeOllamaServer) -> Iterator[FakeOllamaServer]:
    server.clear_requests()
    server.rewrite_template = "{question}"
    yield server
    server.mode = "default"


def _chain(kb: KnowledgeBase, server: FakeOllamaServer, **settings: object):
    s = settings_for(Path(kb.settings.data_dir), ollama_host=server.url, **settings)
    return build_rag_chain(kb.retriever(k=4), build_chat_model(s), ChainOptions.from_settings(s))


def _answer(kb: KnowledgeBase, server: FakeOllamaServer, question: str = QUESTION, **kw):
    history = kw.pop("history", ())
    return answer_question(_chain(kb, server, **kw), question, history=history, host=server.url)


@pytest.mark.parametrize("mode", ["think-inline", "think-multi", "think-lone-close"])
def test_inline_reasoning_never_reaches_the_answer_or_the_citations(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer, mode: str
):
    ollama.mode = mode
    result = _answer(corpus_kb, ollama)
    assert result.error == ""
    assert "<think>" not in result.answer and "</think>" not in result.answer
    assert "passage [2]" not in result.answer and "Okay, the user" in result.thinking
    assert result.check.cited == [1]  # [2] and [3] were only mentioned in the reasoning
    assert result.answer.startswith(ollama.replies[-1]["content"].rsplit("\n\n", 1)[-1][:20])


def test_lone_closing_tag_retracts_what_was_streamed_as_answer(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    ollama.mode = "think-lone-close"
    events = list(stream_rag_answer(_chain(corpus_kb, ollama), QUESTION))
    kinds = [type(e) for e in events]
    assert AnswerRetracted in kinds
    at = kinds.index(AnswerRetracted)
    assert events[at].text.startswith("Okay, the user")
    answer = "".join(e.text for e in events[at:] if isinstance(e, AnswerDelta))
    assert AnswerDelta in kinds[at:] and "</think>" not in answer and "[1]" in answer


def test_thinking_field_when_think_is_on(corpus_kb: KnowledgeBase, ollama: FakeOllamaServer):
    ollama.mode = "think-field"
    result = _answer(corpus_kb, ollama, ollama_think="on")
    assert ollama.chat_requests[-1]["think"] is True
    assert result.thinking.startswith("Okay, the user") and "[1]" in result.answer
    assert "Okay" not in result.answer
    off = _answer(corpus_kb, ollama, ollama_think="off")
    assert ollama.chat_requests[-1]["think"] is False and off.thinking == ""


def test_reasoning_is_not_sent_back_as_history(corpus_kb: KnowledgeBase, ollama: FakeOllamaServer):
    ollama.mode = "think-inline"
    first = _answer(corpus_kb, ollama)
    _answer(
        corpus_kb, ollama, "And when was it released?", history=[ChatTurn(QUESTION, first.answer)]
    )
    sent = [m["content"] for r in ollama.answer_requests[-2:] for m in r["messages"]]
    assistant = [
        m["content"] for m in ollama.answer_requests[-1]["messages"] if m["role"] == "assistant"
    ]
    assert assistant == [first.answer] and all("<think>" not in c for c in assistant)
    assert any("standalone question" in c for c in sent)  # the follow-up was rewritten


@pytest.mark.parametrize(
    ("mode", "preamble"),
    [("rewrite-preamble-en", "Here is the standalone question"), ("rewrite-preamble-ko", "다음은")],
)
def test_rewrite_preambles_are_stripped_from_the_query(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer, mode: str, preamble: str
):
    ollama.mode = mode
    ollama.rewrite_template = "{question} ({previous})"
    result = _answer(
        corpus_kb, ollama, "When was it released?", history=[ChatTurn(QUESTION, "In 1977 [1].")]
    )
    assert result.query == f"When was it released? ({QUESTION})"
    assert preamble not in result.query and '"' not in result.query


def test_rewrite_with_reasoning_is_cleaned(corpus_kb: KnowledgeBase, ollama: FakeOllamaServer):
    ollama.mode = "think-inline"
    ollama.rewrite_template = "{question} ({previous})"
    result = _answer(
        corpus_kb, ollama, "When was it released?", history=[ChatTurn(QUESTION, "In 1977 [1].")]
    )
    assert result.query == f"When was it released? ({QUESTION})"


def test_answer_cut_at_the_length_limit_is_flagged(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    ollama.mode = "length"
    s = settings_for(Path(corpus_kb.settings.data_dir), ollama_host=ollama.url)
    llm = build_chat_model(s)
    llm.num_predict = 4  # the server stops after 4 tokens with done_reason "length"
    chain = build_rag_chain(corpus_kb.retriever(k=4), llm, ChainOptions.from_settings(s))
    result = answer_question(chain, QUESTION)
    assert ollama.replies[-1]["done_reason"] == "length"
    assert result.check.truncated is True
    codes = [n.code for n in answer_notices(result.check, answer=result.answer, relevant=True)]
    assert "truncated" in codes
    ollama.mode = "honest"
    assert _answer(corpus_kb, ollama).check.truncated is False


def test_odd_citation_forms_and_numbers_beyond_the_sources(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    ollama.mode = "odd-citations"
    odd = _answer(corpus_kb, ollama)
    assert odd.check.cited == [1, 2] and odd.check.invalid_citations == []
    ollama.mode = "out-of-range"
    out = _answer(corpus_kb, ollama)
    assert out.check.cited == [1] and out.check.invalid_citations == [9]
    codes = [n.code for n in answer_notices(out.check, answer=out.answer, relevant=True)]
    assert "invalid_citations" in codes
    ollama.mode = "no-citations"
    bare = _answer(corpus_kb, ollama)
    assert bare.check.cited == []
    codes = [n.code for n in answer_notices(bare.check, answer=bare.answer, relevant=True)]
    assert codes == ["no_citation"]


def test_support_check_tells_an_honest_citation_from_a_wrong_one(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    ollama.mode = "honest"
    honest = _answer(corpus_kb, ollama)
    assert [c.supported for c in honest.check.claims if c.citations] == [True]
    ollama.mode = "wrong-citation"
    wrong = _answer(corpus_kb, ollama)
    assert [c.supported for c in wrong.check.claims if c.citations] == [False]
    codes = [n.code for n in answer_notices(wrong.check, answer=wrong.answer, relevant=True)]
    assert "unsupported" in codes


@pytest.mark.parametrize("mode", ["wrong-language", "chinese"])
def test_wrong_language_is_asked_again_once(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer, mode: str
):
    ollama.mode = mode
    result = _answer(corpus_kb, ollama, KO_QUESTION)
    assert result.retried is True and len(ollama.answer_requests) == 2
    assert result.check.answer_language == "ko" and result.check.language_match is True
    assert ollama.replies[-1]["language_reminder"] is True


def test_a_second_wrong_language_reply_gets_a_notice(
    corpus_kb: KnowledgeBase, ollama: FakeOllamaServer
):
    ollama.mode = "chinese"
    events = list(stream_rag_answer(_chain(corpus_kb, ollama), KO_QUESTION, retry_language=False))
    check = next(e.check for e in events if isinstance(e, Checked))
    assert check.answer_language == "zh" and check.language_match is False
    assert not any(isinstance(e, Retrying) for e in events)
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    codes = [n.code for n in answer_notices(check, answer=answer, relevant=True)]
    assert "language" in codes


def test_slow_first_token_still_streams(corpus_kb: KnowledgeBase, ollama: FakeOllamaServer):
    ollama.mode = "slow-first-token"
    ollama.first_token_delay = 0.5
    result = _answer(corpus_kb, ollama)
    assert result.ttft_s is not None and result.ttft_s >= 0.5 and "[1]" in result.answer


class _DeadStoreRetriever(BaseRetriever):
    """A retriever whose store went away (what a stopped Chroma server raises)."""

    def _get_relevant_documents(self, query: str, *, run_manager=None) -> list[Document]:
        raise StoreUnavailableError("the Chroma server at 127.0.0.1:9 is not answering")


def test_a_failing_store_is_the_answers_error_every_time(tmp_path: Path, ollama: FakeOllamaServer):
    """The store's error reaches the answer on every run, never a KeyError from the chain.

    Before each chain step took one key, the step after the search split its input stream
    in two; when the search raised, one copy ended early and its KeyError won about one
    run in three, so the loop runs often enough to catch that.
    """
    s = settings_for(tmp_path, ollama_host=ollama.url)
    chain = build_rag_chain(_DeadStoreRetriever(), build_chat_model(s))
    errors = {answer_question(chain, "Knuth?").error for _ in range(60)}
    assert len(errors) == 1 and "is not answering" in errors.pop()
    assert ollama.chat_requests == []
