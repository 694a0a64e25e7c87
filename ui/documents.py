"""Documents page components: upload with progress, the table, delete, re-index.

Re-indexing is offered when the store was built with another embedding model.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass

import streamlit as st

from rag_core.access import Caller
from rag_core.config import Settings
from rag_core.engine import Engine
from rag_core.errors import (
    DocumentError,
    EmbeddingModelMismatchError,
    PasswordRequiredError,
    RagError,
    WrongPasswordError,
)
from rag_core.index.files import SUPPORTED_SUFFIXES
from rag_core.ingest_queue import IngestJob, IngestQueue
from rag_core.ingestion.jobs import CANCELLED, FAILED
from rag_core.ingestion.progress import IngestProgress, IngestResult, PageNote
from rag_core.ingestion.reindex import reindex_into_new_collection
from rag_core.knowledge_base import KnowledgeBase
from ui.i18n import MESSAGES, t, ui_language
from ui.resources import forget_knowledge_base, get_embeddings, get_warmup, resolved_settings
from ui.text import escape_markdown

JOBS_KEY = "ingest_job_keys"
"""This session's ingest job keys (``"<upload file_id>:<password fingerprint>"``)."""
ATTEMPTS_KEY = "ingest_attempts"
"""upload file_id -> fingerprint of the password last tried for it ("" = none given)."""
POLL_S = 1.0
"""Seconds between refreshes of the progress panel while an ingest runs."""
CANCEL_MESSAGE_KEY = "ingest_cancel_message"
"""What the last cancel did, shown once after the rerun it causes."""
MAX_LISTED_JOBS = 50
"""Unfinished files listed in the queue (the rest are counted by the progress bars)."""
MAX_FINISHED_LISTED = 5
"""Finished files of other sessions listed under the unfinished ones."""
RECENT_S = 3600.0
"""Seconds a finished file of another session (or process) stays listed."""
DELETE_PENDING_KEY = "delete_pending"
DELETED_KEY = "deleted_message"


@dataclass
class UploadReport:
    """What happened to one uploaded file, kept so it survives reruns.

    Attributes:
        name: the file's name.
        level: "success", "info", "warning" or "error".
        text: the message shown.
    """

    name: str
    level: str
    text: str


def plural(count: int, noun: str) -> str:
    """Return "1 page" / "3 pages" ("3쪽" in Korean); ``noun``: page, chunk, document."""
    key = f"docs.count.{noun}" if count == 1 else f"docs.count.{noun}s"
    return t(key, n=count)


def length_text(name: str, count: int) -> str:
    """Return a document's length in its own unit, e.g. "12 pages" or "문단 15개".

    HWP / HWPX files count paragraphs: their "pages" are paragraph groups under a
    heading, not printed pages.
    """
    hwp = name.lower().endswith((".hwp", ".hwpx"))
    return plural(count, "paragraph" if hwp else "page")


def upload_types() -> list[str]:
    """File types the uploader accepts, e.g. ["pdf", "txt", "md"]."""
    return sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)


def _report_for(result: IngestResult) -> UploadReport:
    name = escape_markdown(result.filename)
    if result.status == "failed":
        return UploadReport(result.filename, "error", failure_text(result))
    if result.status == "unchanged":
        where = (
            t("docs.already_as", name=escape_markdown(result.indexed_as))
            if result.indexed_as
            else ""
        )
        text = t("docs.already", name=name, where=where, chunks=plural(result.chunks, "chunk"))
        return UploadReport(result.filename, "info", text)
    text = t(
        "docs.done",
        name=name,
        pages=length_text(result.filename, result.pages),
        chunks=plural(result.chunks, "chunk"),
        seconds=result.seconds,
    )
    notes = notes_text(result.notes)
    if notes:
        text += " " + notes
    return UploadReport(result.filename, "success", text)


def pages_text(pages: list[int], limit: int = 12) -> str:
    """Page numbers in the UI language: "pages 2, 6" / "2, 6쪽", at most ``limit`` listed.

    Args:
        pages: 1-based page numbers, ascending.
        limit: how many numbers to list before "and N more".
    """
    shown = ", ".join(str(page) for page in pages[:limit])
    if len(pages) > limit:
        shown = t("docs.pages.more", list=shown, n=len(pages) - limit)
    return t("docs.pages.one" if len(pages) == 1 else "docs.pages.many", list=shown)


def notes_text(notes: list[PageNote]) -> str:
    """The notes on a file's pages (blank, scanned?, OCR'd, over a limit) in the UI language.

    Args:
        notes: :attr:`rag_core.ingestion.progress.IngestResult.notes`.

    Returns:
        One sentence per note, escaped for Markdown ("" when there are none).
    """
    texts = [
        t(f"docs.note.{note.code}", pages=pages_text(note.pages), **note.params) for note in notes
    ]
    return escape_markdown(" ".join(texts))


def error_text(name: str, code: str, message: str, params: dict[str, object] | None = None) -> str:
    """A file's error in the UI language, escaped for Markdown.

    Args:
        name: the file's display name.
        code: :attr:`rag_core.errors.DocumentError.code` ("" if none).
        message: the engine's English message, ``"<name>: <reason>"``.
        params: :attr:`rag_core.errors.DocumentError.params` (e.g. ``seconds``).

    Returns:
        English: ``message`` itself (with its detail); other languages: the translation
        of ``code`` where one exists and ``params`` has every value it names, else
        ``message``. A missing password adds a hint.
    """
    key = f"docs.err.{code}"
    text = escape_markdown(message)
    if ui_language() != "en" and ui_language() in MESSAGES.get(key, {}):
        values = {k: escape_markdown(str(v)) for k, v in (params or {}).items()}
        with contextlib.suppress(KeyError, IndexError):  # a value it names is missing
            text = t(key, **values, name=escape_markdown(name))
    return text + (t("docs.password_hint") if code == "password_required" else "")


def failure_text(result: IngestResult) -> str:
    """The failed file's message in the UI language (see :func:`error_text`)."""
    return error_text(result.filename, result.error_code, result.error, result.error_params)


def progress_text(event: IngestProgress, shown: str) -> str:
    """Progress bar text: file, stage, units done/total and the stage's ETA.

    Args:
        event: the latest progress event.
        shown: the file's name, already escaped for Markdown.

    Returns:
        e.g. ``"intro.pdf: reading pages 3/30, about 4 s left"``.
    """
    key = f"docs.stage.{event.stage}"
    stage = t(key) if key in MESSAGES else escape_markdown(event.stage)
    detail = f" {event.done}/{event.total}" if event.total > 1 else ""
    eta = event.eta_s
    left = t("docs.eta", seconds=eta) if eta is not None and 0 < event.fraction < 1 else ""
    return f"{shown}: {stage}{detail}{left}"


def _password_fingerprint(password: str | None) -> str:
    """A digest to remember which password failed, without keeping another copy of it."""
    return hashlib.sha256(password.encode()).hexdigest() if password else ""


def submit_uploads(
    engine: Engine,
    collection: str,
    files: list,
    password: str | None = None,
    *,
    caller: Caller | None = None,
) -> int:
    """Queue every uploaded file this session has not queued yet for background ingest.

    A file whose ingest failed for a missing or wrong password is queued again as soon as
    a different password is entered; every other file is queued once per upload. The
    engine checks, at each file, that ``caller`` may still write to the collection
    (:meth:`rag_core.engine.Engine.submit`); its refusal is shown instead.

    Args:
        engine: the engine.
        collection: the active collection.
        files: ``UploadedFile`` objects from ``st.file_uploader``.
        password: password tried on encrypted PDFs.
        caller: the signed-in user (None: the local user).

    Returns:
        The number of files queued by this call.
    """
    attempts: dict[str, str] = st.session_state.setdefault(ATTEMPTS_KEY, {})
    keys: list[str] = st.session_state.setdefault(JOBS_KEY, [])
    attempt = _password_fingerprint(password)
    queued = 0
    queue = engine.queue(collection)
    for upload in files:
        previous = attempts.get(upload.file_id)
        if previous is not None:
            job = queue.get(f"{upload.file_id}:{previous}")
            retry = (
                previous != attempt
                and job is not None
                and job.finished
                and isinstance(job.error, PasswordRequiredError | WrongPasswordError)
            )
            if not retry:
                continue
        key = f"{upload.file_id}:{attempt}"
        if queue.get(key) is not None:
            continue
        try:
            engine.submit(
                key, upload.name, upload.getvalue(), collection, password=password, caller=caller
            )
        except RagError as exc:  # no longer allowed to write, or the store failed
            st.error(escape_markdown(str(exc)))
            return queued
        attempts[upload.file_id] = attempt
        keys.append(key)
        queued += 1
    return queued


def _report_for_job(job: IngestJob) -> UploadReport:
    if job.status == CANCELLED:
        return UploadReport(
            job.name, "info", t("docs.jobs.cancelled", name=escape_markdown(job.name))
        )
    if job.result is not None:
        return _report_for(job.result)
    error = job.error
    if isinstance(error, DocumentError):
        return UploadReport(
            job.name, "error", error_text(error.filename, error.code, str(error), error.params)
        )
    return UploadReport(job.name, "error", escape_markdown(f"{job.name}: {error}"))


def session_jobs(queue: IngestQueue) -> list[IngestJob]:
    """Return this session's ingest jobs, in the order they were queued."""
    jobs = (queue.get(key) for key in st.session_state.get(JOBS_KEY, []))
    return [job for job in jobs if job is not None]


def render_ingest_status(queue: IngestQueue) -> bool:
    """Show a progress bar per unfinished file of this session, then each file's outcome.

    Returns:
        True while some of this session's files are still queued or being indexed.
    """
    jobs = session_jobs(queue)
    pending = [job for job in jobs if not job.finished]
    for position, job in enumerate(pending, start=1):
        shown = escape_markdown(job.name)
        if job.progress is None:
            text = t("docs.waiting", name=shown, position=position, count=len(pending))
            st.progress(0.0, text=text)
        else:
            st.progress(job.progress.fraction, text=progress_text(job.progress, shown))
    render_reports(merge_reports([], [_report_for_job(job) for job in jobs if job.finished]))
    return bool(pending)


def render_model_stage(settings: Settings) -> None:
    """Say that the embedding model is being prepared, until the warm-up is done.

    Drawn at once (the warm-up itself runs on its own thread, :func:`ui.resources.get_warmup`),
    refreshed every ``POLL_S`` seconds. When the model is ready the notice is replaced by
    nothing in place, without a rerun of the whole page: a full rerun at that moment moved
    every element below it (the uploader included) while a file dropped during the warm-up
    was still uploading, and the file was lost (seen in a loaded test run). A failed
    warm-up is named here; the first use of the model reports it again.

    Args:
        settings: the configured settings.
    """
    warmup = get_warmup(settings)

    def stage() -> None:
        if not warmup.ready:
            st.info(t("docs.model_preparing"), icon="⏳")
        elif warmup.error is not None:
            st.warning(t("docs.model_failed", error=escape_markdown(str(warmup.error))))

    if warmup.ready:
        stage()
        return
    st.fragment(stage, run_every=POLL_S)()


def job_status_text(job: IngestJob) -> str:
    """A job's line in the queue list: file, status in the UI language, progress or reason.

    Returns:
        e.g. ``"intro.pdf: reading 3/30"``, ``"a.pdf: failed (a.pdf: wrong password)"``,
        escaped for Markdown.
    """
    status = t(f"docs.jobs.status.{job.status}")
    detail = ""
    event = job.progress
    if job.status == FAILED and job.reason:
        detail = f" ({escape_markdown(job.reason)})"
    elif not job.finished and event is not None and event.total > 1:
        detail = f" {event.done}/{event.total}"
    return t("docs.jobs.row", name=escape_markdown(job.name), status=status, detail=detail)


def render_job_list(
    queue: IngestQueue, engine: Engine, collection: str, caller: Caller | None = None
) -> bool:
    """List the collection's queued and running files, with a cancel button each.

    Jobs of every session and process are listed (after a restart, the files taken up
    again; files the CLI queued), and so are the finished ones of other sessions (their
    status and, for a failed one, the reason). A cancel goes to the engine, which checks
    that ``caller`` may write and stops the file wherever it runs
    (:meth:`rag_core.engine.Engine.cancel_job`).

    Returns:
        True while some file of the collection is queued or being indexed.
    """
    mine = set(st.session_state.get(JOBS_KEY, []))
    recent = time.time() - RECENT_S
    jobs = queue.jobs()
    finished = [
        j for j in jobs if j.finished and j.key not in mine and (j.finished_at or 0) > recent
    ]
    jobs = [j for j in jobs if not j.finished][:MAX_LISTED_JOBS] + finished[-MAX_FINISHED_LISTED:]
    message = st.session_state.pop(CANCEL_MESSAGE_KEY, None)
    if message:
        st.info(message)
    if not jobs:
        return False
    st.markdown(f"**{t('docs.jobs.title')}**")
    for job in jobs:
        text, button = st.columns([5, 1], vertical_alignment="center")
        text.markdown(job_status_text(job))
        if job.finished:
            continue
        if button.button(t("docs.jobs.cancel"), key=f"cancel_job_{job.id}"):
            try:
                outcome = engine.cancel_job(job.id, caller=caller)
            except RagError as exc:  # no longer allowed to write
                st.error(escape_markdown(str(exc)))
                continue
            key = "docs.jobs.cancelling" if outcome == "cancelling" else "docs.jobs.cancelled"
            st.session_state[CANCEL_MESSAGE_KEY] = t(key, name=escape_markdown(job.name))
            st.rerun()
    return any(not job.finished for job in jobs)


def render_ingest_panel(
    queue: IngestQueue, engine: Engine | None = None, caller: Caller | None = None
) -> None:
    """Show progress and outcomes of this session's uploads, and the queue, live.

    A ``st.fragment`` refreshes every ``POLL_S`` seconds while an ingest runs and reruns
    the whole page when the last one ends, so the documents table updates. The ingest
    itself runs on the queue's thread, so leaving the page (or restarting the app) never
    stops it. With ``engine``, the collection's queue is listed with a cancel button per
    unfinished file (:func:`render_job_list`; the page shows it to editors only).
    """
    active = any(not job.finished for job in session_jobs(queue)) or bool(queue.active())

    def panel() -> None:
        queued = False
        if engine is not None:
            queued = render_job_list(queue, engine, queue.collection, caller)
        if not render_ingest_status(queue) and not queued and active:
            st.rerun()  # the last file finished: refresh the whole page (table, delete)

    st.fragment(panel, run_every=POLL_S if active else None)()


def render_indexing_notice(queue: IngestQueue) -> bool:
    """A caption naming the files still being indexed in the background, if any.

    Returns:
        True when some file is being indexed.
    """
    active = queue.active()
    if active:
        names = ", ".join(escape_markdown(job.name) for job in active)
        st.caption(t("docs.indexing_notice", names=names))
    return bool(active)


def render_reports(reports: list[UploadReport]) -> None:
    """Show the outcome of each uploaded file."""
    for report in reports:
        show = {"success": st.success, "info": st.info, "warning": st.warning}.get(
            report.level, st.error
        )
        show(report.text)


def render_documents_table(kb: KnowledgeBase) -> None:
    """Show the indexed documents: name, pages, chunks, date added."""
    records = kb.documents()
    if not records:
        st.info(t("docs.empty"))
        return
    rows = [
        {
            t("docs.col_name"): r.name,
            t("docs.col_pages"): length_text(r.name, r.pages)
            if r.name.lower().endswith((".hwp", ".hwpx"))
            else r.pages,
            t("docs.col_chunks"): r.chunks,
            t("docs.col_added"): r.added_at.replace("T", " ")[:16],
        }
        for r in records
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    total = sum(r.chunks for r in records)
    st.caption(
        t("docs.totals", docs=plural(len(records), "document"), chunks=plural(total, "chunk"))
    )


def merge_reports(old: list[UploadReport], new: list[UploadReport]) -> list[UploadReport]:
    """Keep one report per file name, the newest, in first-seen order."""
    merged = {r.name: r for r in old}
    merged.update({r.name: r for r in new})
    return list(merged.values())


def render_delete_control(engine: Engine, collection: str, caller: Caller | None = None) -> None:
    """Pick documents to delete, confirm, delete (chunks, BM25 terms, registry rows).

    Args:
        engine: the engine (it checks again, at the delete, that ``caller`` may write).
        collection: the active collection.
        caller: the signed-in user (None: the local user).
    """
    records = engine.documents(collection, caller=caller)
    message = st.session_state.pop(DELETED_KEY, None)
    if message:
        st.success(message)
    if not records:
        return
    names = sorted({r.name for r in records})
    pending: list[str] | None = st.session_state.get(DELETE_PENDING_KEY)
    if pending:
        listed = ", ".join(escape_markdown(n) for n in pending)
        st.warning(t("docs.delete_confirm", names=listed))
        yes, no = st.columns(2)
        if yes.button(t("docs.delete_yes"), type="primary", key="delete_confirm"):
            del st.session_state[DELETE_PENDING_KEY]
            try:
                removed = [
                    r
                    for name in pending
                    for r in engine.delete_document(name, collection, caller=caller)
                ]
            except RagError as exc:  # busy, or no longer allowed to write
                st.error(escape_markdown(str(exc)))
                return
            gone = ", ".join(escape_markdown(r.name) for r in removed)
            st.session_state[DELETED_KEY] = t(
                "docs.deleted", names=gone or t("docs.deleted_nothing")
            )
            st.rerun()
        if no.button(t("docs.delete_cancel"), key="delete_cancel"):
            del st.session_state[DELETE_PENDING_KEY]
            st.rerun()
        return
    # Streamlit's own "Choose options" and "Select all" are English: the placeholder is
    # ours, and "Select all" (no parameter for its text) is off: deleting is per choice.
    chosen = st.multiselect(
        t("docs.delete_pick"),
        names,
        key="delete_names",
        placeholder=t("docs.delete_placeholder"),
        select_all=False,
    )
    if st.button(t("docs.delete"), disabled=not chosen, key="delete_button"):
        st.session_state[DELETE_PENDING_KEY] = list(chosen)
        st.rerun()


def render_reindex_offer(settings: Settings, error: EmbeddingModelMismatchError) -> None:
    """Explain the embedding model mismatch and offer to re-index into a new collection."""
    st.error(escape_markdown(str(error)))
    model = settings.embedding_model
    label = t("docs.reindex", model=escape_markdown(model))
    if not st.button(label, type="primary", key="reindex_button"):
        return
    bar = st.progress(0.0, text=t("docs.reindex_loading"))

    def on_progress(event: IngestProgress) -> None:
        bar.progress(event.fraction, text=progress_text(event, escape_markdown(event.filename)))

    try:
        settings = resolved_settings(settings)
        embeddings = get_embeddings(
            model, settings.embedding_batch_size, settings.embedding_backend
        )
        reindex_into_new_collection(settings, embeddings, progress=on_progress)
    except RagError as exc:
        bar.empty()
        st.error(escape_markdown(str(exc)))
        return
    forget_knowledge_base()
    st.rerun()
