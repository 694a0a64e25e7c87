"""Command line for the durable ingest queue: ``ingest`` through it, and ``jobs``.

* ``ingest FILE...``: each file is recorded and spooled in the data directory's queue
  (:mod:`rag_core.ingest_queue`), then ingested with a progress bar per file (tqdm) and a
  result line, as before. Files an earlier run left unfinished (the CLI or the app was
  killed) are taken up first. A killed run is taken up again by the next ``ingest`` or
  ``jobs resume``.
* ``jobs [--json] [--collection NAME]``: every recorded job (of all collections, or one):
  id, collection, status (queued, reading, ocr, embedding, done, failed, cancelled), file,
  and the reason of a failure or the progress of a running job.
* ``jobs cancel JOB_ID``: cancel a queued or running job (an id or a unique prefix of one),
  also one the app or another CLI is running: its worker stops at its next page or batch,
  and nothing of the file is left.
* ``jobs resume``: run the unfinished jobs now and print their results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from rag_core.cli.output import err_line, out_line
from rag_core.engine import Engine
from rag_core.errors import PasswordRequiredError, WrongPasswordError
from rag_core.ingest_queue import IngestJob
from rag_core.ingestion.jobs import CANCELLED
from rag_core.ingestion.loaders import display_name

POLL_S = 0.1
"""Seconds between looks at a followed job's record."""
ID_PREFIX = 12
"""Characters of a job id shown in the listing (any unique prefix cancels)."""


def add_jobs_command(sub: argparse._SubParsersAction) -> None:
    """Add the ``jobs`` command (list, ``cancel JOB_ID``, ``resume``) to the CLI."""
    jobs = sub.add_parser("jobs", help="the ingest queue: list, cancel JOB_ID, resume")
    jobs.add_argument("--json", action="store_true")
    jobs.add_argument("--collection", default=argparse.SUPPRESS, help="only this collection's jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command")
    cancel = jobs_sub.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job_id", help="the job's id, or a unique prefix of it")
    jobs_sub.add_parser("resume", help="run the unfinished jobs now")


def run_ingest(engine: Engine, files: Sequence[Path], password: str | None, env_hint: str) -> int:
    """Queue ``files`` durably, then follow each to its result line (the ``ingest`` command).

    Args:
        engine: the engine (the CLI runs as the data directory's owner).
        files: the files, in order.
        password: for encrypted PDFs (kept in memory only).
        env_hint: the environment variable that gives a password (for the message).

    Returns:
        1 if a file failed or was cancelled, else 0.
    """
    left = engine.resume_jobs()
    if left:
        err_line(f"taking up {left} unfinished file(s) of an earlier run first")
    failed = 0
    jobs: list[IngestJob] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            err_line(f"failed: {display_name(path.name)}: cannot read ({exc.strerror})")
            failed += 1
            continue
        jobs.append(engine.submit(uuid.uuid4().hex, path.name, data, password=password))
    for job in jobs:
        failed += not _report(follow(engine, job), env_hint)
    return 1 if failed else 0


def follow(engine: Engine, job: IngestJob) -> IngestJob:
    """Show a progress bar for ``job`` until it is finished (by this process or another).

    Returns:
        The finished job.
    """
    bar = tqdm(total=1, desc=job.name, unit="page", leave=True, file=sys.stderr)
    queue = engine.job_queue()
    current: IngestJob | None = job
    while current is not None and not current.finished:
        _show(bar, current)
        time.sleep(POLL_S)
        queue.start()  # the worker stopped (queue empty) while another process held it
        current = queue.get(job.id)
    if current is None:  # pruned from the records: very old
        bar.close()
        return job
    if current.status != CANCELLED and current.result is not None:
        bar.n = bar.total
        bar.set_postfix_str("done")
    bar.close()
    return current


def _show(bar: tqdm, job: IngestJob) -> None:
    """One bar per file in pages read; the other stages' counts go into the postfix."""
    event = job.progress
    if event is None:
        bar.set_postfix_str("queued")
    elif event.stage == "parse":
        if bar.total != event.total and event.total > 0:
            bar.reset(total=event.total)
        bar.n = event.done
        bar.set_postfix_str("reading")
    elif event.stage == "ocr":
        eta = event.eta_s
        left = f", about {eta:.0f} s left" if eta else ""
        bar.set_postfix_str(f"recognising text, page {event.done}/{event.total}{left}")
    else:
        bar.set_postfix_str(f"{event.stage} {event.done}/{event.total} chunks")
    bar.refresh()


def _report(job: IngestJob, env_hint: str) -> bool:
    """Print a finished job's result line; False if it failed or was cancelled."""
    if job.status == CANCELLED:
        err_line(f"cancelled: {job.name}")
        return False
    if isinstance(job.error, PasswordRequiredError | WrongPasswordError):
        err_line(f"failed: {job.error} (use --ask-password or set {env_hint})")
        return False
    if job.error is not None:
        err_line(f"failed: {job.error}")
        return False
    result = job.result
    if result is None:
        err_line(f"failed: {job.name}: {job.reason or 'no result recorded'}")
        return False
    if result.status == "failed":
        err_line(f"failed: {result.error}")
        return False
    line = f"{result.status}: {result.filename} ({result.pages} pages, {result.chunks} chunks"
    out_line(line + f", {result.embedded} embedded, {result.seconds:.1f} s)")
    if result.warning:
        out_line(f"  note: {result.warning}")
    return True


def run_jobs(engine: Engine, args: argparse.Namespace, env_hint: str) -> int:
    """The ``jobs`` command: list, ``cancel JOB_ID`` or ``resume``.

    Returns:
        The exit code: 0, 1 (an unknown job, a job that failed while resumed).
    """
    command: str | None = getattr(args, "jobs_command", None)
    if command == "cancel":
        return _cancel(engine, args.job_id)
    if command == "resume":
        return _resume(engine, env_hint)
    jobs = engine.jobs(getattr(args, "collection", None))
    if args.json:
        out_line(json.dumps([job.to_dict() for job in jobs], ensure_ascii=False))
        return 0
    if not jobs:
        out_line("no ingest jobs")
    for job in jobs:
        out_line(
            "\t".join([job.id[:ID_PREFIX], job.collection, job.status, job.name, _detail(job)])
        )
    return 0


def _detail(job: IngestJob) -> str:
    """A failure's reason, or a running job's progress ("page 3/10", "chunks 64/120")."""
    if job.reason:
        return job.reason
    event = job.progress
    if job.finished or event is None:
        return ""
    unit = "page" if event.stage in ("parse", "ocr") else "chunks"
    return f"{unit} {event.done}/{event.total}"


def _cancel(engine: Engine, given: str) -> int:
    matches = [job for job in engine.jobs() if job.id.startswith(given.lower())]
    if len(matches) != 1 or len(given) < 4:
        what = "no job" if not matches else "more than one job"
        err_line(f"{what} with the id {given!r} (see python -m rag_core jobs)")
        return 1
    [job] = matches
    outcome = engine.cancel_job(job.id)
    messages: dict[str, Callable[[], str]] = {
        "cancelled": lambda: f"cancelled: {job.name}",
        "cancelling": lambda: f"cancelling: {job.name} (its worker stops at the next page)",
    }
    out_line(messages.get(outcome, lambda: f"{job.name} had already finished ({outcome})")())
    return 0


def _resume(engine: Engine, env_hint: str) -> int:
    if not engine.resume_jobs():
        out_line("nothing to resume")
        return 0
    failed = 0
    for job in engine.jobs():
        if not job.finished:
            failed += not _report(follow(engine, job), env_hint)
    return 1 if failed else 0


__all__ = ["add_jobs_command", "follow", "run_ingest", "run_jobs"]
