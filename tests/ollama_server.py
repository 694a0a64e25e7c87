r"""A fake Ollama server that speaks enough of Ollama's REST API for real clients.

The server is a real HTTP server (stdlib ``ThreadingHTTPServer``) bound to
127.0.0.1 on a free port and run in a daemon thread. The real ``ollama`` Python
client and ``langchain_ollama.ChatOllama`` can talk to it end to end, so tests
exercise the actual HTTP, NDJSON streaming and error handling paths without a
running Ollama or any model weights.

Typical use in a test::

    with FakeOllamaServer() as server:
        llm = ChatOllama(model="llama3.2", base_url=server.url)
        text = "".join(chunk.text for chunk in llm.stream("hi"))
        assert server.chat_requests[0]["messages"][0]["content"] == "hi"

It can also be run by hand (for browser tests or manual runs of the app)::

    python tests/ollama_server.py --port 11435

which prints the server URL on one line and serves until Ctrl-C or SIGTERM
(``--mode M`` picks a quirk mode, see below).

Request kinds
-------------
Every ``/api/chat`` (and ``/api/generate``) request is one of four kinds:

* **rewrite**: the first message is a system message containing ``"standalone question"``
  (the chain's follow-up rewriter). The rewritten question is ``rewrite_template``
  formatted with ``question`` (the latest user message) and ``previous`` (the user
  message before it, "" if none); the default template ``"{question}"`` gives the
  question unchanged.
* **translate**: a system message contains ``"Translate"`` (case-sensitive) and no
  numbered passages. Answered from ``translations`` (key: the latest user message,
  stripped; missing keys give the input back unchanged, which the search rejects as no
  translation) in every mode: a collection holding Korean and English documents has
  every question translated, and the quirk modes are about answers.
* **judge**: a system message contains ``'Answer only "yes" or "no"'`` or
  ``'"예" 또는 "아니오"로만'`` (the citation judge's prompts,
  ``rag_core.generation.prompts.JUDGE_SYSTEM_PROMPTS``). The sentence is what follows
  ``"Sentence:"`` / ``"문장:"`` in the latest user message, the passages the text between
  its ``<passages>`` and ``</passages>``. The verdict (:func:`judge_verdict`) is "yes" when
  the sentence, citation markers and end punctuation removed, appears in the passages
  (whitespace and case ignored), else "no". Plumbing only: a substring test, not a judge
  of meaning. Every mode answers ``yes`` / ``no`` except the ``judge-*`` modes below; the
  ``think-*`` modes wrap it with JUDGE_REASONING as they wrap answers.
* **answer**: everything else. Passages are the ``[n] ...`` lines of the latest
  user/system message that has any (see :func:`extract_passages`); the chain's
  ``(file, p. N)`` header in front of a passage is not part of its text. A *sentence* of
  a passage is, in order, the first (second ...) sentence of at least four words (split
  after ``. ! ? 。 ！ ？``; all sentences if none has four words), cut to its first 60
  words; ``cite(s, m)`` writes it verbatim with the marker before its end punctuation:
  ``"<sentence without end punctuation> [1]."``. Without any passage every mode answers
  ``NOT_FOUND_ANSWER``.

Quirk modes
-----------
``FakeOllamaServer(mode=...)``, the settable ``server.mode`` attribute or ``--mode``.
All modes keep the rest of the API (NDJSON stream, final ``done: true`` chunk with
``done_reason``, ``eval_count``, ``prompt_eval_count`` and the durations;
``options.num_predict`` cuts any reply, thinking tokens included, with
``done_reason: "length"``). ``P1`` is the lowest-numbered passage, ``P2`` the next one
(``P1`` if there is only one), ``Plast`` the highest-numbered one; ``[1]`` below stands
for P1's number (always 1 with the chain's prompts), except in ``wrong-citation`` and
``odd-citations`` where the numbers are literal.

``default``
    The historical behaviour: ``responder`` (default :func:`default_responder`) builds the
    text. ``rewrite_template`` does not apply here.
``honest``
    ``cite(sentence 1 of P1, "[1]")``: a well-behaved instruction model that quotes and
    cites correctly (the answer-quality benchmark's "honest" reference).
``wrong-citation``
    ``cite(sentence 1 of Plast, "[1]")``: copies the last passage but cites [1]: a model
    that cites by habit rather than by source (small models often put [1] on whatever
    they wrote). The benchmark must tell it from ``honest``.
``think-inline``
    ``"<think>\n" + REASONING + "\n</think>\n\n" + honest`` (REASONING mentions
    passages [2] and [3] and [1]); rewrite replies are wrapped the same way with
    REWRITE_REASONING. Streamed in pieces of at most 3 characters, so tags arrive split
    (``"<th"``, ``"ink"``, ``">\n"``). Reasoning models (qwen3, deepseek-r1, QwQ, EXAONE
    Deep) through Ollama before 0.9 (no ``think`` support), or when ``think`` is left unset
    and the model / version returns the reasoning inline. The request's ``think`` is
    ignored here.
``think-multi``
    Two blocks: ``"<think>\n" + REASONING + "\n</think>\n<think>\n" + REASONING_2 +
    "\n</think>\n\n" + honest`` (REASONING_2 mentions [3] and [2]); rewrites likewise
    with REWRITE_REASONING twice. 3-character pieces. A model that closes and reopens
    its reasoning; the splitter must handle any number of blocks.
``think-lone-close``
    ``REASONING + "\n</think>\n\n" + honest``: no opening tag, as the distilled
    DeepSeek-R1 models (deepseek-r1:1.5b ... 70b) often do through Ollama: their chat
    template ends the prompt with ``<think>``, so only the closing tag is generated. Rewrites likewise. 3-character pieces.
``think-field``
    With ``"think": true`` (or ``"low"``/``"medium"``/``"high"``) in the request, as
    current Ollama (>= 0.9) does for thinking models (qwen3, deepseek-r1, gpt-oss): the
    reasoning is streamed first in ``message.thinking`` chunks (``content`` "") and then the
    answer in ``message.content`` (for ``/api/generate``: ``thinking`` and ``response``);
    the non-streamed reply carries both fields. Rewrites get REWRITE_REASONING. With
    ``think`` false or absent: honest, no reasoning.
``rewrite-preamble-en``
    Rewrites answered like llama3.2 does: ``'Here is the standalone question:\n\n"<q>"'``
    (``q`` from ``rewrite_template``); answers are honest.
``rewrite-preamble-ko``
    Rewrites: ``'다음은 독립적인 질문입니다:\n\n"<q>"'`` (llama3.2 / EXAONE answering a
    Korean prompt); answers are honest.
``length``
    Answers are the honest text cut after ``length_limit`` tokens (default 8) with
    ``done_reason: "length"``; ``options.num_predict`` wins when set. Rewrites are not cut
    (unless ``num_predict`` says so). Any model that hits ``num_predict``; reasoning models
    hit it often because thinking consumes the same budget.
``odd-citations``
    ``cite(sentence 1 of P1, "[1-2]") + " " + cite(sentence 1 of P2, "[1, 2]") + " " +
    cite(sentence 2 of P2, "[^2]") + " " + cite(sentence 2 of P1, "【1】")`` (sentence 2 is
    sentence 1 again when the passage has only one): ranges, lists, Markdown footnotes
    and full-width lenticular brackets (ChatGPT's file-search style, which models trained
    on its output, qwen among them, reproduce). The numbers are literal; the cited set is
    {1, 2}.
``out-of-range``
    ``cite(sentence 1 of P1, "[1]") + " " + cite(sentence 1 of P2, "[N]")`` with
    ``N = max(9, highest passage number + 1)``: a number beyond the sources, as small models
    invent.
``no-citations``
    ``sentence 1 of P1`` with no marker: small models often ignore the citation
    instruction.
``wrong-language``
    A Korean question (the latest user message; Korean when Hangul syllables are at least
    a quarter of its letters) is answered in English: ``cite(first sentence of P1 without
    any Hangul, "[1]")``, or ``WRONG_LANGUAGE_FALLBACK`` if P1 has none (English-centred
    models such as llama3.2 answering a Korean question over English passages). English questions get the
    honest answer. With a language reminder (below) the answer is correct: ``cite(first
    Korean sentence of the lowest-numbered passage that has one, "[n]")``, or
    ``KOREAN_FALLBACK``.
``chinese``
    A Korean question is answered with ``CHINESE_ANSWER`` (a fixed Chinese sentence citing
    [1]): the known qwen2.5 / qwen3 habit of switching to Chinese, especially with Hanja
    (Chinese characters) in the Korean context. With
    a language reminder: the correct Korean answer as in ``wrong-language``.
``slow-first-token``
    Honest, but the stream (headers and chunked body) starts at once and the first chunk
    comes ``first_token_delay`` seconds later (default 2.0; rewrites too): a reasoning
    model thinking silently, or a large model loading.
``translate``
    Translation requests answered from ``translations`` (see Request kinds); everything
    else honest. Not a quirk: a helper for cross-lingual search.
``judge-think``
    Judge requests answered ``"<think>\n" + JUDGE_REASONING + "\n</think>\n\nyes"`` (or
    ``no``), in 3-character pieces: a reasoning model as the judge. Answers are honest.
``judge-korean``
    Judge requests answered ``"예"`` or ``"아니오"``: a model that replies in Korean to a
    Korean claim (or to any). Answers are honest.
``judge-garbage``
    Judge requests answered ``JUDGE_GARBAGE`` (neither yes nor no): a model that ignores
    the "yes or no" rule; the lexical verdict must be kept. Answers are honest.

A *language reminder* is ``"answer in Korean"`` (also ``respond``/``reply``, optionally
``only``: ``"Answer only in Korean"``; case-insensitive) or ``"한국어로 답"`` (as in
``"한국어로 답하세요"``), found in the last user message or in a system message outside its
``<passages> ... </passages>`` block (passages may contain anything). The chain's normal
rule ("Answer in the language of the question ...") is not one.

``requests`` records every request, ``chat_requests`` the ``/api/chat`` bodies,
``chat_count`` their number and ``replies`` what each completion sent (mode, kind, content,
thinking, done_reason, whether a language reminder was seen).

This module deliberately imports only the standard library (no pytest).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from types import FrameType, TracebackType

logger = logging.getLogger(__name__)

Responder = Callable[[dict[str, Any]], str]
"""Receives the parsed request body and returns the full answer text."""

OLLAMA_VERSION = "0.12.0"
DEFAULT_MODELS: tuple[str, ...] = ("llama3.2:latest",)
BUSY_ERROR = "server busy, please try again"
NOT_FOUND_ANSWER = "I could not find this in the documents."
SNIPPET_WORDS = 12

MODES: tuple[str, ...] = (
    "default",
    "honest",
    "wrong-citation",
    "think-inline",
    "think-multi",
    "think-lone-close",
    "think-field",
    "rewrite-preamble-en",
    "rewrite-preamble-ko",
    "length",
    "odd-citations",
    "out-of-range",
    "no-citations",
    "wrong-language",
    "chinese",
    "slow-first-token",
    "translate",
    "judge-think",
    "judge-korean",
    "judge-garbage",
)
"""The quirk modes (see the module docstring)."""
THINK_MODES = frozenset({"think-inline", "think-multi", "think-lone-close", "think-field"})
REASONING = (
    "Okay, the user asks about the documents. Passage [2] and passage [3] mention "
    "related points, but passage [1] answers the question directly, so I will quote it."
)
REASONING_2 = "Wait, let me check passage [3] against passage [2] once more. Neither changes it."
REWRITE_REASONING = (
    "The latest question depends on the earlier turn, so I restate it as one standalone "
    "question without answering it."
)
JUDGE_REASONING = "The sentence cites the passage, so I compare it with the passage's text."
JUDGE_GARBAGE = "The passage discusses related matters in some detail."
JUDGE_MARKERS = ('Answer only "yes" or "no"', '"예" 또는 "아니오"로만')
"""What marks a judge request (see Request kinds)."""
PREAMBLE_EN = "Here is the standalone question:\n\n"
PREAMBLE_KO = "다음은 독립적인 질문입니다:\n\n"
WRONG_LANGUAGE_FALLBACK = "The documents answer this in the first passage [1]."
KOREAN_FALLBACK = "첫 번째 구절에 답이 있습니다 [1]."
CHINESE_ANSWER = "根据文件内容，这个问题的答案在第一段中有说明 [1]。"
DEFAULT_LENGTH_LIMIT = 8
DEFAULT_FIRST_TOKEN_DELAY = 2.0
FINE_TOKEN_CHARS = 3
SENTENCE_MIN_WORDS = 4
SENTENCE_MAX_WORDS = 60

_MODIFIED_AT = "2025-09-18T10:21:33.123456789+00:00"
_LLAMA32_DIGEST = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"
_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_PARAMETERS = (
    'stop                           "<|start_header_id|>"\n'
    'stop                           "<|end_header_id|>"\n'
    'stop                           "<|eot_id|>"'
)
_LINE_PASSAGE_RE = re.compile(
    r"^[ \t]*\[(\d+)\][ \t]*(.*?)(?=^[ \t]*\[\d+\]|\Z)", re.DOTALL | re.MULTILINE
)
_INLINE_PASSAGE_RE = re.compile(r"\[(\d+)\]\s*(.*?)(?=\[\d+\]|\Z)", re.DOTALL)
_TOKEN_RE = re.compile(r"\s*\S+\s*")
_HEADER_RE = re.compile(r"^\((?:[^()]|\([^()]*\))*\)\s*")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?。！？])\s+")
_END_PUNCT_RE = re.compile(r"[.!?。！？]+$")
_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_PASSAGES_BLOCK_RE = re.compile(r"<passages>.*?(?:</passages>|\Z)", re.DOTALL)
_JUDGE_PASSAGES_RE = re.compile(r"<passages>(.*?)</passages>", re.DOTALL)
_JUDGE_LABEL_RE = re.compile(r"^\s*(?:Sentence|문장)\s*:\s*")
_MARKER_RE = re.compile(r"\s*(?:\[\^?\d[\d,\s\-–]*\]|【\d+】)")
LANGUAGE_REMINDER_RE = re.compile(
    r"\b(?:answer|respond|reply)\s+(?:only\s+)?in\s+korean\b|한국어로\s*답", re.IGNORECASE
)
"""What counts as a language reminder (see the module docstring)."""


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def normalize_model_name(name: str) -> str:
    """Add Ollama's implicit ``:latest`` tag to a model name without a tag.

    Args:
        name: A model name such as ``"llama3.2"`` or ``"qwen2.5:7b"``.

    Returns:
        The name with a tag, e.g. ``"llama3.2:latest"``.
    """
    name = name.strip()
    last_part = name.rsplit("/", 1)[-1]
    return name if ":" in last_part else f"{name}:latest"


def split_tokens(text: str) -> list[str]:
    """Split an answer into stream tokens: words with their trailing whitespace.

    Args:
        text: The full answer text.

    Returns:
        Tokens whose concatenation equals ``text`` exactly.
    """
    tokens = _TOKEN_RE.findall(text)
    if not tokens and text:
        return [text]  # whitespace only
    return tokens


def estimate_tokens(text: str) -> int:
    """Roughly count tokens the way a tokenizer might (4 characters a token).

    Args:
        text: Any text.

    Returns:
        ``ceil(len(text) / 4)``: 0 only for empty text.
    """
    return (len(text) + 3) // 4


def extract_passages(text: str) -> dict[int, str]:
    """Find passages numbered ``[1] ...``, ``[2] ...`` in a prompt.

    Passages starting at the beginning of a line are preferred; if there are
    none, inline markers (``"[1] foo [2] bar"``) are used.

    Args:
        text: Prompt text (a message content, a prompt or a system prompt).

    Returns:
        Passage number to passage text (stripped); empty passages are dropped.
    """
    matches = _LINE_PASSAGE_RE.findall(text) or _INLINE_PASSAGE_RE.findall(text)
    passages: dict[int, str] = {}
    for number, raw in matches:
        passage = raw.strip()
        if passage and int(number) not in passages:
            passages[int(number)] = passage
    return passages


def _prompt_texts(body: dict[str, Any]) -> list[str]:
    """Texts to search for passages, most relevant first.

    For ``/api/chat`` these are the user and system messages, latest first; for
    ``/api/generate`` the prompt and then the system prompt.
    """
    texts: list[str] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if not isinstance(message, dict):
                continue
            if message.get("role") in ("user", "system"):
                texts.append(str(message.get("content") or ""))
    texts.extend(body[key] for key in ("prompt", "system") if isinstance(body.get(key), str))
    return texts


def default_responder(body: dict[str, Any]) -> str:
    """Build a deterministic answer from the passages found in the prompt.

    A follow-up rewriting request gets the latest question back unchanged. Otherwise the
    lowest-numbered passage of the latest user/system message that has any passages is
    quoted: ``"According to the documents [1], <first ~12 words>."``.

    Args:
        body: The parsed ``/api/chat`` or ``/api/generate`` request body.

    Returns:
        The answer text, or ``NOT_FOUND_ANSWER`` if no passage was found.
    """
    rewrite = _rewrite_request_question(body)
    if rewrite is not None:
        return rewrite
    for text in _prompt_texts(body):
        passages = extract_passages(text)
        if passages:
            number = min(passages)
            words = passages[number].split()[:SNIPPET_WORDS]
            snippet = " ".join(words).rstrip(".,;:!?")
            return f"According to the documents [{number}], {snippet}."
    return NOT_FOUND_ANSWER


def _rewrite_request_question(body: dict[str, Any]) -> str | None:
    """For a follow-up rewriting request ("standalone question" in the system prompt),
    return the latest user question unchanged (a model that needs no rewrite); else None.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    first = messages[0] if isinstance(messages[0], dict) else {}
    if first.get("role") != "system" or "standalone question" not in str(first.get("content")):
        return None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


# --------------------------------------------------------------------------- #
# Quirk modes
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Reply:
    """What a completion sends.

    Attributes:
        content: The answer text (``message.content`` / ``response``).
        thinking: Reasoning sent in the separate ``thinking`` field ("" for none).
        kind: ``"answer"``, ``"rewrite"``, ``"translate"`` or ``"judge"``.
        fine: Stream ``content`` in pieces of at most ``FINE_TOKEN_CHARS`` characters.
        language_reminder: Whether the request carried a language reminder.
        mode: The mode that made the reply.
    """

    content: str
    thinking: str = ""
    kind: str = "answer"
    fine: bool = False
    language_reminder: bool = False
    mode: str = "default"


def split_fine_tokens(text: str, size: int = FINE_TOKEN_CHARS) -> list[str]:
    """Split text into word tokens cut into pieces of at most ``size`` characters.

    Args:
        text: The full text.
        size: Longest piece, in characters.

    Returns:
        Pieces whose concatenation equals ``text``; ``"<think>"`` becomes ``"<th"``,
        ``"ink"``, ``">"``.
    """
    return [tok[i : i + size] for tok in split_tokens(text) for i in range(0, len(tok), size)]


def is_korean(text: str) -> bool:
    """Whether Hangul syllables are at least a quarter of the letters of ``text``."""
    hangul = len(_HANGUL_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    return hangul > 0 and hangul * 4 >= hangul + latin


def passage_text(passage: str) -> str:
    """A passage without the chain's ``(file, p. N)`` header or a closing ``</passages>``."""
    passage = passage.split("</passages>", 1)[0]  # the last passage runs to the fence
    match = _HEADER_RE.match(passage)
    if match and ", p. " in match.group(0):
        return passage[match.end() :].strip()
    return passage.strip()


def passage_sentences(passage: str) -> list[str]:
    """Sentences of a passage (header removed) as a quirk mode picks them.

    Sentences of at least ``SENTENCE_MIN_WORDS`` words, in order (all sentences if none is
    that long), each cut to its first ``SENTENCE_MAX_WORDS`` words.
    """
    text = " ".join(passage_text(passage).split())
    sentences = [part for part in _SENTENCE_END_RE.split(text) if part.strip()]
    long_ones = [x for x in sentences if len(x.split()) >= SENTENCE_MIN_WORDS]
    return [" ".join(x.split()[:SENTENCE_MAX_WORDS]) for x in long_ones or sentences]


def pick_sentence(passage: str, index: int = 0) -> str:
    """Sentence ``index`` (0-based) of a passage, the last one if there are fewer."""
    sentences = passage_sentences(passage) or [passage_text(passage)]
    return sentences[min(index, len(sentences) - 1)]


def cite(sentence: str, marker: str) -> str:
    """``"<sentence without end punctuation> <marker><end punctuation or '.'>"``."""
    match = _END_PUNCT_RE.search(sentence)
    end = match.group(0) if match else "."
    body = sentence[: match.start()] if match else sentence
    return f"{body.rstrip()} {marker}{end}"


def answer_passages(body: dict[str, Any]) -> dict[int, str]:
    """The numbered passages an answer is built from (see :func:`default_responder`)."""
    for text in _prompt_texts(body):
        passages = extract_passages(text)
        if passages:
            return passages
    return {}


def latest_question(body: dict[str, Any]) -> str:
    """The latest user message (or the ``prompt`` of ``/api/generate``)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return str(message.get("content") or "")
        return ""
    return str(body.get("prompt") or "")


def _system_texts(body: dict[str, Any]) -> list[str]:
    texts = [
        str(m.get("content") or "")
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "system"
    ]
    if isinstance(body.get("system"), str):
        texts.append(body["system"])
    return texts


def has_language_reminder(body: dict[str, Any]) -> bool:
    """Whether a request carries a language reminder (see the module docstring)."""
    texts = [_PASSAGES_BLOCK_RE.sub(" ", text) for text in _system_texts(body)]
    texts.append(latest_question(body))
    return any(LANGUAGE_REMINDER_RE.search(text) for text in texts)


def translation_source(body: dict[str, Any]) -> str | None:
    """For a translation request, the text to translate (stripped); else None."""
    for text in _system_texts(body):
        if "Translate" in text and not extract_passages(text):
            return latest_question(body).strip()
    return None


def judge_request(body: dict[str, Any]) -> tuple[str, str] | None:
    """For a judge request, ``(sentence, passages text)``; else None (see Request kinds)."""
    if not any(marker in text for text in _system_texts(body) for marker in JUDGE_MARKERS):
        return None
    question = latest_question(body)
    passages = _JUDGE_PASSAGES_RE.search(question)
    after = question.rsplit("</passages>", 1)[-1]
    return _JUDGE_LABEL_RE.sub("", after).strip(), passages.group(1) if passages else ""


def judge_verdict(sentence: str, passages: str) -> bool:
    """Whether ``sentence`` (markers and end punctuation removed) appears in ``passages``.

    Whitespace and case are ignored (the client may tidy the spaces around punctuation
    when it removes the markers). Plumbing, not meaning: a paraphrase is "no", a copied
    sentence is "yes".
    """
    text = _END_PUNCT_RE.sub("", _MARKER_RE.sub("", sentence).strip())
    text = "".join(text.split()).casefold()
    return bool(text) and text in "".join(passages.split()).casefold()


def _judge_reply(mode: str, body: dict[str, Any], request: tuple[str, str]) -> Reply:
    """What ``mode`` answers to a judge request (see Request kinds and the judge modes)."""
    verdict = judge_verdict(*request)
    text = "yes" if verdict else "no"
    if mode == "judge-think":
        return Reply(
            f"<think>\n{JUDGE_REASONING}\n</think>\n\n{text}", kind="judge", fine=True, mode=mode
        )
    if mode == "judge-korean":
        return Reply("예" if verdict else "아니오", kind="judge", mode=mode)
    if mode == "judge-garbage":
        return Reply(JUDGE_GARBAGE, kind="judge", mode=mode)
    if mode == "think-field":
        thinking = JUDGE_REASONING if think_requested(body) else ""
        return Reply(text, thinking=thinking, kind="judge", mode=mode)
    if mode in THINK_MODES:
        wrapped = _wrap_reasoning(mode, text, JUDGE_REASONING, JUDGE_REASONING)
        return Reply(wrapped, kind="judge", fine=True, mode=mode)
    return Reply(text, kind="judge", mode=mode)


def think_requested(body: dict[str, Any]) -> bool:
    """Whether the request asks for separate reasoning (``think`` true or a level)."""
    think = body.get("think")
    return think is True or (isinstance(think, str) and think in ("low", "medium", "high"))


def rewritten_question(body: dict[str, Any], template: str = "{question}") -> str | None:
    """For a rewrite request, ``template`` filled with ``question`` and ``previous``.

    Args:
        body: The request body.
        template: ``str.format`` template with ``{question}`` (latest user message) and
            ``{previous}`` (the user message before it, "" if none).

    Returns:
        The rewritten question, or None if this is not a rewrite request.
    """
    question = _rewrite_request_question(body)
    if question is None:
        return None
    users = [
        str(m.get("content") or "")
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    previous = users[-2] if len(users) >= 2 else ""
    return template.format(question=question, previous=previous)


def _korean_answer(passages: dict[int, str]) -> str:
    for number in sorted(passages):
        for sentence in passage_sentences(passages[number]):
            if is_korean(sentence):
                return cite(sentence, f"[{number}]")
    return KOREAN_FALLBACK


def _english_answer(passages: dict[int, str]) -> str:
    first = passages[min(passages)]
    for sentence in passage_sentences(first):
        if not _HANGUL_RE.search(sentence):
            return cite(sentence, f"[{min(passages)}]")
    return WRONG_LANGUAGE_FALLBACK


def _answer_text(mode: str, body: dict[str, Any], passages: dict[int, str]) -> str:
    """The answer (no reasoning) of ``mode`` for an answer request with passages."""
    numbers = sorted(passages)
    p1 = passages[numbers[0]]
    p2 = passages[numbers[1]] if len(numbers) > 1 else p1
    honest = cite(pick_sentence(p1), f"[{numbers[0]}]")
    if mode == "wrong-citation":
        return cite(pick_sentence(passages[numbers[-1]]), "[1]")
    if mode == "odd-citations":
        return " ".join(
            (
                cite(pick_sentence(p1, 0), "[1-2]"),
                cite(pick_sentence(p2, 0), "[1, 2]"),
                cite(pick_sentence(p2, 1), "[^2]"),
                cite(pick_sentence(p1, 1), "【1】"),
            )
        )
    if mode == "out-of-range":
        bad = max(9, numbers[-1] + 1)
        return f"{honest} {cite(pick_sentence(p2), f'[{bad}]')}"
    if mode == "no-citations":
        sentence = pick_sentence(p1)
        return sentence if _END_PUNCT_RE.search(sentence) else f"{sentence}."
    if mode in ("wrong-language", "chinese") and is_korean(latest_question(body)):
        if has_language_reminder(body):
            return _korean_answer(passages)
        return CHINESE_ANSWER if mode == "chinese" else _english_answer(passages)
    return honest


def _wrap_reasoning(mode: str, text: str, reasoning: str, second: str) -> str:
    if mode == "think-inline":
        return f"<think>\n{reasoning}\n</think>\n\n{text}"
    if mode == "think-multi":
        return f"<think>\n{reasoning}\n</think>\n<think>\n{second}\n</think>\n\n{text}"
    return f"{reasoning}\n</think>\n\n{text}"  # think-lone-close


def mode_reply(
    mode: str,
    body: dict[str, Any],
    *,
    translations: Mapping[str, str] | None = None,
    rewrite_template: str = "{question}",
) -> Reply:
    """What ``mode`` answers to a request (pure; the server streams the result).

    Args:
        mode: One of ``MODES`` other than ``"default"``.
        body: The parsed ``/api/chat`` or ``/api/generate`` body.
        translations: Lookup table for translation requests.
        rewrite_template: Template of rewritten questions (see :func:`rewritten_question`).

    Returns:
        The reply (see the module docstring for each mode).

    Raises:
        ValueError: For an unknown mode.
    """
    if mode not in MODES:
        msg = f"unknown mode {mode!r}; choose one of {', '.join(MODES)}"
        raise ValueError(msg)
    reminder = has_language_reminder(body)
    source = translation_source(body)
    if source is not None:
        text = (translations or {}).get(source, source)
        return Reply(text, kind="translate", language_reminder=reminder, mode=mode)
    judged = judge_request(body)
    if judged is not None:
        return _judge_reply(mode, body, judged)

    rewrite = rewritten_question(body, rewrite_template)
    if rewrite is not None:
        kind, text, reasoning, second = "rewrite", rewrite, REWRITE_REASONING, REWRITE_REASONING
        if mode == "rewrite-preamble-en":
            text = f'{PREAMBLE_EN}"{rewrite}"'
        elif mode == "rewrite-preamble-ko":
            text = f'{PREAMBLE_KO}"{rewrite}"'
    else:
        passages = answer_passages(body)
        kind, reasoning, second = "answer", REASONING, REASONING_2
        text = _answer_text(mode, body, passages) if passages else NOT_FOUND_ANSWER

    if mode == "think-field":
        thinking = reasoning if think_requested(body) else ""
        return Reply(text, thinking=thinking, kind=kind, language_reminder=reminder, mode=mode)
    if mode in THINK_MODES:
        text = _wrap_reasoning(mode, text, reasoning, second)
        return Reply(text, kind=kind, fine=True, language_reminder=reminder, mode=mode)
    return Reply(text, kind=kind, language_reminder=reminder, mode=mode)


def closed_port_url() -> str:
    """Return a 127.0.0.1 URL on which nothing listens (the "Ollama down" case).

    Returns:
        A URL such as ``"http://127.0.0.1:54321"``; connecting to it is refused.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _now() -> str:
    """Current time in Ollama's RFC 3339 format (UTC, trailing ``Z``)."""
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def _content(text: str, *, chat: bool, thinking: str = "") -> dict[str, Any]:
    """The answer part of a chat (``message``) or generate (``response``) line."""
    if chat:
        message = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        return {"message": message}
    return {"response": text, "thinking": thinking} if thinking else {"response": text}


def _family(model: str) -> str:
    """Guess a model family from its name (``"qwen2.5:7b"`` -> ``"qwen2"``)."""
    base = model.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    match = re.match(r"[a-z]+\d*", base)
    family = match.group(0) if match else "llama"
    return "llama" if family.startswith("llama") else family


def _digest(model: str) -> str:
    """Stable fake sha256 digest of a model (the real one for llama3.2)."""
    if model == "llama3.2:latest":
        return _LLAMA32_DIGEST
    return hashlib.sha256(model.encode()).hexdigest()


def _details(model: str) -> dict[str, Any]:
    """The ``details`` object Ollama reports for a model."""
    family = _family(model)
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


# --------------------------------------------------------------------------- #
# HTTP plumbing
# --------------------------------------------------------------------------- #
class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its owner and skips the slow FQDN lookup."""

    daemon_threads = True
    owner: FakeOllamaServer

    def server_bind(self) -> None:
        """Bind without ``socket.getfqdn`` (a reverse DNS lookup can be slow)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _ClientGoneError(Exception):
    """The client closed the connection or the server is stopping."""


class _Handler(BaseHTTPRequestHandler):
    """Request handler implementing the subset of Ollama's API we need."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama/" + OLLAMA_VERSION
    server: _HTTPServer

    # -- connection bookkeeping ------------------------------------------- #
    def setup(self) -> None:
        """Register the connection so ``stop()`` can close it."""
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, fmt: str, *args: object) -> None:
        """Route the access log to ``logging`` instead of stderr."""
        logger.debug("%s - %s", self.address_string(), fmt % args)

    # -- HTTP verbs --------------------------------------------------------- #
    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        """Handle HEAD."""
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    # -- low-level responses ------------------------------------------------ #
    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self._send_bytes(status, data, "application/json; charset=utf-8")

    def _send_text(self, status: int, text: str) -> None:
        self._send_bytes(status, text.encode(), "text/plain; charset=utf-8")

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _start_stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write_line(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # blank line after the last chunk
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- routing ------------------------------------------------------------ #
    def _dispatch(self, method: str) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path
        try:
            raw = self._read_body()
            body: object = None
            bad_json: str | None = None
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    bad_json = str(exc)
            owner._record(method, path, body)

            if path.startswith("/api/") and owner.status_override is not None:
                self._send_error(owner.status_override, BUSY_ERROR)
                return
            if bad_json is not None:
                self._send_error(HTTPStatus.BAD_REQUEST, f"invalid JSON: {bad_json}")
                return
            self._route(method, path, body)
        except _ClientGoneError:
            logger.debug("connection for %s %s ended early", method, path)
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            logger.debug("client disconnected during %s %s", method, path)
            self.close_connection = True

    def _route(self, method: str, path: str, body: object) -> None:
        read = method in ("GET", "HEAD")
        if read and path in ("/", ""):
            self._send_text(HTTPStatus.OK, "Ollama is running")
        elif read and path == "/api/version":
            self._send_json(HTTPStatus.OK, {"version": OLLAMA_VERSION})
        elif read and path == "/api/tags":
            self._send_json(HTTPStatus.OK, self.server.owner._tags())
        elif read and path == "/api/ps":
            self._send_json(HTTPStatus.OK, {"models": []})
        elif method == "POST" and path in ("/api/show", "/api/chat", "/api/generate"):
            if not isinstance(body, dict):
                self._send_error(HTTPStatus.BAD_REQUEST, "missing request body")
            elif path == "/api/show":
                self._show(body)
            else:
                self._complete(body, chat=path == "/api/chat")
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "404 page not found")

    def _show(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        model = self.server.owner.resolve_model(name)
        if model is None:
            self._send_error(HTTPStatus.NOT_FOUND, f"model '{name}' not found")
            return
        self._send_json(HTTPStatus.OK, self.server.owner._show(model))

    def _complete(self, body: dict[str, Any], *, chat: bool) -> None:
        """Serve ``/api/chat`` (``chat=True``) or ``/api/generate``."""
        owner = self.server.owner
        name = str(body.get("model") or "")
        if not name:
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
            return
        if owner.hang:
            logger.debug("hanging on %s until the server stops", self.path)
            owner._stop_event.wait()
            raise _ClientGoneError
        if owner.resolve_model(name) is None:
            self._send_error(
                HTTPStatus.NOT_FOUND,
                f'model "{name}" not found, try pulling it first',
            )
            return

        stream = body.get("stream")
        stream = True if stream is None else bool(stream)
        # An empty conversation only loads the model, like real Ollama.
        if not body.get("messages" if chat else "prompt"):
            loaded = {
                "model": name,
                "created_at": _now(),
                **_content("", chat=chat),
                "done_reason": "load",
                "done": True,
            }
            self._send_single(loaded, stream=stream)
            return

        try:
            reply = owner._reply(body)
        except Exception as exc:  # report any responder bug as a 500
            logger.exception("responder failed")
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
            return
        self._emit_reply(body, reply, chat=chat, stream=stream)

    def _send_single(self, payload: dict[str, Any], *, stream: bool) -> None:
        """Send one response object, as a one-line NDJSON stream or plain JSON."""
        if stream:
            self._start_stream()
            self._write_line(payload)
            self._end_stream()
        else:
            self._send_json(HTTPStatus.OK, payload)

    def _emit_reply(self, body: dict[str, Any], reply: Reply, *, chat: bool, stream: bool) -> None:
        """Send the reply token by token (or at once) plus the final stats.

        Thinking tokens (``reply.thinking``) go first in the ``thinking`` field, then the
        content tokens; ``num_predict`` (or the ``length`` mode's limit) counts both.
        """
        owner = self.server.owner
        started = time.monotonic_ns()
        base = {"model": str(body["model"]), "created_at": _now()}
        split = split_fine_tokens if reply.fine else split_tokens
        tokens = [("thinking", t) for t in split_tokens(reply.thinking)] if reply.thinking else []
        tokens += [("content", t) for t in split(reply.content)]
        done_reason = "stop"
        options = body.get("options")
        num_predict = options.get("num_predict") if isinstance(options, dict) else None
        limit = num_predict if isinstance(num_predict, int) and num_predict > 0 else None
        if limit is None and reply.mode == "length" and reply.kind == "answer":
            limit = owner.length_limit
        if limit is not None and limit < len(tokens):
            tokens = tokens[:limit]
            done_reason = "length"
        content = "".join(t for field, t in tokens if field == "content")
        thinking = "".join(t for field, t in tokens if field == "thinking")

        first_delay = owner.first_token_delay if reply.mode == "slow-first-token" else 0.0
        delay = owner.token_delay
        if stream:
            self._start_stream()
            if first_delay > 0 and owner._stop_event.wait(first_delay):
                raise _ClientGoneError
            for field, token in tokens:
                if delay > 0 and owner._stop_event.wait(delay):
                    raise _ClientGoneError
                if field == "content":
                    part = _content(token, chat=chat)
                else:
                    part = _content("", chat=chat, thinking=token)
                self._write_line({**base, **part, "done": False})
        elif (pause := first_delay + delay * len(tokens)) > 0 and owner._stop_event.wait(pause):
            raise _ClientGoneError
        eval_duration = max(time.monotonic_ns() - started, 1)

        prompt_eval_count = estimate_tokens(owner._prompt_text(body))
        load_duration = 1_234_567
        # A streamed reply's last line carries no text, a single reply all of it.
        answer_part = _content("", chat=chat)
        if not stream:
            answer_part = _content(content, chat=chat, thinking=thinking)
        final: dict[str, Any] = {
            **base,
            "created_at": _now(),
            **answer_part,
            "done_reason": done_reason,
            "done": True,
            "total_duration": time.monotonic_ns() - started + load_duration,
            "load_duration": load_duration,
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": 100_000 * max(prompt_eval_count, 1),
            "eval_count": len(tokens),
            "eval_duration": eval_duration,
        }
        if not chat:
            final["context"] = list(range(1, prompt_eval_count + len(tokens) + 1))
        owner._record_reply(
            {
                "path": "/api/chat" if chat else "/api/generate",
                "mode": reply.mode,
                "kind": reply.kind,
                "content": content,
                "thinking": thinking,
                "done_reason": done_reason,
                "language_reminder": reply.language_reminder,
            }
        )
        if stream:
            self._write_line(final)
            self._end_stream()
        else:
            self._send_json(HTTPStatus.OK, final)


# --------------------------------------------------------------------------- #
# Public server object
# --------------------------------------------------------------------------- #
class FakeOllamaServer:
    """An in-process HTTP server imitating Ollama, for tests and manual runs.

    All switches are plain attributes that may be changed while it runs; each
    request reads them afresh.

    Attributes:
        host: Interface to bind (always 127.0.0.1 in tests).
        models: Names of the "pulled" models; ``"llama3.2"`` matches
            ``"llama3.2:latest"``.
        responder: Callable receiving the parsed request body of
            ``/api/chat`` or ``/api/generate`` and returning the full answer.
        status_override: If set (e.g. 503), every ``/api/*`` request answers
            that status with ``{"error": "server busy, please try again"}``.
        token_delay: Seconds to wait before each streamed token.
        hang: If true, ``/api/chat`` and ``/api/generate`` accept the request
            and never answer until the server is stopped.
        requests: Every request received, as ``{"method", "path", "body"}``
            (``body`` is the parsed JSON or None).
        mode: The quirk mode (one of ``MODES``, see the module docstring); setting an
            unknown one raises ValueError.
        first_token_delay: Seconds before the first chunk in mode ``slow-first-token``.
        length_limit: Tokens after which mode ``length`` cuts answers.
        translations: Lookup table for translation requests.
        rewrite_template: ``str.format`` template of rewritten questions, with
            ``{question}`` and ``{previous}`` (not used in mode ``default``).
        replies: What each completion sent, oldest first, as ``{"path", "mode", "kind",
            "content", "thinking", "done_reason", "language_reminder"}`` (after any
            ``num_predict`` cut).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] | None = None,
        responder: Responder | None = None,
        token_delay: float = 0.0,
        status_override: int | None = None,
        hang: bool = False,
        mode: str = "default",
        first_token_delay: float = DEFAULT_FIRST_TOKEN_DELAY,
        length_limit: int = DEFAULT_LENGTH_LIMIT,
        translations: Mapping[str, str] | None = None,
        rewrite_template: str = "{question}",
    ) -> None:
        """Create the server (call ``start()`` or use ``with`` to run it).

        Args:
            host: Interface to bind.
            port: Port to bind; 0 picks a free one.
            models: Pulled model names (default ``["llama3.2:latest"]``).
            responder: Answer builder (default ``default_responder``).
            token_delay: Seconds to wait before each streamed token.
            status_override: HTTP status to answer every ``/api/*`` request with.
            hang: Never answer ``/api/chat`` / ``/api/generate``.
            mode: Quirk mode (one of ``MODES``).
            first_token_delay: Seconds before the first chunk in ``slow-first-token``.
            length_limit: Answer tokens kept by mode ``length``.
            translations: Lookup table for translation requests.
            rewrite_template: Template of rewritten questions.

        Raises:
            ValueError: For an unknown mode.
        """
        self.host = host
        self._port = port
        self.models: list[str] = list(DEFAULT_MODELS if models is None else models)
        self.responder: Responder = responder or default_responder
        self.token_delay = token_delay
        self.status_override = status_override
        self.hang = hang
        self.mode = mode
        self.first_token_delay = first_token_delay
        self.length_limit = length_limit
        self.translations: dict[str, str] = dict(translations or {})
        self.rewrite_template = rewrite_template
        self.requests: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------- #
    def start(self) -> Self:
        """Bind and serve in a daemon thread.

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: If the server was already started.
        """
        if self._httpd is not None:
            msg = "server already started"
            raise RuntimeError(msg)
        self._stop_event.clear()
        httpd = _HTTPServer((self.host, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._port = httpd.server_port
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-ollama-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("fake Ollama listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, release hanging handlers and close open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop_event.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        logger.info("fake Ollama on port %s stopped", self._port)

    def __enter__(self) -> Self:
        """Start the server.

        Returns:
            The started server.
        """
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- properties ------------------------------------------------------------ #
    @property
    def port(self) -> int:
        """The bound port (0 before ``start()`` if none was given)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL such as ``"http://127.0.0.1:54321"``.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._httpd is None:
            msg = "server is not running"
            raise RuntimeError(msg)
        return f"http://{self.host}:{self._port}"

    @property
    def mode(self) -> str:
        """The quirk mode used for the next request."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            msg = f"unknown mode {value!r}; choose one of {', '.join(MODES)}"
            raise ValueError(msg)
        self._mode = value

    @property
    def chat_count(self) -> int:
        """How many ``/api/chat`` requests were received."""
        return len(self.chat_requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the ``/api/chat`` requests received, oldest first."""
        with self._lock:
            return [r["body"] for r in self.requests if r["path"] == "/api/chat"]

    @property
    def answer_requests(self) -> list[dict[str, Any]]:
        """Bodies of the ``/api/chat`` requests other than translation requests (a search in
        a collection holding another language than the question's translates it first)."""
        return [b for b in self.chat_requests if translation_source(b) is None]

    def clear_requests(self) -> None:
        """Forget the recorded requests and replies."""
        with self._lock:
            self.requests.clear()
            self.replies.clear()

    def resolve_model(self, name: str) -> str | None:
        """Map a requested model name to a pulled model.

        Args:
            name: Requested name, with or without tag.

        Returns:
            The pulled model's full name, or None if it is not pulled.
        """
        if not name:
            return None
        wanted = normalize_model_name(name).lower()
        for model in list(self.models):
            if normalize_model_name(model).lower() == wanted:
                return normalize_model_name(model)
        return None

    # -- used by the handler ------------------------------------------------- #
    def _record(self, method: str, path: str, body: object) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body})

    def _record_reply(self, reply: dict[str, Any]) -> None:
        with self._lock:
            self.replies.append(reply)

    def _reply(self, body: dict[str, Any]) -> Reply:
        """What the current mode answers to ``body``."""
        mode = self.mode
        if mode != "default":
            return mode_reply(
                mode,
                body,
                translations=self.translations,
                rewrite_template=self.rewrite_template,
            )
        reminder = has_language_reminder(body)
        judged = judge_request(body)
        if judged is not None:
            return _judge_reply(mode, body, judged)
        source = translation_source(body)
        if source is not None:
            text = (self.translations or {}).get(source, source)
            return Reply(text, kind="translate", language_reminder=reminder)
        kind = "answer" if _rewrite_request_question(body) is None else "rewrite"
        return Reply(self.responder(body), kind=kind, language_reminder=reminder)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _tags(self) -> dict[str, Any]:
        models = []
        for raw in list(self.models):
            name = normalize_model_name(raw)
            models.append(
                {
                    "name": name,
                    "model": name,
                    "modified_at": _MODIFIED_AT,
                    "size": 2_019_393_189,
                    "digest": _digest(name),
                    "details": _details(name),
                }
            )
        return {"models": models}

    def _show(self, model: str) -> dict[str, Any]:
        family = _family(model)
        digest = _digest(model)
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {model}\n\n"
            f"FROM /root/.ollama/models/blobs/sha256-{digest}\n"
            f'TEMPLATE """{_TEMPLATE}"""\n'
            + "".join(f"PARAMETER {line}\n" for line in _PARAMETERS.split("\n"))
        )
        return {
            "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
            "modelfile": modelfile,
            "parameters": _PARAMETERS,
            "template": _TEMPLATE,
            "details": _details(model),
            "model_info": {
                "general.architecture": family,
                "general.basename": model.split(":", 1)[0],
                "general.file_type": 15,
                "general.parameter_count": 3_212_749_888,
                "general.quantization_version": 2,
                f"{family}.attention.head_count": 24,
                f"{family}.attention.head_count_kv": 8,
                f"{family}.block_count": 28,
                f"{family}.context_length": 131_072,
                f"{family}.embedding_length": 3072,
                f"{family}.feed_forward_length": 8192,
                f"{family}.rope.freq_base": 500_000,
                f"{family}.vocab_size": 128_256,
            },
            "capabilities": ["completion", "tools"]
            + (["thinking"] if self.mode in THINK_MODES else []),
            "modified_at": _MODIFIED_AT,
        }

    @staticmethod
    def _prompt_text(body: dict[str, Any]) -> str:
        parts = [
            str(m.get("content") or "") for m in body.get("messages") or [] if isinstance(m, dict)
        ]
        parts += [body[k] for k in ("system", "prompt") if isinstance(body.get(k), str)]
        return "\n".join(parts)


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake server from the command line until Ctrl-C or SIGTERM.

    Args:
        argv: Command line arguments (default ``sys.argv[1:]``).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(description="Serve a fake Ollama API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free)")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="a pulled model name (repeatable; default llama3.2:latest)",
    )
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds before each token")
    parser.add_argument("--answer", help="always answer this text")
    parser.add_argument("--status", type=int, help="answer every /api/* request with this status")
    parser.add_argument("--mode", default="default", choices=MODES, help="quirk mode")
    parser.add_argument(
        "--first-token-delay",
        type=float,
        default=DEFAULT_FIRST_TOKEN_DELAY,
        help="seconds before the first chunk in mode slow-first-token",
    )
    parser.add_argument(
        "--length-limit",
        type=int,
        default=DEFAULT_LENGTH_LIMIT,
        help="answer tokens kept in mode length",
    )
    parser.add_argument(
        "--translations", help="JSON file: an object mapping texts to their translations"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )

    fixed_answer: str | None = args.answer
    translations: dict[str, str] = {}
    if args.translations:
        with open(args.translations, encoding="utf-8") as handle:
            translations = {str(k): str(v) for k, v in json.load(handle).items()}
    server = FakeOllamaServer(
        host=args.host,
        port=args.port,
        models=args.models,
        responder=(lambda _body: fixed_answer) if fixed_answer is not None else None,
        token_delay=args.token_delay,
        status_override=args.status,
        mode=args.mode,
        first_token_delay=args.first_token_delay,
        length_limit=args.length_limit,
        translations=translations,
    )
    done = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    # Handle SIGINT explicitly too: it is ignored in background jobs of shells.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    server.start()
    # The one line of output that scripts read to find the server.
    sys.stdout.write(f"{server.url}\n")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
