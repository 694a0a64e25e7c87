"""Answer post-processing, one place: reasoning, citations, support, language, rewrites.

The pieces live in three rooms and are re-exported here, so the chain, the CLI, the UI and
the benchmarks import one module:

* :mod:`rag_core.llm.reasoning`: :class:`ReasoningSplitter` (streaming) and
  :func:`split_reasoning` (whole texts) take ``<think>`` blocks, a lone ``</think>`` and
  the separate thinking field out of the answer.
* :mod:`rag_core.generation.claims`: :func:`parse_citations` reads every common citation
  form and splits the answer into claims with the citations they carry.
* :mod:`rag_core.generation.support`: :func:`supports` decides whether a cited passage
  supports a claim and which of its sentences to highlight.

This module adds the answer's language (:func:`answer_language`,
:func:`language_matches`) and the cleaning of a rewritten follow-up question
(:func:`clean_rewrite`).
"""

from __future__ import annotations

import re

from rag_core.generation.claims import (
    CitationCheck,
    CitationMarker,
    Claim,
    cited_numbers,
    find_citations,
    parse_citations,
    sentence_spans,
    strip_citations,
)
from rag_core.generation.support import (
    SUPPORT_THRESHOLD,
    Support,
    TermAnalyzer,
    claim_support,
    content_terms,
    supports,
)
from rag_core.language import HANGUL_SHARE_KOREAN
from rag_core.llm.preamble import strip_preamble
from rag_core.llm.reasoning import (
    AnswerDelta,
    AnswerRetracted,
    ReasoningEvent,
    ReasoningSplitter,
    ThinkingDelta,
    split_reasoning,
)

MIN_LETTERS = 4
"""Fewer letters than this (after stripping markers, code and URLs): language unknown."""

HAN_SHARE_CHINESE = 0.3
"""Han ideographs making up this share of the letters (and outnumbering Hangul): Chinese."""

KANA_SHARE_JAPANESE = 0.1
"""Kana making up this share of the letters: Japanese (kanji alone reads as Chinese)."""

REWRITE_MAX_FACTOR = 3
"""A rewrite longer than ``REWRITE_MAX_FACTOR * len(question) + REWRITE_MAX_EXTRA``
characters is an answer or an explanation, not a question: the question is used."""

REWRITE_MAX_EXTRA = 40
"""See :data:`REWRITE_MAX_FACTOR`."""

_CODE_RE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_COMMAND_RE = re.compile(r"\\[A-Za-z]+")


def _script_counts(text: str) -> dict[str, int]:
    counts = {"hangul": 0, "han": 0, "kana": 0, "latin": 0}
    for char in text:
        code = ord(char)
        if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            counts["hangul"] += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
            counts["han"] += 1
        elif 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
            counts["kana"] += 1
        elif char.isalpha() and code <= 0x024F:
            counts["latin"] += 1
    return counts


def answer_language(text: str) -> str:
    r"""Tell the language of a text by the share of each script among its letters.

    Citation markers, code spans, URLs and LaTeX commands (``\documentclass``) are
    removed first; letters are Hangul (syllables and jamo), Han ideographs, kana and
    Latin letters. The Korean rule is that of
    :func:`rag_core.language.question_language` (Hangul at least
    :data:`HANGUL_SHARE_KOREAN` of the letters), so a question and its answer are judged
    alike; Korean text with some Hanja (``조판(組版)``) stays Korean.

    Args:
        text: an answer or a question.

    Returns:
        "ja" (kana >= :data:`KANA_SHARE_JAPANESE`), "ko", "zh" (Han >=
        :data:`HAN_SHARE_CHINESE` and more Han than Hangul), "en" (any other Latin-script
        text), or "" with fewer than :data:`MIN_LETTERS` letters.
    """
    text = _CODE_RE.sub(" ", text)
    text = _URL_RE.sub(" ", text)
    text = strip_citations(text)
    counts = _script_counts(_COMMAND_RE.sub(" ", text))
    letters = sum(counts.values())
    if letters < MIN_LETTERS:
        return ""
    share = {script: count / letters for script, count in counts.items()}
    if share["kana"] >= KANA_SHARE_JAPANESE:
        return "ja"
    if share["hangul"] >= HANGUL_SHARE_KOREAN and counts["hangul"] >= counts["han"]:
        return "ko"
    if share["han"] >= HAN_SHARE_CHINESE:
        return "zh"
    if share["hangul"] >= HANGUL_SHARE_KOREAN:
        return "ko"
    return "en"


def language_matches(question: str, answer: str) -> bool:
    """Tell whether an answer is written in the question's language.

    Args:
        question: the question as the user asked it.
        answer: the answer, reasoning removed.

    Returns:
        False when both languages are known and differ (a Korean question answered in
        English, or in Chinese); True otherwise, including an English answer that quotes
        a few Korean terms and texts too short to tell.
    """
    asked, answered = answer_language(question), answer_language(answer)
    return not asked or not answered or asked == answered


def _is_preamble_only(line: str) -> bool:
    """A leftover like "Here it is:" or "재작성한 질문은 다음과 같습니다" with nothing after."""
    return line.endswith((":", "：")) and "?" not in line


def clean_rewrite(
    text: str,
    question: str,
    history_text: str,
    *,
    analyzer: TermAnalyzer | None = None,
) -> str:
    """Turn a model's rewrite of a follow-up question into the search query to use.

    Reasoning is removed (:func:`split_reasoning`); then the first line that still says
    something after stripping Markdown, lead-ins ("Sure!"), preambles ("Here is the
    standalone question:", "독립적인 질문은 다음과 같습니다:"), labels ("Standalone
    question:", "재작성된 질문:") and surrounding quotes is the rewrite. The question as
    asked is used instead when the rewrite is empty, longer than
    ``REWRITE_MAX_FACTOR * len(question) + REWRITE_MAX_EXTRA`` characters, or shares no
    content term (:func:`rag_core.generation.support.content_terms`) with the question
    and the history.

    Args:
        text: the model's reply to the rewriting prompt.
        question: the follow-up question as asked.
        history_text: the conversation the rewrite drew on (plain text).
        analyzer: the BM25 analyzer; :func:`rag_core.index.analyzer.shared_analyzer` if
            None.

    Returns:
        The standalone question to retrieve with.
    """
    answer, _ = split_reasoning(text)
    rewrite = ""
    for line in answer.splitlines():
        cleaned = strip_preamble(line)
        if any(c.isalnum() for c in cleaned) and not _is_preamble_only(cleaned):
            rewrite = cleaned
            break
    if not rewrite:
        return question
    if len(rewrite) > REWRITE_MAX_FACTOR * len(question) + REWRITE_MAX_EXTRA:
        return question
    if analyzer is None:
        from rag_core.index.analyzer import shared_analyzer

        analyzer = shared_analyzer()
    context = content_terms(f"{question}\n{history_text}", analyzer)
    if not content_terms(rewrite, analyzer) & context:
        return question
    return rewrite


__all__ = [
    "HAN_SHARE_CHINESE",
    "KANA_SHARE_JAPANESE",
    "MIN_LETTERS",
    "REWRITE_MAX_EXTRA",
    "REWRITE_MAX_FACTOR",
    "SUPPORT_THRESHOLD",
    "AnswerDelta",
    "AnswerRetracted",
    "CitationCheck",
    "CitationMarker",
    "Claim",
    "ReasoningEvent",
    "ReasoningSplitter",
    "Support",
    "TermAnalyzer",
    "ThinkingDelta",
    "answer_language",
    "cited_numbers",
    "claim_support",
    "clean_rewrite",
    "content_terms",
    "find_citations",
    "language_matches",
    "parse_citations",
    "sentence_spans",
    "split_reasoning",
    "strip_citations",
    "supports",
]
