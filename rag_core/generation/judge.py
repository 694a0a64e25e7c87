"""The optional LLM judge of cited sentences: one strict yes/no question per claim.

The lexical-semantic support check (:func:`rag_core.generation.support.claim_support`)
gives every cited sentence ("claim") a verdict without a model. A judge model, any Ollama
model (``--judge MODEL``), may refine it: for each claim that cites at least one valid
source it is asked whether the cited passage(s) support the sentence, answering only
"yes" or "no" (the "LLM-as-a-judge" set-up of Zheng et al. 2023, "Judging LLM-as-a-Judge
with MT-Bench and Chatbot Arena", arXiv:2306.05685, reduced to a binary grounding
question). Its verdict replaces :attr:`ClaimCheck.supported`; the lexical one stays in
:attr:`ClaimCheck.lexical`.

The judge is never required: a reply that is neither yes nor no keeps the lexical verdict
and is counted (:attr:`JudgeReport.unparsed`); an Ollama error keeps the lexical verdicts
of that claim and of every later claim of the answer (the judge is not asked again for
this answer) and is recorded (:attr:`JudgeReport.error`, :attr:`JudgeReport.error_code`).
Nothing here raises to the user. It costs one model call per cited claim.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from rag_core.config import Settings
from rag_core.generation.answer import answer_language
from rag_core.generation.citations import Citation
from rag_core.generation.claims import strip_citations
from rag_core.generation.prompts import build_judge_prompt
from rag_core.generation.types import AnswerCheck, ClaimCheck, JudgeReport
from rag_core.llm.ollama import OLLAMA_EXCEPTIONS, build_chat_model, explain_ollama_error
from rag_core.llm.reasoning import split_reasoning

logger = logging.getLogger(__name__)

YES_WORDS = frozenset({"yes", "예", "네"})
"""Replies read as "supported" (case-insensitive)."""

NO_WORDS = frozenset({"no", "아니오", "아니요", "아뇨"})
"""Replies read as "not supported" (case-insensitive)."""

_VERDICT = "|".join(sorted(YES_WORDS | NO_WORDS, key=len, reverse=True))
_VERDICT_RE = re.compile(rf"(?<!\w)({_VERDICT})(?!\w)", re.IGNORECASE)
_LEAD_RE = re.compile(r"^[\s*_`\"'“”‘’«»「」『』()\[\]>#:.-]+")
_LABEL_RE = re.compile(r"^(?:answer|verdict|judg(?:e)?ment|답|답변|판단)\s*[:：]\s*", re.IGNORECASE)


def parse_verdict(reply: str) -> bool | None:
    """Read a judge's reply as yes (True), no (False) or neither (None).

    Reasoning is removed first (:func:`rag_core.llm.reasoning.split_reasoning`:
    ``<think>`` blocks, a lone ``</think>``). The verdict is the reply's first word after
    Markdown, quotes and an "Answer:" / "답:" label, or else its last word: "yes", "예" or
    "네" (True), "no", "아니오", "아니요" or "아뇨" (False), in any case and with any
    punctuation ("Yes.", "**No**", "예, 뒷받침합니다.", "The answer is: no").

    Args:
        reply: the model's reply content (the separate thinking field excluded).

    Returns:
        True, False, or None when the reply is neither (empty, cut off while reasoning, or
        prose such as "There is no way to tell").
    """
    answer, _ = split_reasoning(reply)
    text = _LABEL_RE.sub("", _LEAD_RE.sub("", answer)).strip()
    first = _VERDICT_RE.match(text)
    words = text.split()
    last = _VERDICT_RE.fullmatch(words[-1].strip(".,;:!?*_`\"'”’)」』")) if words else None
    match = first or last
    if match is None:
        return None
    return match.group(1).lower() in YES_WORDS


def _message_text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else str(message.content)


class ClaimJudge:
    """Asks a chat model whether the cited passages support each cited sentence.

    Build it with :func:`build_judge`; any LangChain chat model works (tests use the
    repository's Ollama test server through ``ChatOllama``).
    """

    def __init__(self, llm: BaseChatModel, *, model: str, host: str = "") -> None:
        """Keep the model and what names it in error messages.

        Args:
            llm: the judge's chat model.
            model: its tag (in the report and error messages).
            host: the Ollama base URL (in error messages).
        """
        self.llm = llm
        self.model = model
        self.host = host

    def verdict(self, sentence: str, passages: Sequence[Citation]) -> bool | None:
        """Ask the judge about one sentence.

        Args:
            sentence: the claim without citation markers.
            passages: the cited sources (at least one), each sent as ``[n] text``.

        Returns:
            :func:`parse_verdict` of the reply.

        Raises:
            OllamaError: the model could not be asked (the library's error explained by
                :func:`rag_core.llm.ollama.explain_ollama_error`).
        """
        prompt = build_judge_prompt(answer_language(sentence))
        context = "\n\n".join(f"[{c.number}] {' '.join(c.text.split())}" for c in passages)
        messages = prompt.invoke({"passages": context, "sentence": sentence})
        try:
            reply = self.llm.invoke(messages)
        except OLLAMA_EXCEPTIONS as exc:
            raise explain_ollama_error(exc, host=self.host, model=self.model) from exc
        verdict = parse_verdict(_message_text(reply))
        logger.debug("judge %s on %r: %r", self.model, sentence[:60], verdict)
        return verdict

    def refine(self, check: AnswerCheck, citations: Sequence[Citation]) -> JudgeReport:
        """Judge every claim of ``check`` that cites a valid source; set the verdicts.

        For each such claim, :attr:`ClaimCheck.judge` gets the judge's verdict and
        :attr:`ClaimCheck.supported` takes it when there is one; :attr:`ClaimCheck.lexical`
        keeps the lexical verdict. After the first Ollama error the remaining claims are
        not asked. The report is also stored in ``check.judge``.

        Args:
            check: from :func:`rag_core.generation.respond.check_answer` (changed in place).
            citations: the numbered sources the answer was written from.

        Returns:
            The report (never raises for a model problem).
        """
        report = JudgeReport(model=self.model)
        by_number = {c.number: c for c in citations}
        for claim in check.claims:
            cited = [by_number[n] for n in claim.citations if n in by_number]
            if not cited or claim.supported is None:
                continue
            if report.error:
                report.skipped += 1
                continue
            report.asked += 1
            try:
                verdict = self.verdict(strip_citations(claim.text), cited)
            except OLLAMA_EXCEPTIONS as exc:
                error = explain_ollama_error(exc, host=self.host, model=self.model)
                logger.warning("judge %s failed, lexical verdicts kept: %s", self.model, error)
                report.error, report.error_code = str(error), error.code
                continue
            _apply(claim, verdict, report)
        check.judge = report
        return report


def _apply(claim: ClaimCheck, verdict: bool | None, report: JudgeReport) -> None:
    claim.judge = verdict
    if verdict is None:
        report.unparsed += 1
        return
    report.judged += 1
    report.overturned += verdict != claim.lexical
    claim.supported = verdict


def build_judge(settings: Settings, model: str, *, host: str | None = None) -> ClaimJudge:
    """Build the citation judge on an Ollama model.

    Nothing is sent to the server until a claim is judged.

    Args:
        settings: host, ``num_ctx``, ``num_predict``, ``ollama_think`` and the timeout, as
            for the answer model (:func:`rag_core.llm.ollama.build_chat_model`).
        model: the judge model's tag (any Ollama model, e.g. "qwen3:8b").
        host: the judge's Ollama base URL; ``settings.ollama_host`` if None.

    Returns:
        The judge.
    """
    if host is not None:
        settings = settings.model_copy(update={"ollama_host": host})
    llm = build_chat_model(settings, model=model)
    return ClaimJudge(llm, model=model, host=settings.ollama_host)


__all__ = ["NO_WORDS", "YES_WORDS", "ClaimJudge", "build_judge", "parse_verdict"]
