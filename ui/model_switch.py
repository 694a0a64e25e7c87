"""Documents page: the collection's embedding model, and switching it in the background.

An editor picks another model (a profile, :mod:`rag_core.index.embeddings.profiles`, or
any hub id or local folder); :meth:`rag_core.engine.Engine.switch_model` downloads it if
need be and builds the new index beside the old one on a background thread, while the
collection keeps answering with its old model. The job is kept per process, so every
session sees its progress and leaving the page never stops it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import streamlit as st

from rag_core.access import Caller
from rag_core.engine import Engine
from rag_core.errors import RagError
from rag_core.index.embeddings.profiles import PROFILES, profile_for
from rag_core.ingestion.model_switch import SwitchCancelledError
from rag_core.ingestion.progress import IngestProgress
from rag_core.knowledge_base import KnowledgeBase
from ui.i18n import t
from ui.text import escape_markdown

POLL_S = 1.0
"""Seconds between refreshes of the progress while a switch runs."""
OTHER = "__other__"
"""The choice that shows a free text field (another hub id or a local folder)."""


@dataclass
class SwitchJob:
    """One model switch of one collection, run on its own thread.

    Attributes:
        collection: the collection.
        model: the model it switches to.
        stage: "download", "embed", "swap", "done", "failed" or "cancelled".
        done: bytes (download) or chunks (embed) done.
        total: bytes or chunks in all.
        error: what went wrong ("" if nothing).
        cancel: set to stop the build (a later switch to the same model resumes it).
    """

    collection: str
    model: str
    stage: str = "download"
    done: int = 0
    total: int = 0
    error: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def finished(self) -> bool:
        """True once the job ended, well or not."""
        return self.stage in ("done", "failed", "cancelled")

    def run(self, engine: Engine, caller: Caller | None) -> None:
        """Run the switch (on the job's thread); the outcome goes into the attributes."""

        def on_progress(event: IngestProgress) -> None:
            self.stage, self.done, self.total = event.stage, event.done, event.total

        def on_download(done: int, total: int) -> None:
            self.stage, self.done, self.total = "download", done, total

        try:
            engine.switch_model(
                self.model,
                self.collection,
                progress=on_progress,
                download=on_download,
                cancel=self.cancel,
                caller=caller,
            )
        except SwitchCancelledError:
            self.stage = "cancelled"
            return
        except (RagError, OSError, ValueError) as exc:
            self.error = str(exc)
            self.stage = "failed"
            return
        self.stage = "done"


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[tuple[str, str], SwitchJob]:
    return {}


def switch_job(engine: Engine, collection: str) -> SwitchJob | None:
    """The latest switch of ``collection`` in this process (None if there was none)."""
    return _jobs().get((str(engine.settings.data_dir), collection))


def start_switch(engine: Engine, collection: str, model: str, caller: Caller | None) -> SwitchJob:
    """Start switching ``collection`` to ``model`` on a background thread; return the job.

    A switch of that collection still running is returned instead of a second one.
    """
    key = (str(engine.settings.data_dir), collection)
    jobs = _jobs()
    running = jobs.get(key)
    if running is not None and not running.finished:
        return running
    job = SwitchJob(collection, model)
    jobs[key] = job
    threading.Thread(
        target=job.run, args=(engine, caller), name="rag-model-switch", daemon=True
    ).start()
    return job


def _progress(job: SwitchJob) -> None:
    fraction = 0.0 if job.total <= 0 else min(1.0, job.done / job.total)
    if job.stage == "download":
        text = t("model.downloading", mb=job.done / 1e6, total=job.total / 1e6)
    else:
        text = t("model.building", done=job.done, total=job.total)
    st.progress(fraction, text=text)


def render_model_switch(
    engine: Engine, kb: KnowledgeBase, *, writer: bool, caller: Caller | None
) -> None:
    """The collection's embedding model; for an editor, a form to switch it, with progress.

    Args:
        engine: the engine.
        kb: the collection's knowledge base (its current model).
        writer: whether the user may write the collection (an editor).
        caller: the signed-in caller (None without sign-in).
    """
    collection = kb.settings.collection
    job = switch_job(engine, collection)
    running = job is not None and not job.finished
    with st.expander(t("model.title"), expanded=running):
        profile = profile_for(kb.identity)
        st.caption(
            t(
                "model.current",
                model=escape_markdown(kb.identity),
                languages=escape_markdown(profile.embedding_languages),
            )
        )
        if job is not None and running:

            def live() -> None:
                if job.finished:
                    st.rerun()  # done: the whole page shows the new model
                _progress(job)

            st.fragment(live, run_every=POLL_S)()
            if writer and st.button(t("model.cancel"), key="model_switch_cancel"):
                job.cancel.set()
            return
        if job is not None:
            _outcome(job)
        if not writer:
            return
        choices = [*PROFILES, OTHER]
        picked = st.selectbox(
            t("model.pick"),
            choices,
            format_func=lambda c: t("model.other") if c == OTHER else c,
            key="model_switch_pick",
            placeholder=t("widget.choose_one"),  # shown while a person types to filter
        )
        model = picked
        if picked == OTHER:
            model = st.text_input(t("model.other_help"), key="model_switch_other").strip()
        if st.button(t("model.start"), disabled=not model, key="model_switch_start"):
            start_switch(engine, collection, model, caller)
            st.rerun()


def _outcome(job: SwitchJob) -> None:
    model = escape_markdown(job.model)
    if job.stage == "done":
        st.success(t("model.done", model=model))
    elif job.stage == "cancelled":
        st.info(t("model.cancelled", model=model))
    else:
        st.error(escape_markdown(job.error))
