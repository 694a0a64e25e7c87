"""Query translation for cross-lingual search: prompt, cleaning, an LRU cache.

A question asked in a language none of the searched documents is in (a Korean question
about an English manual) cannot match them by keywords, and the default embedding model is
English-only. :class:`QueryTranslator` asks the configured chat model (Ollama) for the
question in the documents' language with a short prompt (:data:`TRANSLATE_SYSTEM_PROMPT`);
:func:`clean_translation` turns the reply into a search query or rejects it. Translations
are cached in memory per (model, question, target language), least recently used dropped
first (:data:`CACHE_SIZE` entries), so asking again, or evaluating several retrieval
modes, costs one model call per question.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from rag_core.language import LANGUAGE_NAMES, question_language
from rag_core.llm.ollama import OLLAMA_EXCEPTIONS, explain_ollama_error
from rag_core.llm.preamble import strip_preamble
from rag_core.llm.reasoning import split_reasoning

logger = logging.getLogger(__name__)

TRANSLATE_SYSTEM_PROMPT = (
    "Translate the user's question into {language}. Keep LaTeX commands, code, file names, "
    "product names and numbers exactly as they are. Reply with the translated question "
    "only, on one line: no explanation, no quotes, no answer to the question."
)
"""System message of a translation request (``language``: "English", "Korean"). The
test Ollama server recognises a translation request by "Translate" in a system message."""

TRANSLATION_MAX_FACTOR = 4
"""A translation longer than ``TRANSLATION_MAX_FACTOR * len(question) +
TRANSLATION_MAX_EXTRA`` characters is an answer or an explanation, not the question: an
English sentence takes about 2-3 times the characters of the same Korean one."""

TRANSLATION_MAX_EXTRA = 60
"""See :data:`TRANSLATION_MAX_FACTOR`."""

CACHE_SIZE = 512
"""Translations kept in memory (a few hundred bytes each)."""

_LEAD_IN_RE = re.compile(
    r"^(?:sure|okay|ok|certainly|of course|alright|here you go|알겠습니다|네)\b[!,.]*\s*",
    re.IGNORECASE,
)
_PREAMBLE_RE = re.compile(
    r"^(?:(?:here(?:'s| is)|below is|this is)\s+)?(?:the|a|my)?\s*"
    r"(?:english|korean)?\s*translat(?:ion|ed (?:question|query|text))"
    r"(?:\s+(?:of the (?:question|query|text)|in(?:to)? (?:english|korean)))*"
    r"(?:\s+(?:is|would be))?\s*[:：-]?\s*",
    re.IGNORECASE,
)
_LABEL_RE = re.compile(
    r"^(?:english|korean|question|query|translation|"
    r"번역(?:문|된 질문|한 질문)?|영어|영문|한국어|한글|질문|검색어)\s*(?:은|는)?\s*[:：]\s*",
    re.IGNORECASE,
)
_KO_PREAMBLE_RE = re.compile(
    r"^.{0,60}?(?:다음과 같습니다|다음과 같다|아래와 같습니다|다음입니다|번역(?:입니다|합니다))"
    r"\s*[:：.]?\s*"
)
_QUOTES = "\"'“”‘’「」『』«»`"
_QUOTED_RE = re.compile(r"[\"“「『]([^\"”」』]{5,})[\"”」』]")
_MENTIONS_TRANSLATION_RE = re.compile(r"translat|번역|english|korean|영어|한국어", re.IGNORECASE)


def _strip_line(line: str) -> str:
    """Return ``line`` without Markdown, lead-ins, preambles, labels and quotes."""
    return strip_preamble(
        line,
        mentions=_MENTIONS_TRANSLATION_RE,
        patterns=(_LEAD_IN_RE, _PREAMBLE_RE, _KO_PREAMBLE_RE, _LABEL_RE),
    )


def clean_translation(text: str, question: str, target: str) -> str:
    """Turn a model's translation reply into the query to search with, or reject it.

    Reasoning is removed (:func:`~rag_core.llm.reasoning.split_reasoning`); the
    first line that still says something after stripping Markdown, lead-ins ("Sure!"),
    preambles ("Here is the English translation:", "번역하면 다음과 같습니다:"), labels
    ("Translation:", "English:", "번역:") and quotes is the translation. Unlike a
    rewritten follow-up (:func:`rag_core.generation.answer.clean_rewrite`) it cannot be
    checked by shared terms, since it shares none with the question; it is rejected when
    it is empty, longer than ``TRANSLATION_MAX_FACTOR * len(question) +
    TRANSLATION_MAX_EXTRA`` characters, not in the target language
    (:func:`~rag_core.language.question_language`) or the question unchanged.

    Args:
        text: the model's reply.
        question: the question that was translated.
        target: the language asked for, "en" or "ko".

    Returns:
        The translated question, or "" when the reply is unusable.
    """
    answer, _ = split_reasoning(text)
    translation = ""
    for line in answer.splitlines():
        cleaned = _strip_line(line)
        preamble_only = cleaned.endswith((":", "：")) and "?" not in cleaned
        if any(c.isalnum() for c in cleaned) and not preamble_only:
            translation = cleaned
            break
    if not translation:
        return ""
    if len(translation) > TRANSLATION_MAX_FACTOR * len(question) + TRANSLATION_MAX_EXTRA:
        return ""
    if question_language(translation) != target:
        return ""
    if translation.casefold() == question.strip().casefold():
        return ""
    return translation


@dataclass(frozen=True)
class Translation:
    """The outcome of translating one question into one language.

    Attributes:
        target: the language asked for ("en", "ko").
        text: the translated question ("" when there is none).
        error_code: why there is none: an :class:`~rag_core.errors.OllamaError` code
            ("unreachable", "missing_model", "timeout", "busy"), "error" for another
            Ollama failure, "unusable" when the reply was rejected by
            :func:`clean_translation`; "" on success.
        error: the actionable message of an Ollama failure ("" otherwise).
        params: the values of that message (host, model ...).
    """

    target: str
    text: str = ""
    error_code: str = ""
    error: str = ""
    params: dict[str, Any] = field(default_factory=dict)


class _LruCache:
    """A small thread-safe least-recently-used mapping."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: tuple[str, ...], value: str) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _LruCache(CACHE_SIZE)
"""Translations of this process, shared by every chain (the app builds one per question)."""


def clear_translation_cache() -> None:
    """Forget every cached translation (tests; a changed model is keyed apart anyway)."""
    _CACHE.clear()


def model_key(llm: BaseChatModel) -> str:
    """Identify a chat model for the cache: its Ollama host and model tag, or its class."""
    host = str(getattr(llm, "base_url", "") or "")
    model = str(getattr(llm, "model", "") or getattr(llm, "model_name", "") or "")
    return f"{type(llm).__name__}|{host}|{model}"


class QueryTranslator:
    """Translates questions with a chat model, cached per question and target language.

    Args:
        llm: the chat model (``ChatOllama`` in the app, built by
            :func:`rag_core.llm.ollama.build_chat_model`).
    """

    def __init__(self, llm: BaseChatModel) -> None:
        """Keep the model; nothing is sent until :meth:`translate`."""
        self.llm = llm
        self.key = model_key(llm)

    def translate(self, question: str, target: str) -> Translation:
        """Translate ``question`` into ``target``; never raises for an Ollama problem.

        A cached translation (or cached rejection) is returned without a model call;
        failures to reach the model are not cached, so the next question tries again.

        Args:
            question: the question (the standalone query).
            target: "en" or "ko" (a key of
                :data:`~rag_core.language.LANGUAGE_NAMES`).

        Returns:
            The :class:`Translation` (``text`` "" with an ``error_code`` when none).
        """
        question = question.strip()
        key = (self.key, target, question)
        cached = _CACHE.get(key)
        if cached is not None:
            return Translation(target, cached, "" if cached else "unusable")
        messages = [
            SystemMessage(TRANSLATE_SYSTEM_PROMPT.format(language=LANGUAGE_NAMES[target])),
            HumanMessage(question),
        ]
        try:
            reply = self.llm.invoke(messages)
        except OLLAMA_EXCEPTIONS as exc:
            host = str(getattr(self.llm, "base_url", "") or "")
            model = str(getattr(self.llm, "model", "") or "")
            error = explain_ollama_error(exc, host=host, model=model)
            logger.warning("translating the question into %s failed: %s", target, error)
            params = {"host": host, "model": model, **error.params}
            return Translation(target, "", error.code or "error", str(error), params)
        text = clean_translation(str(reply.content or ""), question, target)
        if not text:
            logger.info("unusable translation into %s: %r", target, reply.content)
        _CACHE.put(key, text)
        return Translation(target, text, "" if text else "unusable")


__all__ = [
    "CACHE_SIZE",
    "TRANSLATE_SYSTEM_PROMPT",
    "QueryTranslator",
    "Translation",
    "clean_translation",
    "clear_translation_cache",
    "model_key",
]
