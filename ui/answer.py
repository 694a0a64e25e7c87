"""One answer on screen: the live status, the thinking, the streamed answer, its notices.

The engine's events (:meth:`rag_core.engine.Engine.ask`) are read on a
worker thread and handed to the script thread through a queue, so the status ("Reading 5
passages... (12 s)") keeps counting while a model stays silent; everything shown is
drawn by the script thread. Reasoning goes to a collapsed "Thinking" expander as plain
text; the answer goes through :class:`~ui.text.AnswerSanitizer` into a placeholder that a
``retract`` (it was reasoning) or a ``retry`` (wrong language) clears.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

from rag_core.chats.history import ChatMessage
from rag_core.generation.claims import canonical_citations
from rag_core.generation.report import NOTICE_TEXTS, Notice
from rag_core.generation.types import (
    AnswerCheck,
    AnswerDelta,
    AnswerEvent,
    AnswerFold,
    AnswerRetracted,
    Retrying,
    Sources,
    ThinkingDelta,
)
from ui.i18n import MESSAGES, t
from ui.text import AnswerSanitizer, escape_markdown, sanitize_answer

TICK_S = 0.5
"""How often the status's elapsed seconds are refreshed while no event comes."""
REDRAW_S = 0.1
"""Streamed text is redrawn at most this often (and once more at the end)."""
_END = object()


def events_in_background(
    produce: Callable[[], Iterator[AnswerEvent]], *, tick_s: float = TICK_S
) -> Iterator[AnswerEvent | None]:
    """Run ``produce()`` on a worker thread; yield its events, and None every ``tick_s``.

    The caller (the script thread) draws; the worker only reads the engine's stream.
    When the caller stops early (the user stops the run, or a rerun), the worker stops
    reading at its next event, which closes the engine's stream and its HTTP request.

    Args:
        produce: returns the event iterator (called on the worker thread).
        tick_s: seconds to wait for an event before yielding None.

    Yields:
        the events in order, and None while waiting.

    Raises:
        Exception: whatever ``produce`` raised, re-raised on the caller's thread.
    """
    inbox: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            for event in produce():
                inbox.put(event)
                if stop.is_set():
                    break
        except Exception as exc:  # handed over to the script thread, re-raised there
            inbox.put(exc)
        finally:
            inbox.put(_END)

    threading.Thread(target=work, name="answer-stream", daemon=True).start()
    try:
        while True:
            try:
                item = inbox.get(timeout=tick_s)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()


def language_name(code: str) -> str:
    """A language code ("ko") as a name in the UI language ("Korean" / "한국어")."""
    return t(f"lang.{code}") if f"lang.{code}" in MESSAGES else code or "?"


def notice_template(code: str) -> str:
    """The text of notice ``code`` in the UI language, unformatted (English if untranslated)."""
    key = f"notice.{code}"
    return t(key) if key in MESSAGES else NOTICE_TEXTS[code]


def notice_text(notice: Notice, check: AnswerCheck) -> str:
    """A notice of :func:`rag_core.generation.report.answer_notices` in the UI language."""
    params = dict(notice.params)
    if notice.code == "language":
        params["answer_language"] = language_name(check.answer_language)
    return notice_template(notice.code).format(**params)


def search_notice_text(code: str, params: dict[str, Any]) -> str:
    """A search notice (``notice`` event: translation unavailable or unusable), translated."""
    values = {"languages": "", "error": "", **params}
    try:
        return notice_template(code).format(**values)
    except (KeyError, IndexError, ValueError):
        return code


def ollama_problem(code: str, params: dict[str, Any], english: str) -> str:
    """An Ollama problem (``error_code`` event) in the UI language; ``english`` if unknown."""
    key = f"ollama.{code}"
    if key not in MESSAGES:
        return english
    try:
        return t(key, **params)
    except (KeyError, IndexError, ValueError):
        return english


class LiveStatus:
    """The status line above an answer until its first token.

    "Searching the documents..." until the sources arrive, then "Reading N passages...
    (s)", "Thinking... (s)" while reasoning streams, "Asking again ... (s)" after a wrong
    language; the seconds count from the moment the sources arrived (when the model was
    asked). Cleared when the answer starts; a later phase shows it again.
    """

    def __init__(self) -> None:
        """Show "Searching the documents..." now."""
        self._slot = st.empty()
        self._status: Any = None
        self._label = ""
        self._phase: tuple[str, dict[str, Any]] = ("chat.status.searching", {})
        self._since = time.monotonic()
        self.hidden = False
        self.tick()

    def show(self, key: str, **params: Any) -> None:
        """Switch to the phase ``key`` (an i18n key taking ``seconds``) and draw it."""
        if key == "chat.status.reading":
            self._since = time.monotonic()
        self._phase = (key, params)
        self.hidden = False
        self.tick()

    def tick(self) -> None:
        """Redraw the label when its elapsed seconds changed (nothing while hidden)."""
        if self.hidden:
            return
        key, params = self._phase
        if key != "chat.status.searching":
            params = {**params, "seconds": int(time.monotonic() - self._since)}
        label = t(key, **params)
        if self._status is None:
            self._status = self._slot.status(label, state="running", expanded=False)
        elif label != self._label:
            self._status.update(label=label)
        self._label = label

    def clear(self) -> None:
        """Remove the status (the answer has started, or nothing more will come)."""
        if self._status is not None:
            self._slot.empty()
            self._status = None
        self.hidden = True


class StreamedText:
    """A placeholder showing text that grows, redrawn at most every :data:`REDRAW_S`.

    Args:
        draw: draws the whole text so far (e.g. into an ``st.empty()``).
        clean: turns each new piece into what is drawn (e.g. a sanitizer's ``feed``).
    """

    def __init__(self, draw: Callable[[str], None], clean: Callable[[str], str] | None = None):
        """Start empty."""
        self._draw = draw
        self._clean = clean
        self.raw: list[str] = []
        self._shown: list[str] = []
        self._drawn_at = 0.0
        self._pending = False

    @property
    def text(self) -> str:
        """Everything received (before cleaning)."""
        return "".join(self.raw)

    def add(self, piece: str) -> None:
        """Append a piece and redraw if the last redraw is old enough."""
        self.raw.append(piece)
        self._shown.append(self._clean(piece) if self._clean else piece)
        self._pending = True
        if time.monotonic() - self._drawn_at >= REDRAW_S:
            self.flush()

    def flush(self) -> None:
        """Draw what was received since the last redraw."""
        if self._pending:
            self._draw("".join(self._shown))
            self._drawn_at = time.monotonic()
            self._pending = False


def thinking_box(slot: Any) -> StreamedText:
    """Streamed reasoning in a collapsed "Thinking" expander made on the first piece."""
    inner: list[Any] = []

    def draw(text: str) -> None:
        if not inner:
            inner.append(slot.expander(t("chat.thinking"), expanded=False).empty())
        inner[0].text(text)

    return StreamedText(draw)


def answer_box(slot: Any) -> StreamedText:
    """The streamed answer, sanitised piece by piece, as Markdown in ``slot``."""
    return StreamedText(slot.markdown, AnswerSanitizer().feed)


class AnswerView:
    """Draws the events of one answer as they come; folds them into a :class:`ChatMessage`.

    Args:
        question: the question (its language names the retry).
        num_predict: the ``num_predict`` setting (named by the truncation notice).
    """

    def __init__(self, question: str, *, num_predict: int = 0) -> None:
        """Lay out the status, the thinking and the answer placeholders."""
        self.question = question
        self.num_predict = num_predict
        self.fold = AnswerFold(question)
        self.status = LiveStatus()
        self._thinking_slot = st.empty()
        self._answer_slot = st.empty()
        self.thinking = thinking_box(self._thinking_slot)
        self.answer = answer_box(self._answer_slot)

    def run(self, events: Iterator[AnswerEvent | None]) -> ChatMessage:
        """Draw every event (None: a tick of the status); return the answer's message.

        The message's error is in the UI language when the engine named the problem.
        """
        for event in events:
            if event is None:
                self.status.tick()
                self.thinking.flush()
                self.answer.flush()
            else:
                self.fold.add(event)
                self.on_event(event)
        self.status.clear()
        self.thinking.flush()
        self.answer.flush()
        answer = self.fold.result()
        message = ChatMessage.from_answer(answer, num_predict=self.num_predict)
        if message.content != self.answer.text:  # [^3], [1-2] ... shown as [3], [1][2]
            self._answer_slot.markdown(sanitize_answer(message.content))
        if answer.error_code:
            message.error = ollama_problem(answer.error_code, answer.error_params, answer.error)
        return message

    def on_event(self, event: AnswerEvent) -> None:
        """Draw one event (the fold keeps its data)."""
        if isinstance(event, Sources):
            self.status.show("chat.status.reading", n=len(event.citations))
        elif isinstance(event, ThinkingDelta):
            if not self.answer.raw:
                self.status.show("chat.status.thinking")
            self.thinking.add(event.text)
        elif isinstance(event, AnswerDelta):
            self.status.clear()
            self.answer.add(event.text)
        elif isinstance(event, AnswerRetracted):
            self._restart_answer()
        elif isinstance(event, Retrying):
            self._restart_answer()
            self.thinking = thinking_box(self._thinking_slot)
            self._thinking_slot.empty()
            self.status.show("chat.status.retry", language=language_name(event.language))

    def _restart_answer(self) -> None:
        self._answer_slot.empty()
        self.answer = answer_box(self._answer_slot)


def render_answer_marks(message: ChatMessage) -> None:
    """Show what to know about an answer, under it.

    Its error, the note that it was asked for again, the notices (in the UI language),
    each unsupported sentence, the query it searched for and the passages left out.
    """
    if message.error:
        st.warning(escape_markdown(message.error), icon=":material/warning:")
    if message.retry_language:
        st.caption(t("chat.retried", language=language_name(message.retry_language)))
    check = message.check
    if check is not None:
        for notice in message.notices():
            st.warning(notice_text(notice, check), icon=":material/info:")
        for claim in check.unsupported:
            sentence = escape_markdown(" ".join(claim.text.split()))
            st.caption(t("chat.unsupported_mark", n=claim.source, sentence=sentence))
    for code, params in message.search_notices:
        st.warning(escape_markdown(search_notice_text(code, params)), icon=":material/translate:")
    if len(message.queries) > 1:
        shown = " · ".join(escape_markdown(q) for q in message.queries)
        st.caption(t("chat.searched_in_translation", queries=shown))
    elif message.query:
        st.caption(t("chat.searched_for", query=escape_markdown(message.query)))
    if message.dropped:
        st.caption(t("chat.dropped", n=message.dropped))


def render_answer_text(message: ChatMessage) -> None:
    """A replayed answer: the thinking expander (collapsed, plain text), then the answer.

    Laid out in the same slots as :class:`AnswerView` (status, thinking, answer), so the
    widgets under the answer keep their place and state (an opened source stays open)
    when the answer just streamed is replayed on the next rerun.
    """
    st.empty()  # where the live status was
    thinking = st.empty()
    if message.thinking:
        with thinking.expander(t("chat.thinking"), expanded=False):
            st.text(message.thinking)
    answer = st.empty()
    if message.content:
        answer.markdown(sanitize_answer(canonical_citations(message.content)))


__all__ = [
    "AnswerView",
    "LiveStatus",
    "events_in_background",
    "language_name",
    "notice_template",
    "notice_text",
    "ollama_problem",
    "render_answer_marks",
    "render_answer_text",
    "search_notice_text",
]
