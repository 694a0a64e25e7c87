"""The CLI's answer commands: ``ask`` (one question) and ``chat`` (questions from stdin).

Both answer through the engine, as the app does (:meth:`rag_core.engine.Engine.ask`).
In a terminal the answer streams to stdout, the reasoning (if any) to stderr, then the
notices and the sources; with ``--json`` each answer is one JSON object on its own line
(:func:`rag_core.generation.report.answer_json`). ``--judge MODEL`` lets an Ollama model
refine each cited sentence's support verdict (:mod:`rag_core.generation.judge`; one model
call per cited sentence).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from rag_core.engine import AskOptions, Engine
from rag_core.generation.report import Notice, answer_json, answer_notices
from rag_core.generation.types import (
    AnswerDelta,
    AnswerEvent,
    AnswerRetracted,
    ChatTurn,
    RagAnswer,
    Retrying,
    Searched,
    ThinkingDelta,
)


def _terminal(out: TextIO, err: TextIO, question: str) -> Callable[[AnswerEvent], None]:
    """An ``on_event`` that streams the answer to ``out`` and the reasoning to ``err``."""
    state = {"thinking": False}

    def show(event: AnswerEvent) -> None:
        if isinstance(event, Searched):
            if event.query != question:
                err.write(f"(searched for: {event.query})\n")
            if len(event.queries) > 1:
                err.write("(also searched in translation: " + " | ".join(event.queries[1:]) + ")\n")
            for code, params in event.notices:
                err.write(f"note: {Notice(code, params).text}\n")
        elif isinstance(event, ThinkingDelta):
            if not state["thinking"]:
                err.write("(thinking) ")
                state["thinking"] = True
            err.write(event.text)
        elif isinstance(event, AnswerRetracted):
            out.write("\n(the text above was the model's reasoning, not the answer)\n")
        elif isinstance(event, Retrying):
            out.write("\n(answer in another language than the question: asking again)\n")
        elif isinstance(event, AnswerDelta):
            if state["thinking"]:
                err.write("\n")
                state["thinking"] = False
            out.write(event.text)
        out.flush()
        err.flush()

    return show


def print_answer(result: RagAnswer, out: TextIO, err: TextIO, *, num_predict: int) -> None:
    """After a streamed answer: the error, the notices, unsupported sentences, the sources."""
    out.write("\n")
    if result.error:
        err.write(result.error + "\n")
    check = result.check
    for notice in answer_notices(
        check, answer=result.answer, relevant=result.relevant, num_predict=num_predict
    ):
        out.write(f"note: {notice.text}\n")
    for claim in check.unsupported:
        out.write(f"  not supported by [{claim.source}]: {' '.join(claim.text.split())}\n")
    if check.judge is not None:
        report = check.judge
        err.write(
            f"(judge {report.model}: {report.judged} of {report.asked + report.skipped} cited "
            f"statement(s) judged, {report.overturned} word-based verdict(s) changed)\n"
        )
    cited = set(check.cited)
    title = "Sources" if result.relevant else "Closest matches"
    out.write(f"\n{title}:\n")
    for c in result.citations:
        mark = " (cited)" if c.number in cited else ""
        passage = " ".join(c.text.split())[:200]
        out.write(f"[{c.number}] {c.source} {c.location}{mark}: {passage}\n")


def answer_questions(
    engine: Engine,
    questions: Iterable[str],
    *,
    k: int | None,
    model: str | None,
    as_json: bool,
    keep_history: bool,
    judge: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Answer questions one after another (a conversation when ``keep_history``).

    Args:
        engine: the engine (its default collection is searched).
        questions: the questions; blank ones are skipped.
        k: top-k passages (the setting if None).
        model: the Ollama model tag (the setting if None).
        as_json: print one JSON object per answer instead of streaming text.
        keep_history: send earlier turns with each question (follow-ups are rewritten).
        judge: an Ollama model tag that judges each cited sentence (None: no judge).
        out: where answers go.
        err: where reasoning, searched-for queries and errors go.

    Returns:
        The exit status: 1 if any answer failed with an error, else 0.
    """
    settings = engine.settings
    options = AskOptions(k=k, model=model, judge=judge)
    history: list[ChatTurn] = []
    failed = False
    for line in questions:
        question = line.strip()
        if not question:
            continue
        show = None if as_json else _terminal(out, err, question)
        result = engine.answer(
            question,
            history=history if keep_history else [],
            options=options,
            on_event=show,
        )
        failed |= bool(result.error)
        if as_json:
            payload = answer_json(result, num_predict=settings.num_predict)
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        else:
            print_answer(result, out, err, num_predict=settings.num_predict)
        out.flush()
        history.append(ChatTurn(question, result.answer))
    return 1 if failed else 0


def add_answer_arguments(cmd: Any) -> None:
    """The options ``ask`` and ``chat`` share."""
    cmd.add_argument("--k", type=int, help="top-k passages")
    cmd.add_argument("--model", help="Ollama model tag")
    cmd.add_argument("--json", action="store_true", help="one JSON object per answer")
    cmd.add_argument(
        "--judge",
        metavar="MODEL",
        help="an Ollama model that also judges each cited sentence against its passages "
        "(one model call per cited sentence)",
    )


__all__ = ["add_answer_arguments", "answer_questions"]
