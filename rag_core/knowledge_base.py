"""The knowledge base: a thin facade over one collection (ingest, delete, list, retrieve).

The CLI and the app talk to this class; the work is done by the rooms it wires together:
:mod:`rag_core.ingestion.pipeline` (THE ingest pipeline), :mod:`rag_core.index` (vector
store, document registry, BM25 index, stored originals) and :mod:`rag_core.retrieval`.
Indexing and retrieval are built from the same parts, so they cannot drift apart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chromadb
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.config import RetrievalMode, Settings
from rag_core.errors import EmbeddingModelMismatchError, RagError
from rag_core.index.collections import stored_embedding_identities
from rag_core.index.embeddings import (
    LazyEmbeddings,
    build_embeddings,
    compatible_backends,
    embedding_dimension,
    embedding_identity,
)
from rag_core.index.embeddings.choice import (
    MEASURE_PASSAGES,
    calibration_passages,
    choose_backend,
    measure_backend,
)
from rag_core.index.embeddings.download import model_on_disk
from rag_core.index.embeddings.profiles import ModelProfile, profile_for
from rag_core.index.embeddings.shelf import embeddings_for_identity, split_identity
from rag_core.index.files import SourceFiles
from rag_core.index.keyword import KeywordIndex, StoreKeywordSource
from rag_core.index.locking import write_lock
from rag_core.index.registry import DocumentRecord, DocumentRegistry, import_legacy_registry
from rag_core.index.vector_store import VectorStore, build_chroma_client
from rag_core.index.vectors import Vectors, read_pointer
from rag_core.ingestion.loaders import display_name
from rag_core.ingestion.ocr import OcrOptions
from rag_core.ingestion.pipeline import PARSE_TIMEOUT_S, IngestPipeline
from rag_core.ingestion.progress import IngestResult, ProgressCallback
from rag_core.retrieval.crosslingual import DocumentLanguages
from rag_core.retrieval.reranker import build_reranker
from rag_core.retrieval.retrievers import ChunkRetriever, build_retriever

logger = logging.getLogger(__name__)


class KnowledgeBase:
    """Documents of one collection: ingest, delete, list, retrieve.

    Args:
        settings: the engine settings (data directory, chunking, retrieval).
        embeddings: the embedding model (shared across knowledge bases; a
            :class:`~rag_core.index.embeddings.LazyEmbeddings` loads it on first use).
        client: the Chroma client; a persistent one under ``settings.chroma_dir`` if None.
        model_name: name recorded in the collection metadata (defaults to the setting).
        parse_timeout_s: wall-clock limit for parsing one PDF, in seconds; past it the
            parse is killed and the file reported as too complex.
        embeddings_for: the model of an embedding identity other than the configured
            one (:func:`~rag_core.index.embeddings.shelf.embeddings_for_identity` if None).

    A collection whose embedding model was switched (:mod:`rag_core.index.vectors`)
    answers with the model its vectors were made with, whatever is configured; the
    pointer is read again before each search and write (:meth:`follow_vectors`).

    Raises:
        EmbeddingModelMismatchError: the collection was built with another model (and
            was never switched to it), or with a model that is not on this machine.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        *,
        client: chromadb.ClientAPI | None = None,
        model_name: str | None = None,
        parse_timeout_s: float = PARSE_TIMEOUT_S,
        embeddings_for: Callable[[str], Embeddings] | None = None,
    ) -> None:
        """Open the store, registry and keyword index of ``settings.collection``."""
        settings = resolve_embedding_backend(settings)
        self.settings = settings
        self.client = client or build_chroma_client(settings.chroma_dir, settings.chroma_url)
        self.configured_identity = model_name or embedding_identity(
            settings.embedding_model, settings.embedding_backend
        )
        self._configured = embeddings
        self._embeddings_for = embeddings_for or (
            lambda identity: embeddings_for_identity(
                identity, batch_size=settings.embedding_batch_size
            )
        )
        self._follow_lock = threading.Lock()
        self.vectors: Vectors | None = read_pointer(self.client, settings.collection)
        """Where the vectors are when the model was switched (None: never switched)."""
        self.identity = self.vectors.identity if self.vectors else self.configured_identity
        """The embedding identity the collection answers with."""
        self.embeddings = self._model_of(self.identity)
        self.store = VectorStore(
            self.client,
            settings.collection,
            model_name=self.identity,
            dimension=lambda: embedding_dimension(self.embeddings),
            physical=self.vectors.physical if self.vectors else None,
        )
        self.registry = DocumentRegistry(self.client, settings.collection)
        import_legacy_registry(settings.registry_path, self.registry)
        self.keyword_index = KeywordIndex(
            settings.keyword_index_dir / settings.collection,
            source=StoreKeywordSource(self.registry, self.store),
        )
        self.files = SourceFiles(settings.files_dir)
        self.pipeline = IngestPipeline(
            store=self.store,
            registry=self.registry,
            keyword_index=self.keyword_index,
            files=self.files,
            embeddings=self.embeddings,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            lock_path=settings.lock_path,
            parse_timeout_s=parse_timeout_s,
            ocr=OcrOptions.from_settings(settings),
            korean_spacing=settings.korean_spacing,
            on_lock=self.follow_vectors,
        )

    @property
    def parse_timeout_s(self) -> float:
        """Wall-clock limit for parsing one PDF, in seconds (the pipeline's)."""
        return self.pipeline.parse_timeout_s

    @parse_timeout_s.setter
    def parse_timeout_s(self, seconds: float) -> None:
        self.pipeline.parse_timeout_s = seconds

    # ------------------------------------------------------------ model switch
    @property
    def profile(self) -> ModelProfile:
        """The profile of the model the collection answers with (prefixes, languages)."""
        return profile_for(split_identity(self.identity)[0])

    def follow_vectors(self) -> None:
        """Follow an embedding-model switch made since the collection was opened.

        Reads the collection's pointer (one ``get`` by id, :mod:`rag_core.index.vectors`);
        when it names other vectors than those open, the store, the pipeline and the
        retrievers built from now on use them and their model. A search already under
        way finishes on the old vectors, which a switch keeps for a grace period.

        Raises:
            EmbeddingModelMismatchError: the new vectors' model is not on this machine.
            StoreUnavailableError: the Chroma server stopped answering.
        """
        pointer = read_pointer(self.client, self.settings.collection)
        if pointer is None or pointer == self.vectors:
            return
        with self._follow_lock:
            if pointer == self.vectors:
                return
            embeddings = self._model_of(pointer.identity)
            store = VectorStore(
                self.client,
                self.settings.collection,
                model_name=pointer.identity,
                dimension=lambda: embedding_dimension(embeddings),
                physical=pointer.physical,
            )
            # the same VectorStore object is shared by the pipeline and the keyword index
            self.store.collection = store.collection
            self.embeddings = self.pipeline.embeddings = embeddings
            self.identity = pointer.identity
            self.vectors = pointer
            logger.info("collection %s now answers with %s", self.settings.collection, pointer)

    def _model_of(self, identity: str) -> Embeddings:
        """The model for vectors of ``identity`` (the configured one when it matches).

        Raises:
            EmbeddingModelMismatchError: that model is not on this machine.
        """
        if identity == self.configured_identity:
            return self._configured
        model = split_identity(identity)[0]
        if not model_on_disk(model):
            raise EmbeddingModelMismatchError(
                f"collection '{self.settings.collection}' was built with {identity}, "
                "which is not on this machine: download that model, or re-index the "
                "documents with the configured model (`python -m rag_core reindex`)"
            )
        return self._embeddings_for(identity)

    # ----------------------------------------------------------------- reading
    def documents(self, *, include_incomplete: bool = False) -> list[DocumentRecord]:
        """Return the indexed documents, newest first (see :class:`DocumentRecord`)."""
        return self.registry.list(include_incomplete=include_incomplete)

    def chunk_count(self) -> int:
        """Return the number of chunks in the collection."""
        return self.store.count()

    def retriever(
        self, *, mode: RetrievalMode | None = None, k: int | None = None
    ) -> ChunkRetriever:
        """Build a retriever over this knowledge base.

        Args:
            mode: retrieval mode; the setting if None.
            k: top-k; the setting if None.
        """
        self.follow_vectors()
        s = self.settings
        return build_retriever(
            self.store,
            self.embeddings,
            self.keyword_index,
            mode=mode or s.retrieval_mode,
            k=k or s.top_k,
            fetch_k=s.fetch_k,
            mmr_lambda=s.mmr_lambda,
            rrf_k=s.rrf_k,
            fusion=s.fusion,
            dense_weight=s.dense_weight,
            embedding_languages=s.embedding_languages or self.profile.embedding_languages,
            uncovered_dense_weight=s.uncovered_dense_weight,
            reranker=self.reranker,
            rerank_candidates=s.rerank_candidates,
            hidden_documents=self.registry.incomplete,
            languages=DocumentLanguages(self.registry, self.store),
        )

    @property
    def reranker(self) -> Any | None:
        """The CrossEncoder of ``settings.reranker_model``, loaded on first use (or None)."""
        if not hasattr(self, "_reranker"):
            self._reranker = build_reranker(self.settings.reranker_model)
        return self._reranker

    def retrieve(self, question: str, *, k: int | None = None) -> list[Document]:
        """Return the top-k chunks for ``question`` in the configured mode."""
        return self.retriever(k=k).retrieve(question)

    # ----------------------------------------------------------------- writing
    def ingest_path(
        self, path: Path, *, password: str | None = None, progress: ProgressCallback | None = None
    ) -> IngestResult:
        """Ingest a file from disk; see :meth:`ingest_bytes`."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            name = display_name(path.name)
            return IngestResult(name, "", "failed", error=f"{name}: cannot read ({exc.strerror})")
        return self.ingest_bytes(path.name, data, password=password, progress=progress)

    def ingest_bytes(self, name: str, data: bytes, **options: Any) -> IngestResult:
        """Ingest one file through THE pipeline.

        Args:
            name: the file's name (display only; never used as a path).
            data: its bytes.
            **options: ``password``, ``progress``, ``lock_timeout_s`` of
                :meth:`~rag_core.ingestion.pipeline.IngestPipeline.ingest`.

        Returns:
            The result, with ``status`` "indexed", "unchanged" or "failed".

        Raises:
            StoreBusyError, PasswordRequiredError, WrongPasswordError: see
                :meth:`~rag_core.ingestion.pipeline.IngestPipeline.ingest`.
        """
        return self.pipeline.ingest(name, data, **options)

    def delete(self, name_or_sha: str, *, lock_timeout_s: float = 0.0) -> list[DocumentRecord]:
        """Delete documents by display name or sha256 (chunks, keyword terms, registry row).

        Args:
            name_or_sha: a display name (every version with that name) or a full sha256.
            lock_timeout_s: seconds to wait for another writer.

        Returns:
            The records deleted (empty if nothing matched).

        Raises:
            StoreBusyError: another process is writing to the store.
        """
        matches = self.registry.find_by_name(name_or_sha)
        by_sha = self.registry.get(name_or_sha)
        if by_sha is not None:
            matches.append(by_sha)
        if not matches:
            return []
        with write_lock(self.settings.lock_path, timeout_s=lock_timeout_s):
            self.follow_vectors()
            for record in matches:
                self.pipeline.remove_document(record.sha256)
        return matches


def resolve_embedding_backend(
    settings: Settings, *, adopt: Callable[[Settings, Embeddings], None] | None = None
) -> Settings:
    """``settings`` with a concrete embedding backend: "auto" becomes the chosen one.

    An explicit backend is returned as it is. "auto" reads the choice remembered in the
    data directory for this model and CPU, or measures the backends whose vectors fit the
    store (:func:`~rag_core.index.embeddings.compatible_backends`,
    :func:`~rag_core.index.embeddings.choice.choose_backend`): about a minute, once per
    machine and model, most of it preparing the int8 models that are then cached.

    Args:
        settings: the settings; ``embedding_backend`` may be "auto".
        adopt: called with the resolved settings and the winner's loaded model when it
            was measured just now, so it need not be loaded again.

    Returns:
        The settings with ``embedding_backend`` one of the four backends.

    Raises:
        StoreUnavailableError: the configured Chroma server cannot be reached.
        Exception: what loading the model raises, when no candidate backend loads.
    """
    if settings.embedding_backend != "auto":
        return settings
    allowed = compatible_backends(settings.embedding_model, stored_embedding_identities(settings))

    def build(backend: str) -> Embeddings:
        return build_embeddings(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            backend=backend,  # type: ignore[arg-type]
        )

    measure = measure_backend(build, calibration_passages(MEASURE_PASSAGES))
    choice, model = choose_backend(
        settings.embedding_model, settings.data_dir, measure, allowed=allowed
    )
    resolved = settings.model_copy(update={"embedding_backend": choice.backend})
    if model is not None and adopt is not None:
        adopt(resolved, model)
    return resolved


def load_embeddings(settings: Settings) -> LazyEmbeddings:
    """The embedding model configured in ``settings``, loaded on its first use.

    Opening a knowledge base, listing documents and re-ingesting an unchanged file never
    load it (model and OpenVINO start-up take seconds); the first embedding does, and
    resolves an "auto" backend first (:func:`resolve_embedding_backend`). Loading raises
    what :func:`~rag_core.index.embeddings.build_embeddings` raises.
    """

    def build() -> Embeddings:
        measured: list[Embeddings] = []  # the winner, when the choice is measured now
        resolved = resolve_embedding_backend(settings, adopt=lambda _, m: measured.append(m))
        if measured:
            return measured[0]
        return build_embeddings(
            resolved.embedding_model,
            batch_size=resolved.embedding_batch_size,
            backend=resolved.embedding_backend,  # type: ignore[arg-type]
        )

    return LazyEmbeddings(settings.embedding_model, build)


class EmbeddingWarmup:
    """Makes the embedding model ready on a background thread, before a file needs it.

    Three steps, once per process: choose the backend (:func:`resolve_embedding_backend`:
    read the remembered choice, or measure the candidates the first time, which also
    exports and quantises them once), load the chosen model, embed one text (OpenVINO
    compiles its kernels on the first inference). The app starts it when it starts
    (``ui/resources.py``) and shows :attr:`stage` until it is ``"ready"``; the ingest
    pipeline reports the ``"model"`` stage while it waits for the same model.

    Args:
        settings: the settings (``embedding_backend`` may be "auto").
        embeddings_for: the shared, lazily loaded model of resolved settings (the app's
            cached :class:`LazyEmbeddings`); :func:`load_embeddings` if None.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings_for: Callable[[Settings], LazyEmbeddings] | None = None,
    ) -> None:
        """Prepare; nothing runs until :meth:`start`."""
        self._settings = settings
        self._embeddings_for = embeddings_for or load_embeddings
        self._chosen = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.stage = "waiting"
        """``"waiting"``, ``"choosing"``, ``"loading"``, ``"ready"`` or ``"failed"``."""
        self.resolved: Settings | None = None
        self.embeddings: LazyEmbeddings | None = None
        self.error: BaseException | None = None
        self.seconds: dict[str, float] = {}
        """Seconds each step took ("choose", "load")."""

    def start(self) -> EmbeddingWarmup:
        """Start the background thread (once; later calls do nothing) and return self."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rag-embedding-warmup", daemon=True
                )
                self._thread.start()
        return self

    @property
    def ready(self) -> bool:
        """True once the model has embedded its first text (or the warm-up failed)."""
        return self._done.is_set()

    @property
    def chosen(self) -> bool:
        """True once the backend is known (or the warm-up failed)."""
        return self._chosen.is_set()

    def settings(self, timeout_s: float | None = None) -> Settings:
        """The resolved settings, waiting up to ``timeout_s`` for the choice (None: no limit).

        Raises:
            TimeoutError: the choice was not made in time.
            Exception: what choosing the backend raised.
        """
        if not self._chosen.wait(timeout_s):
            raise TimeoutError("the embedding backend is still being chosen")
        if self.resolved is None:
            assert self.error is not None
            raise self.error
        return self.resolved

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the model is ready; True if it is (False: timed out)."""
        return self._done.wait(timeout_s)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self.stage = "choosing"
            self.resolved = resolve_embedding_backend(self._settings, adopt=self._adopt)
            self.seconds["choose"] = time.perf_counter() - started
            self.embeddings = self._embeddings_for(self.resolved)
            self.stage = "loading"
            self._chosen.set()
            loading = time.perf_counter()
            self.embeddings.embed_query("warm up")
            self.seconds["load"] = time.perf_counter() - loading
            self.stage = "ready"
            logger.info(
                "embedding model ready (%s) in %.1f s",
                self.resolved.embedding_backend,
                time.perf_counter() - started,
            )
        except Exception as exc:
            logger.warning("embedding model warm-up failed: %s", exc)
            self.error = exc
            self.stage = "failed"
        finally:
            self._chosen.set()
            self._done.set()

    def _adopt(self, resolved: Settings, model: Embeddings) -> None:
        self._embeddings_for(resolved).adopt(model)


def build_knowledge_base(settings: Settings, embeddings: Embeddings | None = None) -> KnowledgeBase:
    """Build the knowledge base for ``settings``; the embedding model loads on first use.

    Raises:
        EmbeddingModelMismatchError: the collection was built with another model.
        RagError: the store cannot be opened.
    """
    if embeddings is None:
        embeddings = load_embeddings(settings)
    try:
        return KnowledgeBase(settings, embeddings)
    except RagError:
        raise
    except (OSError, ValueError) as exc:
        raise RagError(f"cannot open the store at {settings.data_dir}: {exc}") from exc
