"""Documents page components: upload with per-file progress, the documents table."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rag_core.errors import PasswordRequiredError, RagError, StoreBusyError, WrongPasswordError
from rag_core.ingest import IngestProgress, IngestResult
from rag_core.knowledge_base import KnowledgeBase
from rag_core.loaders import SUPPORTED_SUFFIXES
from ui.text import escape_markdown

DONE_KEY = "ingested_upload_ids"
REPORTS_KEY = "ingest_reports"
STAGE_TEXT = {
    "parse": "reading pages",
    "split": "splitting into chunks",
    "embed": "embedding chunks",
    "store": "storing",
    "done": "done",
}


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
    """Return "1 page" / "3 pages"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def upload_types() -> list[str]:
    """File types the uploader accepts, e.g. ["pdf", "txt", "md"]."""
    return sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)


def _report_for(result: IngestResult) -> UploadReport:
    name = escape_markdown(result.filename)
    if result.status == "failed":
        return UploadReport(result.filename, "error", escape_markdown(result.error))
    if result.status == "unchanged":
        return UploadReport(
            result.filename, "info", f"{name} is already indexed ({result.chunks} chunks)."
        )
    text = (
        f"{name}: {plural(result.pages, 'page')}, {plural(result.chunks, 'chunk')} indexed "
        f"in {result.seconds:.1f} s."
    )
    if result.warning:
        text += " " + escape_markdown(result.warning)
    return UploadReport(result.filename, "success", text)


def ingest_uploads(
    kb: KnowledgeBase, files: list, password: str | None = None
) -> list[UploadReport]:
    """Index every uploaded file not indexed yet in this session, with a progress bar each.

    One bad file never stops the others: its error is reported and the loop goes on.

    Args:
        kb: the knowledge base.
        files: ``UploadedFile`` objects from ``st.file_uploader``.
        password: password tried on encrypted PDFs.

    Returns:
        One report per file processed in this call.
    """
    done: set[str] = st.session_state.setdefault(DONE_KEY, set())
    reports: list[UploadReport] = []
    todo = [f for f in files if f.file_id not in done]
    for position, upload in enumerate(todo, start=1):
        shown = escape_markdown(upload.name)
        bar = st.progress(0.0, text=f"{shown} ({position}/{len(todo)}): waiting")

        def on_progress(event: IngestProgress, bar=bar, shown=shown) -> None:
            stage = STAGE_TEXT.get(event.stage, event.stage)
            detail = f" {event.done}/{event.total}" if event.total > 1 else ""
            bar.progress(event.fraction, text=f"{shown}: {stage}{detail}")

        try:
            result = kb.ingest_bytes(
                upload.name, upload.getvalue(), password=password, progress=on_progress
            )
            report = _report_for(result)
        except PasswordRequiredError as exc:
            report = UploadReport(
                upload.name, "error", escape_markdown(str(exc)) + " (password field below)"
            )
        except WrongPasswordError as exc:
            report = UploadReport(upload.name, "error", escape_markdown(str(exc)))
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
        st.info("No documents yet. Drop PDFs, .txt or .md files above to index them.")
        return
    rows = [
        {
            "Name": r.name,
            "Pages": r.pages,
            "Chunks": r.chunks,
            "Added": r.added_at.replace("T", " ")[:16],
        }
        for r in records
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(f"{len(records)} documents, {sum(r.chunks for r in records)} chunks")
