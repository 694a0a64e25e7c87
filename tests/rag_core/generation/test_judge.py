"""The optional LLM judge of cited sentences through the real langchain-ollama client.

The test server's judge (tests/ollama_server.py, request kind "judge") answers "yes" when
the sentence appears in the cited passages: it proves the plumbing (prompt, reply parsing,
fallbacks, reporting), not the quality of any judge model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_core.generation.chain import ChainOptions, build_rag_chain
from rag_core.generation.citations import Citation
from rag_core.generation.judge import ClaimJudge, build_judge, parse_verdict
from rag_core.generation.prompts import JUDGE_SYSTEM_PROMPTS
from rag_core.generation.report import answer_json, answer_notices
from rag_core.generation.respond import RagAnswer, answer_question, check_answer
from rag_core.knowledge_base import KnowledgeBase
from rag_core.llm.ollama import build_chat_model
from tests.conftest import settings_for
from tests.ollama_server import JUDGE_MARKERS, FakeOllamaServer, closed_port_url

QUESTION = "When did Knuth start writing TeX?"
KO_QUESTION = "한국어 윈도우에서 .tex 파일은 어떤 인코딩으로 저장하나요?"


def _judge(kb: KnowledgeBase, host: str, model: str = "llama3.2") -> ClaimJudge:
    return build_judge(settings_for(Path(kb.settings.data_dir)), model, host=host)


def _answer(
    kb: KnowledgeBase,
    server: FakeOllamaServer,
    judge: ClaimJudge | None,
    question: str = QUESTION,
) -> RagAnswer:
    s = settings_for(Path(kb.settings.data_dir), ollama_host=server.url)
    chain = build_rag_chain(kb.retriever(k=4), build_chat_model(s), ChainOptions.from_settings(s))
    return answer_question(chain, question, host=server.url, judge=judge)


def _cited(result: RagAnswer) -> list:
    claims = [c for c in result.check.claims if c.supported is not None]
    assert claims, result.answer
    return claims


def _judge_replies(server: FakeOllamaServer) -> list[dict]:
    return [r for r in server.replies if r["kind"] == "judge"]


def _codes(result: RagAnswer) -> list[str]:
    notices = answer_notices(result.check, answer=result.answer, relevant=result.relevant)
    return [n.code for n in notices]


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("yes", True),
        ("Yes.", True),
        ("**NO**", False),
        ("No, the passage says 1977.", False),
        ("예", True),
        ("네, 뒷받침합니다.", True),
        ("아니오.", False),
        ("아니요", False),
        ("Answer: yes", True),
        ("The answer is no.", False),
        ("<think>The passage says no such thing? It does.</think>\n\nyes", True),
        ("Reasoning first: yes or no... </think> no", False),
        ("There is no way to tell from the passage.", None),
        ("예를 들어 구절은 인코딩을 설명합니다.", None),
        ("<think>unfinished reasoning, yes", None),
        ("", None),
    ],
)
def test_parse_verdict_reads_yes_and_no_in_english_and_korean(reply: str, verdict: bool | None):
    assert parse_verdict(reply) is verdict


def test_honest_citations_are_confirmed_by_the_judge(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "honest"
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, fake_ollama.url))
    claims = _cited(result)
    assert all((c.judge, c.supported, c.lexical) == (True, True, True) for c in claims)
    report = result.check.judge
    assert report is not None and report.model == "llama3.2"
    assert report.asked == report.judged == len(claims) and report.overturned == 0
    assert [r["content"] for r in _judge_replies(fake_ollama)] == ["yes"] * len(claims)
    request = fake_ollama.chat_requests[-1]
    assert JUDGE_MARKERS[0] in request["messages"][0]["content"]
    assert "Sentence: " in request["messages"][-1]["content"]
    assert "[1]" not in request["messages"][-1]["content"].rsplit("</passages>", 1)[-1]
    payload = answer_json(result)
    assert payload["judge"]["judged"] == len(claims) and payload["claims"][0]["judge"] is True
    assert payload["claims"][0]["lexical"] is True


def test_a_wrong_citation_is_rejected_by_the_judge(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "wrong-citation"
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, fake_ollama.url))
    assert [(c.judge, c.supported) for c in _cited(result)] == [(False, False)]
    assert [r["content"] for r in _judge_replies(fake_ollama)] == ["no"]
    assert "unsupported" in _codes(result)


def test_the_judges_verdict_overrides_the_lexical_one(
    fake_ollama: FakeOllamaServer, tmp_path: Path
):
    """A paraphrase: every word is in the passage (lexically supported), but not the text."""
    fake_ollama.mode = "honest"
    passage = "Donald Knuth began writing TeX in 1977. The TeX we use today came out in 1990."
    citations = [Citation(number=1, source="tex.pdf", page=1, page_label="1", text=passage)]
    answer = "In 1977 Donald Knuth began writing TeX [1]."
    check = check_answer(answer, QUESTION, citations)
    assert [(c.supported, c.lexical) for c in check.claims] == [(True, True)]
    judge = build_judge(settings_for(tmp_path), "llama3.2", host=fake_ollama.url)
    report = judge.refine(check, citations)
    [claim] = check.claims
    assert (claim.judge, claim.supported, claim.lexical) == (False, False, True)
    assert report.overturned == 1 and check.judge is report
    assert check.to_dict()["judge"]["overturned"] == 1


def test_a_judge_that_thinks_first_is_read_after_its_reasoning(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "judge-think"
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, fake_ollama.url))
    assert [c.judge for c in _cited(result)] == [True]
    assert _judge_replies(fake_ollama)[0]["content"].startswith("<think>")
    assert result.check.judge is not None and result.check.judge.unparsed == 0


def test_a_korean_claim_gets_the_korean_prompt_and_a_korean_yes(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "judge-korean"
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, fake_ollama.url), KO_QUESTION)
    assert result.check.answer_language == "ko"
    assert [c.judge for c in _cited(result)] == [True]
    assert [r["content"] for r in _judge_replies(fake_ollama)] == ["예"]
    system = fake_ollama.chat_requests[-1]["messages"][0]["content"]
    assert system == JUDGE_SYSTEM_PROMPTS["ko"] and JUDGE_MARKERS[1] in system


def test_a_reply_that_is_neither_yes_nor_no_keeps_the_lexical_verdict(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "judge-garbage"
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, fake_ollama.url))
    claims = _cited(result)
    assert [(c.judge, c.supported) for c in claims] == [(None, c.lexical) for c in claims]
    assert all(c.lexical is True for c in claims)
    report = result.check.judge
    assert report is not None and report.unparsed == report.asked == len(claims)
    assert report.judged == 0 and "judge_unparsed" in _codes(result)


def test_a_judge_server_that_is_down_keeps_the_answer_and_the_lexical_verdicts(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "odd-citations"  # four cited sentences: one failed call, three skipped
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, closed_port_url()))
    assert result.error == "" and "[1" in result.answer
    claims = _cited(result)
    assert len(claims) == 4
    assert [(c.judge, c.supported) for c in claims] == [(None, c.lexical) for c in claims]
    report = result.check.judge
    assert report is not None and report.error_code == "unreachable"
    assert report.asked == 1 and report.skipped == 3 and report.failed == 4
    assert "ollama serve" in report.error
    assert "judge_failed" in _codes(result)
    assert answer_json(result)["judge"]["error_code"] == "unreachable"
    assert _judge_replies(fake_ollama) == []


def test_a_judge_model_that_is_not_pulled_is_reported(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "honest"
    result = _answer(corpus_kb, fake_ollama, _judge(corpus_kb, fake_ollama.url, model="qwen3:8b"))
    report = result.check.judge
    assert report is not None and report.error_code == "missing_model"
    assert "ollama pull qwen3:8b" in report.error
    assert [c.supported for c in _cited(result)] == [True]


def test_without_a_judge_no_judge_request_is_sent(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    fake_ollama.mode = "odd-citations"
    result = _answer(corpus_kb, fake_ollama, None)
    assert result.check.judge is None
    assert all(c.judge is None and c.supported == c.lexical for c in result.check.claims)
    assert _judge_replies(fake_ollama) == [] and len(fake_ollama.answer_requests) == 1
    assert answer_json(result)["judge"] is None
