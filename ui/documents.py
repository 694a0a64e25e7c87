"""Documents page components: upload with progress, the table, delete, re-index.

Re-indexing is offered when the store was built with another embedding model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from rag_core.config import Settings
from rag_core.errors import (
    EmbeddingModelMismatchError,
    PasswordRequiredError,
    RagError,
    StoreBusyError,
    WrongPasswordError,
)
from rag_core.ingest import IngestProgress, IngestResult
from rag_core.knowledge_base import KnowledgeBase, reindex_into_new_collection
from rag_core.loaders import SUPPORTED_SUFFIXES
from ui.i18n import MESSAGES, t
from ui.resources import _knowledge_base, get_embeddings
from ui.text import escape_markdown

DONE_KEY = "ingested_upload_ids"
PASSWORD_TRIED_KEY = "password_tried_upload_ids"
"""file_id -> fingerprint of the password that failed for it ("" = none given)."""
REPORTS_KEY = "ingest_reports"
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
    """Return "1 page" / "3 pages" ("3쪽" in Korean); ``noun`` is "page" or "chunk"."""
    key = f"docs.count.{noun}" if count == 1 else f"docs.count.{noun}s"
    return t(key, n=count)


def upload_types() -> list[str]:
    """File types the uploader accepts, e.g. ["pdf", "txt", "md"]."""
    return sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)


def _report_for(result: IngestResult) -> UploadReport:
    name = escape_markdown(result.filename)
    if result.status == "failed":
        return UploadReport(result.filename, "error", escape_markdown(result.error))
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
        pages=plural(result.pages, "page"),
        chunks=plural(result.chunks, "chunk"),
        seconds=result.seconds,
    )
    if result.warning:
        text += " " + escape_markdown(result.warning)
    return UploadReport(result.filename, "success", text)


def progress_text(event: IngestProgress, shown: str) -> str:
    """Progress bar text: file, stage, units done/total and the stage's ETA.

    Args:
        event: the latest progress event.
        shown: the file's name, already escaped for Markdown.

    Returns:
        e.g. ``"intro.pdf: reading pages 3/30, about 4 s left"``.
    """
    key = f"docs.stage.{event.stage}"
    stage = t(key) if key in MESSAGES else event.stage
    detail = f" {event.done}/{event.total}" if event.total > 1 else ""
    eta = event.eta_s
    left = t("docs.eta", seconds=eta) if eta is not None and 0 < event.fraction < 1 else ""
    return f"{shown}: {stage}{detail}{left}"


def _password_fingerprint(password: str | None) -> str:
    """A digest to remember which password failed, without keeping another copy of it."""
    return hashlib.sha256(password.encode()).hexdigest() if password else ""


def ingest_uploads(
    kb: KnowledgeBase, files: list, password: str | None = None
) -> list[UploadReport]:
    """Index every uploaded file not indexed yet in this session, with a progress bar each.

    One bad file never stops the others: its error is reported and the loop goes on. A
    file that failed for a missing or wrong password is not marked done: it is tried again
    as soon as a different password is entered.

    Args:
        kb: the knowledge base.
        files: ``UploadedFile`` objects from ``st.file_uploader``.
        password: password tried on encrypted PDFs.

    Returns:
        One report per file processed in this call.
    """
    done: set[str] = st.session_state.setdefault(DONE_KEY, set())
    tried: dict[str, str] = st.session_state.setdefault(PASSWORD_TRIED_KEY, {})
    attempt = _password_fingerprint(password)
    reports: list[UploadReport] = []
    todo = [f for f in files if f.file_id not in done and tried.get(f.file_id) != attempt]
    for position, upload in enumerate(todo, start=1):
        shown = escape_markdown(upload.name)
        bar = st.progress(
            0.0, text=t("docs.waiting", name=shown, position=position, count=len(todo))
        )

        def on_progress(event: IngestProgress, bar=bar, shown=shown) -> None:
            bar.progress(event.fraction, text=progress_text(event, shown))

        try:
            result = kb.ingest_bytes(
                upload.name, upload.getvalue(), password=password, progress=on_progress
            )
            report = _report_for(result)
        except (PasswordRequiredError, WrongPasswordError) as exc:
            required = isinstance(exc, PasswordRequiredError)
            key = "docs.err.password_required" if required else "docs.err.wrong_password"
            hint = t("docs.password_hint") if required else ""
            text = t(key, name=escape_markdown(exc.filename)) + hint
            reports.append(UploadReport(upload.name, "error", text))
            tried[upload.file_id] = attempt
            bar.empty()
            continue  # not marked done: retried when another password is entered
        except StoreBusyError as exc:
            report = UploadReport(upload.name, "error", escape_markdown(str(exc)))
            bar.empty()
            reports.append(report)
            continue  # not marked done: retried on the next rerun
        except RagError as exc:
            report = UploadReport(upload.name, "error", escape_markdown(f"{upload.name}: {exc}"))
        bar.empty()
        done.add(upload.file_id)
        reports.append(report)
    return reports


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
            t("docs.col_pages"): r.pages,
            t("docs.col_chunks"): r.chunks,
            t("docs.col_added"): r.added_at.replace("T", " ")[:16],
        }
        for r in records
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(t("docs.totals", docs=len(records), chunks=sum(r.chunks for r in records)))


def merge_reports(old: list[UploadReport], new: list[UploadReport]) -> list[UploadReport]:
    """Keep one report per file name, the newest, in first-seen order."""
    merged = {r.name: r for r in old}
    merged.update({r.name: r for r in new})
    return list(merged.values())


def render_delete_control(kb: KnowledgeBase) -> None:
    """Pick documents to delete, confirm, delete (chunks, BM25 terms, registry rows)."""
    records = kb.documents()
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
        if yes.button("Yes, delete", type="primary", key="delete_confirm"):
            del st.session_state[DELETE_PENDING_KEY]
            try:
                removed = [r for name in pending for r in kb.delete(name)]
            except StoreBusyError as exc:
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
    chosen = st.multiselect(t("docs.delete_pick"), names, key="delete_names")
    if st.button(t("docs.delete"), disabled=not chosen, key="delete_button"):
        st.session_state[DELETE_PENDING_KEY] = list(chosen)
        st.rerun()


def render_reindex_offer(settings: Settings, error: EmbeddingModelMismatchError) -> None:
    """Explain the embedding model mismatch and offer to re-index into a new collection."""
    st.error(escape_markdown(str(error)))
    model = settings.embedding_model
    if not st.button(t("docs.reindex", model=model), type="primary", key="reindex_button"):
        return
    bar = st.progress(0.0, text=t("docs.reindex_loading"))

    def on_progress(event: IngestProgress) -> None:
        bar.progress(event.fraction, text=progress_text(event, escape_markdown(event.filename)))

    try:
        embeddings = get_embeddings(
            model, settings.embedding_batch_size, settings.embedding_backend
        )
        reindex_into_new_collection(settings, embeddings, progress=on_progress)
    except RagError as exc:
        bar.empty()
        st.error(escape_markdown(str(exc)))
        return
    _knowledge_base.clear()
    st.rerun()
