"""Reasoning ("thinking") split from the answer, streaming-safe.

Reasoning models put their chain of thought in one of these forms, and the answer must
never contain it (nor the stored chat, the history sent back, the rewrite query, citation
parsing or evaluation):

* inline tags: ``<think> ... </think>`` (qwen3, deepseek-r1, EXAONE Deep) or
  ``<thinking> ... </thinking>``, possibly several blocks in one reply;
* a lone closing ``</think>`` without an opening tag (distilled R1 models whose chat
  template already opened the block): everything before it is reasoning;
* a separate field: Ollama's ``message.thinking`` when the request sets ``think``
  (https://github.com/ollama/ollama/blob/main/docs/api.md), which langchain-ollama passes
  on as ``AIMessageChunk.additional_kwargs["reasoning_content"]``.

:class:`ReasoningSplitter` takes the stream piece by piece and returns small events, so a
UI can stream the answer and the thinking in separate places while tags arrive split
across tokens (``"<th"`` + ``"ink>"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG_RE = re.compile(r"<(/?)think(?:ing)?>", re.IGNORECASE)
_TAGS = ("<think>", "<thinking>", "</think>", "</thinking>")
_MAX_TAG = max(len(tag) for tag in _TAGS)
BLOCK_SEPARATOR = "\n\n"
"""Put between two separate pieces of reasoning (two blocks, or a block and a field)."""


@dataclass(frozen=True)
class AnswerDelta:
    """More answer text: append ``text`` to what is shown as the answer."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """More reasoning text: append ``text`` to what is shown as the thinking."""

    text: str


@dataclass(frozen=True)
class AnswerRetracted:
    """The answer streamed so far was reasoning after all (a lone ``</think>`` arrived).

    Clear the shown answer; a :class:`ThinkingDelta` carrying the same text (and what
    came before the tag) follows at once.

    Attributes:
        text: the answer text taken back, exactly as it was emitted.
    """

    text: str


ReasoningEvent = AnswerDelta | ThinkingDelta | AnswerRetracted
"""What :meth:`ReasoningSplitter.feed` and :meth:`ReasoningSplitter.finish` return."""


def _partial_tag_start(buffer: str) -> int:
    """Return where a possible unfinished tag begins at the end of ``buffer`` (or its end)."""
    start = max(0, len(buffer) - _MAX_TAG + 1)
    for index in range(start, len(buffer)):
        if buffer[index] != "<":
            continue
        tail = buffer[index:].lower()
        if any(tag.startswith(tail) for tag in _TAGS):
            return index
    return len(buffer)


class ReasoningSplitter:
    r"""Split a streamed reply into answer and reasoning, one piece at a time.

    Rules, in stream order:

    * ``<think>`` / ``<thinking>`` (any case) opens a reasoning block; the next closing
      tag ends it. An opening tag inside a block is kept as reasoning text.
    * A closing tag outside a block means the answer streamed so far was reasoning: it is
      moved to the thinking (:class:`AnswerRetracted`, then a :class:`ThinkingDelta`).
    * Text of the ``thinking`` argument (Ollama's separate field) goes to the thinking.
    * Whitespace at the start of the answer (after a closing tag, or at the very start)
      is dropped.
    * Only a possible unfinished tag at the end of the text fed so far (at most 11
      characters starting with ``<``) is held back until the next piece or
      :meth:`finish`; everything else is emitted at once.
    * Separate pieces of reasoning are joined with :data:`BLOCK_SEPARATOR`.

    The concatenated :class:`AnswerDelta` texts since the last :class:`AnswerRetracted`
    equal :attr:`answer`; the concatenated :class:`ThinkingDelta` texts equal
    :attr:`thinking`.

    Example:
        >>> s = ReasoningSplitter()
        >>> s.feed("<th") + s.feed("ink>plan</think>\n\nParis [1].") + s.finish()
        [ThinkingDelta(text='plan'), AnswerDelta(text='Paris [1].')]
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._in_block = False
        self._answer: list[str] = []
        self._thinking: list[str] = []
        self._new_piece = False
        self._source = ""

    @property
    def answer(self) -> str:
        """The answer emitted so far (never contains reasoning or tags)."""
        return "".join(self._answer)

    @property
    def thinking(self) -> str:
        """The reasoning emitted so far, blocks joined by :data:`BLOCK_SEPARATOR`."""
        return "".join(self._thinking)

    @property
    def in_thinking(self) -> bool:
        """True while inside an unclosed reasoning block (for a "thinking" status)."""
        return self._in_block

    def feed(self, text: str, thinking: str = "") -> list[ReasoningEvent]:
        """Take the next piece of the stream.

        Args:
            text: the next piece of the reply's content (any length, tags may be split).
            thinking: the next piece of the separate reasoning field, if any (Ollama's
                ``message.thinking`` / langchain-ollama's
                ``additional_kwargs["reasoning_content"]``).

        Returns:
            The events this piece produces, in order (possibly none).
        """
        events: list[ReasoningEvent] = []
        if thinking:
            self._emit_thinking(thinking, events, source="field")
        self._buffer += text
        while self._buffer:
            match = self._next_tag()
            if match is None:
                keep = _partial_tag_start(self._buffer)
                self._emit(self._buffer[:keep], events)
                self._buffer = self._buffer[keep:]
                break
            before, closing = self._buffer[: match.start()], bool(match.group(1))
            self._buffer = self._buffer[match.end() :]
            if self._in_block:
                self._emit(before, events)
                self._in_block = False
            elif closing:
                self._retract(before, events)
            else:
                self._emit(before, events)
                self._in_block = True
                self._new_piece = True
        return events

    def finish(self) -> list[ReasoningEvent]:
        """End the stream: emit what was held back (an unfinished tag is plain text).

        Returns:
            The last events. An unclosed block's text stays reasoning (e.g. a reply cut
            off by ``num_predict`` while thinking).
        """
        events: list[ReasoningEvent] = []
        self._emit(self._buffer, events)
        self._buffer = ""
        return events

    def _next_tag(self) -> re.Match[str] | None:
        for match in _TAG_RE.finditer(self._buffer):
            if not self._in_block or match.group(1):
                return match
        return None

    def _emit(self, text: str, events: list[ReasoningEvent]) -> None:
        if self._in_block:
            self._emit_thinking(text, events, source="tags")
            return
        if not self._answer:
            text = text.lstrip()
        if text:
            self._answer.append(text)
            events.append(AnswerDelta(text))

    def _emit_thinking(self, text: str, events: list[ReasoningEvent], source: str) -> None:
        if not self._thinking:
            text = text.lstrip()
        elif self._new_piece or source != self._source:
            text = text.lstrip()
            text = BLOCK_SEPARATOR + text if text else ""
        if not text:
            return
        self._new_piece = False
        self._source = source
        self._thinking.append(text)
        events.append(ThinkingDelta(text))

    def _retract(self, before: str, events: list[ReasoningEvent]) -> None:
        taken = self.answer
        self._answer = []
        if taken:
            events.append(AnswerRetracted(taken))
        self._new_piece = True
        self._emit_thinking(taken + before, events, source="tags")


def split_reasoning(text: str) -> tuple[str, str]:
    """Split a whole reply into its answer and its reasoning.

    Args:
        text: the complete reply content, e.g. ``"<think>plan</think> Paris [1]."``.

    Returns:
        ``(answer, thinking)``, both stripped; ``thinking`` is ``""`` when there was none.
        Uses :class:`ReasoningSplitter`, so it agrees with the streamed result.
    """
    splitter = ReasoningSplitter()
    splitter.feed(text)
    splitter.finish()
    return splitter.answer.strip(), splitter.thinking.strip()


__all__ = [
    "BLOCK_SEPARATOR",
    "AnswerDelta",
    "AnswerRetracted",
    "ReasoningEvent",
    "ReasoningSplitter",
    "ThinkingDelta",
    "split_reasoning",
]
