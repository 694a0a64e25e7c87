"""The answer's types: what one answer is, the events that stream it, and their one fold.

Every door (the Streamlit Chat page, the CLI, the benchmarks, the HTTP API, the MCP
server) reads an answer as a stream of :data:`AnswerEvent` s from
:meth:`rag_core.engine.Engine.ask` and folds them with :class:`AnswerFold` into one
:class:`RagAnswer`; the chat history stores a
:class:`~rag_core.chats.history.ChatMessage` built from it.

The events, in the order they come:

1. :class:`Searched`: the query searched (a follow-up rewritten), its translations and
   what the search could not do;
2. :class:`Sources`: the numbered passages the model sees, whether any was relevant
   enough and how many were left out for the context window;
3. while the model replies: :class:`~rag_core.llm.reasoning.ThinkingDelta`
   (reasoning), :class:`~rag_core.llm.reasoning.AnswerDelta` (answer text),
   :class:`~rag_core.llm.reasoning.AnswerRetracted` (what streamed as the answer was
   reasoning: clear it) and :class:`Retrying` (the answer was in another language: clear
   it, a second one streams);
4. :class:`Checked`: citations, claims, language and truncation of the finished answer;

and :class:`Failed` in place of what could not come (the model or the store failed); the
stream then ends normally, so the sources stay usable without a model.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rag_core.generation.citations import Citation
from rag_core.llm.reasoning import AnswerDelta, AnswerRetracted, ThinkingDelta


@dataclass
class JudgeReport:
    """What the judge did for one answer.

    Attributes:
        model: the judge model's tag.
        asked: claims the judge was asked about (one model call each).
        judged: claims it gave a verdict on (yes or no).
        overturned: verdicts that differ from the lexical one.
        unparsed: replies that were neither yes nor no (the lexical verdict was kept).
        skipped: claims not asked because an earlier call failed (lexical verdict kept).
        error: the actionable message of the Ollama error that stopped the judge ("" if
            none; see :func:`rag_core.llm.ollama.explain_ollama_error`).
        error_code: that error's code ("unreachable", "missing_model", "busy", "timeout"
            or "" for others and when there was none).
    """

    model: str
    asked: int = 0
    judged: int = 0
    overturned: int = 0
    unparsed: int = 0
    skipped: int = 0
    error: str = ""
    error_code: str = ""

    @property
    def failed(self) -> int:
        """Claims whose lexical verdict was kept for an Ollama error (the failed call too)."""
        return self.skipped + (1 if self.error else 0)


@dataclass
class ClaimCheck:
    """One sentence of the answer and whether its cited passage supports it.

    Attributes:
        text: the sentence as written (citation markers included).
        citations: the numbers it cites (valid or not), in order.
        supported: True / False when it cites a valid source; None when it cites none.
            The judge's verdict when a judge gave one, else the lexical one.
        source: the cited number whose passage supports it best (0 when none).
        spans: ``(start, end)`` character offsets of the supporting sentence(s) in that
            passage (for highlighting; empty when the lexical check found none).
        lexical: the lexical-semantic verdict (:func:`claim_support`), None as above.
        judge: the judge model's verdict; None when no judge ran, the claim cites no
            valid source, or the judge's reply was unusable (see :class:`JudgeReport`).
    """

    text: str
    citations: list[int] = field(default_factory=list)
    supported: bool | None = None
    source: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    lexical: bool | None = None
    judge: bool | None = None


@dataclass
class AnswerCheck:
    """What was checked on a finished answer.

    Attributes:
        cited: sorted valid source numbers the answer cites.
        invalid_citations: sorted numbers beyond the sources (e.g. ``[9]`` of 5).
        claims: every sentence of the answer with its citations and support verdict.
        answer_language: "ko", "en", "zh", "ja" or "" (too little text).
        language_match: the answer is in the question's language.
        truncated: the model stopped at ``num_predict`` (``done_reason: "length"``).
        judge: what the judge model did (None when no judge was asked).
    """

    cited: list[int] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)
    claims: list[ClaimCheck] = field(default_factory=list)
    answer_language: str = ""
    language_match: bool = True
    truncated: bool = False
    judge: JudgeReport | None = None

    @property
    def unsupported(self) -> list[ClaimCheck]:
        """Claims that cite a source whose passage does not support them."""
        return [c for c in self.claims if c.supported is False]

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return asdict(self)


@dataclass
class RagAnswer:
    """The answer to one question with the sources it was given and what was checked.

    Attributes:
        question: the question.
        query: the standalone query used for retrieval (differs from the question when a
            follow-up was rewritten).
        queries: every query searched: ``query``, then its translations into the
            documents' languages when the question's language is not among them.
        search_notices: ``(code, params)`` of what the search could not do (e.g.
            ``"translation_unavailable"``, see
            :attr:`rag_core.retrieval.crosslingual.SearchResult.notices`).
        answer: the answer text, never any reasoning ("" when the model failed).
        thinking: the model's reasoning ("" when none).
        citations: the numbered sources (what the model saw), best first.
        relevant: False when no passage was relevant enough: the answer then says the
            documents do not contain it and the citations are only the closest matches.
        dropped: passages left out to fit the context window.
        error: an actionable message when the model could not answer ("" otherwise).
        error_code: what failed, for a translated message (e.g. ``"unreachable"``,
            ``"model_missing"``; see :class:`rag_core.errors.OllamaError`); "" when the
            error has no code or there was none.
        error_params: the values that message is formatted with.
        check: citations, claims, language and truncation (see :class:`AnswerCheck`).
        retried: the answer was asked for a second time (wrong language the first time).
        ttft_s: seconds from the question to the first answer token (None if none).
    """

    question: str
    query: str = ""
    queries: list[str] = field(default_factory=list)
    search_notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answer: str = ""
    thinking: str = ""
    citations: list[Citation] = field(default_factory=list)
    relevant: bool = True
    dropped: int = 0
    error: str = ""
    error_code: str = ""
    error_params: dict[str, Any] = field(default_factory=dict)
    check: AnswerCheck = field(default_factory=AnswerCheck)
    retried: bool = False
    ttft_s: float | None = None


@dataclass
class ChatTurn:
    """One earlier exchange of a conversation, sent with a new question (the history).

    Attributes:
        question: what the user asked.
        answer: what the model answered (may be empty when the model was not reachable).
    """

    question: str
    answer: str


@dataclass(frozen=True)
class Searched:
    """Retrieval searched these queries.

    Attributes:
        query: the standalone query (differs from the question when a follow-up was
            rewritten).
        queries: every query searched: ``query``, then its translations.
        notices: ``(code, params)`` of what the search could not do
            (``"translation_unavailable"``, ``"translation_unusable"``; see
            :attr:`rag_core.retrieval.crosslingual.SearchResult.notices`).
    """

    query: str
    queries: tuple[str, ...] = ()
    notices: tuple[tuple[str, dict[str, Any]], ...] = ()


@dataclass(frozen=True)
class Sources:
    """The numbered passages the model is given (or the closest ones, when none is relevant).

    Attributes:
        citations: the sources, best first, numbered as the model sees them.
        relevant: False when no passage was relevant enough: the answer is then the fixed
            "not in the documents" text and the sources are only the closest matches.
        dropped: passages left out to fit the model's context window.
    """

    citations: tuple[Citation, ...]
    relevant: bool = True
    dropped: int = 0


@dataclass(frozen=True)
class Retrying:
    """The answer was in another language than the question: clear it; it is asked again.

    Attributes:
        language: the question's language code ("ko", "en") the answer is asked for in.
    """

    language: str


@dataclass(frozen=True)
class Checked:
    """The finished answer's check (the last event of an answer that was generated)."""

    check: AnswerCheck


@dataclass(frozen=True)
class Failed:
    """The model or the store failed; nothing more comes.

    Attributes:
        message: an English message a person can act on (names the command to run).
        code: what failed, for a translated message ("" when unknown; see
            :class:`rag_core.errors.OllamaError`).
        params: the values that message is formatted with.
    """

    message: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)


AnswerEvent = (
    Searched | Sources | ThinkingDelta | AnswerDelta | AnswerRetracted | Retrying | Checked | Failed
)
"""One event of an answer's stream (see the module docstring for their order)."""


class AnswerFold:
    """Folds an answer's events into one :class:`RagAnswer` (the one fold every door uses).

    Args:
        question: the question asked.

    Example::

        fold = AnswerFold(question)
        for event in engine.ask(question):
            fold.add(event)
        answer = fold.result()
    """

    def __init__(self, question: str) -> None:
        """Start an empty answer; time to first token counts from now."""
        self._answer = RagAnswer(question=question, query=question)
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._started = time.monotonic()

    @property
    def text(self) -> str:
        """The answer text streamed so far (after retractions and retries)."""
        return "".join(self._text)

    def add(self, event: AnswerEvent) -> None:
        """Take one event into the answer."""
        answer = self._answer
        if isinstance(event, AnswerDelta):
            if not self._text and answer.ttft_s is None:
                answer.ttft_s = time.monotonic() - self._started
            self._text.append(event.text)
        elif isinstance(event, ThinkingDelta):
            self._thinking.append(event.text)
        elif isinstance(event, AnswerRetracted | Retrying):
            self._text.clear()
            answer.ttft_s = None
            if isinstance(event, Retrying):
                answer.retried = True
                self._thinking.clear()
        elif isinstance(event, Searched):
            answer.query = event.query
            answer.queries = list(event.queries)
            answer.search_notices = [(code, dict(params)) for code, params in event.notices]
        elif isinstance(event, Sources):
            answer.citations = list(event.citations)
            answer.relevant = event.relevant
            answer.dropped = event.dropped
        elif isinstance(event, Checked):
            answer.check = event.check
        elif isinstance(event, Failed):
            answer.error = event.message
            answer.error_code = event.code
            answer.error_params = dict(event.params)

    def result(self) -> RagAnswer:
        """The answer so far, text and thinking joined."""
        self._answer.answer = "".join(self._text)
        self._answer.thinking = "".join(self._thinking)
        return self._answer


__all__ = [
    "AnswerCheck",
    "AnswerDelta",
    "AnswerEvent",
    "AnswerFold",
    "AnswerRetracted",
    "ChatTurn",
    "Checked",
    "ClaimCheck",
    "Failed",
    "JudgeReport",
    "RagAnswer",
    "Retrying",
    "Searched",
    "Sources",
    "ThinkingDelta",
]
