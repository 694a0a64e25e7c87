"""Cached engine objects for the pages (``st.cache_resource`` / ``st.cache_data``).

The embedding model and the knowledge base are loaded once per process and shared by
every session; the Ollama status is cached for a few seconds so the sidebar stays live
without asking the server on every rerun.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from rag_core.access import Caller
from rag_core.chats.history import ChatHistory
from rag_core.config import Settings, build_settings
from rag_core.engine import Engine
from rag_core.errors import RagError
from rag_core.index.collections import list_collections
from rag_core.index.embeddings import LazyEmbeddings, build_embeddings
from rag_core.ingest_queue import IngestQueue
from rag_core.knowledge_base import EmbeddingWarmup, KnowledgeBase
from rag_core.llm.ollama import OllamaStatus, check_ollama
from rag_core.sources.document_view import DocumentView, paragraph_view
from rag_core.sources.page_view import render_cited_page
from ui.i18n import t

logger = logging.getLogger(__name__)

STATUS_TTL_S = 10
"""Seconds an Ollama status answer is reused."""


def get_settings() -> Settings:
    """Return the settings from the environment (``RAG_*``, ``OLLAMA_HOST``)."""
    return build_settings()


@st.cache_resource(show_spinner=False)
def get_embeddings(model_name: str, batch_size: int, backend: str = "torch") -> LazyEmbeddings:
    """The sentence-transformers model, once per process (per backend), loaded on first use.

    Opening the store and listing documents need no model; the warm-up
    (:func:`get_warmup`) or else the first upload or question loads it (see
    :class:`rag_core.index.embeddings.LazyEmbeddings`). ``backend`` is a concrete one,
    never "auto".
    """
    return LazyEmbeddings(
        model_name,
        lambda: build_embeddings(model_name, batch_size=batch_size, backend=backend),  # type: ignore[arg-type]
    )


def _embeddings_of(settings: Settings) -> LazyEmbeddings:
    """The shared model of settings whose backend is resolved."""
    return get_embeddings(
        settings.embedding_model, settings.embedding_batch_size, settings.embedding_backend
    )


def _store_settings(settings: Settings) -> Settings:
    """``settings`` with the default collection: one engine and one warm-up per store."""
    return settings.model_copy(update={"collection": Settings.model_fields["collection"].default})


@st.cache_resource(show_spinner=False)
def _warmup(settings_json: str) -> EmbeddingWarmup:
    settings = Settings.model_validate_json(settings_json)
    return EmbeddingWarmup(settings, embeddings_for=_embeddings_of).start()


def get_warmup(settings: Settings) -> EmbeddingWarmup:
    """The embedding model's warm-up, started once per process (every session shares it).

    app.py calls this at start, so the model is chosen, prepared and loaded on a
    background thread before the first file needs it; the Documents page shows its stage
    (:func:`ui.documents.render_model_stage`).
    """
    return _warmup(_store_settings(settings).model_dump_json())


def resolved_settings(settings: Settings) -> Settings:
    """``settings`` with the embedding backend the warm-up chose ("auto" resolved; waits).

    Raises:
        Exception: what choosing the backend raised (:meth:`EmbeddingWarmup.settings`).
    """
    if settings.embedding_backend != "auto":
        return settings
    backend = get_warmup(settings).settings().embedding_backend
    return settings.model_copy(update={"embedding_backend": backend})


def _shared_embeddings(settings: Settings) -> LazyEmbeddings:
    """The model the engine embeds with: the warm-up's, once it has chosen the backend.

    With "auto" the backend is not known until the warm-up has chosen it, so the engine
    gets a lazy model that waits for that choice and then for the warm-up's own model
    (one model per process, however many pages ask).
    """
    if settings.embedding_backend != "auto":
        return _embeddings_of(settings)
    warmup = get_warmup(settings)
    return LazyEmbeddings(settings.embedding_model, lambda: _embeddings_of(warmup.settings()).model)


@st.cache_resource(show_spinner=False)
def _engine(settings_json: str) -> Engine:
    settings = Settings.model_validate_json(settings_json)
    engine = Engine(settings, _shared_embeddings(settings))
    try:
        engine.resume_jobs()  # files a stopped or killed app left in the queue
    except RagError as exc:  # the queue cannot be opened: uploads will say so
        logger.warning("cannot resume the ingest queue: %s", exc)
    return engine


def get_engine(settings: Settings) -> Engine:
    """The engine of ``settings``' store, once per process (any collection of it).

    Every page asks it (:class:`rag_core.engine.Engine`) for answers, searches, documents
    and ingests; it opens each collection once and shares it with every session.
    """
    return _engine(_store_settings(settings).model_dump_json())


def get_knowledge_base(settings: Settings) -> KnowledgeBase:
    """Return the knowledge base of ``settings.collection`` (opened once per process).

    Raises:
        EmbeddingModelMismatchError: the store was built with another embedding model.
        RagError: the store cannot be opened.
    """
    # the spinner (shown after 0.5 s, so only while the store is really being opened)
    # rather than ``show_spinner=``, whose text is fixed at import, before the UI language
    with st.spinner(t("res.opening_store")):
        kb = get_engine(settings).knowledge_base(settings.collection)
        # Load Kiwi's model (about 2.5 s) with the store rather than in the first upload or
        # the first keyword search.
        _ = kb.keyword_index.analyzer
        return kb


def get_ingest_queue(settings: Settings) -> IngestQueue:
    """Return the process-wide background ingest queue of ``settings.collection``.

    Every session and browser tab sees the same jobs, so one tab can chat while another
    (or the same one, after navigating away) is still indexing.

    Raises:
        EmbeddingModelMismatchError: the store was built with another embedding model.
        RagError: the store cannot be opened.
    """
    return get_engine(settings).queue(settings.collection)


def get_caller(settings: Settings, user: str) -> Caller | None:
    """The engine's caller for the signed-in ``user`` (None: the local user, no sign-in)."""
    if not user:
        return None
    return get_engine(settings).access.caller_for(user)


@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def get_collections(data_dir: Path, chroma_url: str) -> list[str]:
    """Return the store's collection names, cached for ``STATUS_TTL_S`` seconds.

    Raises:
        StoreUnavailableError: the configured Chroma server cannot be reached.
    """
    settings = build_settings(data_dir=data_dir, chroma_url=chroma_url)
    return list(list_collections(settings))


def forget_knowledge_base() -> None:
    """Drop the cached engine with its knowledge bases and ingest queues (after a re-index)."""
    _engine.clear()


@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def get_ollama_status(host: str) -> OllamaStatus:
    """Return the Ollama server's status, cached for ``STATUS_TTL_S`` seconds."""
    return check_ollama(host)


@st.cache_resource
def get_chat_history(path: str) -> ChatHistory:
    """Return the chat history stored in the SQLite file at ``path``."""
    return ChatHistory(Path(path))


def get_page_image(
    path: str, page: int, passage: str, sentences: Sequence[str] = ()
) -> tuple[bytes, str]:
    """Render a cited page with the supporting sentences (else the passage) highlighted.

    Args:
        path: the stored PDF.
        page: 1-based page number.
        passage: the cited chunk text.
        sentences: sentences of the passage to highlight instead of all of it.

    Returns:
        The PNG bytes and what is highlighted: "sentences", "passage" or "" (nothing
        located; see :attr:`rag_core.sources.page_view.PageView.highlighted`).

    Raises:
        DocumentError: the stored file cannot be opened or has no such page.
    """
    with st.spinner(t("res.rendering_page")):
        return _page_image(path, page, passage, tuple(sentences))


@st.cache_data(max_entries=32, show_spinner=False)
def _page_image(
    path: str, page: int, passage: str, sentences: tuple[str, ...]
) -> tuple[bytes, str]:
    view = render_cited_page(Path(path), page, passage, sentences=sentences)
    out = io.BytesIO()
    view.image.save(out, format="PNG")
    return out.getvalue(), view.highlighted


def get_paragraph_view(path: str, paragraph: int, passage: str) -> DocumentView:
    """The cited paragraph(s) of a stored HWP / HWPX file with their neighbours, marked.

    Raises:
        DocumentError: the stored file cannot be read.
    """
    with st.spinner(t("res.reading_document")):
        return _paragraph_view(path, paragraph, passage)


@st.cache_data(max_entries=32, show_spinner=False)
def _paragraph_view(path: str, paragraph: int, passage: str) -> DocumentView:
    return paragraph_view(Path(path), paragraph, passage)
