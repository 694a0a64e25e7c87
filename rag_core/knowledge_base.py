"""The knowledge base: one collection of documents with its chunks, vectors and BM25 index.

This is the service the CLI and the app talk to (ingest, delete, list, retrieve); it owns
the Chroma store, the document registry and the keyword index, so indexing and retrieval
are built from the same parts and cannot drift apart.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import chromadb
from chromadb.errors import ChromaError, NotFoundError
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.config import REGISTRY_SUFFIX, REINDEX_SUFFIX, RetrievalMode, Settings
from rag_core.embeddings import build_embeddings, embedding_dimension, embedding_identity
from rag_core.errors import DocumentError, PasswordRequiredError, RagError, WrongPasswordError
from rag_core.ingest import (
    IngestResult,
    ProgressCallback,
    ProgressReporter,
    embed_in_batches,
    expected_chunks,
)
from rag_core.keyword import TERMS_METADATA_KEY, KeywordIndex
from rag_core.loaders import PageStream, display_name, sha256_hex, suffix_of
from rag_core.retrieval import ChunkRetriever, build_reranker, build_retriever
from rag_core.sources import SourceFiles
from rag_core.splitting import build_splitter, iter_chunks
from rag_core.store import (
    STATUS_COMPLETE,
    STATUS_INDEXING,
    DocumentRecord,
    DocumentRegistry,
    build_chroma_client,
    build_vector_store,
    collection_deleted,
    delete_document_chunks,
    import_legacy_registry,
    iter_stored_chunks,
    now_iso,
    registry_collection_name,
    upsert_chunks,
    write_lock,
)

logger = logging.getLogger(__name__)

STORE_BATCH = 256
"""Chunks embedded and written per store round-trip (progress granularity)."""
FIRST_STORE_BATCH = 32
"""Chunks in the first batch of a streaming ingest; each next batch doubles, up to
:data:`STORE_BATCH`, so embedding starts after a few pages instead of about forty."""
PARSE_TIMEOUT_S = 120.0
"""Default wall-clock limit for parsing one PDF (seconds)."""


def _dimension(embeddings: Embeddings) -> int:
    """Vector length of ``embeddings``: from the model if it says, else by embedding a probe."""
    if hasattr(embeddings, "_client"):
        return embedding_dimension(embeddings)  # type: ignore[arg-type]
    return len(embeddings.embed_query("dimension probe"))


class KnowledgeBase:
    """Documents of one collection: ingest, delete, list, retrieve.

    Args:
        settings: the engine settings (data directory, chunking, retrieval).
        embeddings: the embedding model (shared across knowledge bases).
        client: the Chroma client; a persistent one under ``settings.chroma_dir`` if None.
        model_name: name recorded in the collection metadata (defaults to the setting).
        parse_timeout_s: wall-clock limit for parsing one PDF, in seconds; past it the
            parse is killed and the file reported as too complex.

    Raises:
        EmbeddingModelMismatchError: the collection was built with another model.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        *,
        client: chromadb.ClientAPI | None = None,
        model_name: str | None = None,
        parse_timeout_s: float = PARSE_TIMEOUT_S,
    ) -> None:
        """Open the store, registry and keyword index of ``settings.collection``."""
        self.settings = settings
        self.embeddings = embeddings
        self.parse_timeout_s = parse_timeout_s
        self.client = client or build_chroma_client(settings.chroma_dir, settings.chroma_url)
        name = model_name or embedding_identity(
            settings.embedding_model, settings.embedding_backend
        )
        dim = _dimension(embeddings)
        self.store: Chroma = build_vector_store(
            self.client, settings.collection, embeddings, model_name=name, dimension=dim
        )
        self.registry = DocumentRegistry(self.client, settings.collection)
        import_legacy_registry(settings.registry_path, self.registry)
        self.keyword_index = KeywordIndex(
            settings.keyword_index_dir / settings.collection,
            source=_StoreKeywordSource(self.registry, self.store),
        )
        self.files = SourceFiles(settings.files_dir)

    # ----------------------------------------------------------------- reading
    def documents(self, *, include_incomplete: bool = False) -> list[DocumentRecord]:
        """Return the indexed documents, newest first (see :class:`DocumentRecord`)."""
        return self.registry.list(include_incomplete=include_incomplete)

    def chunk_count(self) -> int:
        """Return the number of chunks in the collection."""
        return int(self.store._collection.count())

    def retriever(
        self, *, mode: RetrievalMode | None = None, k: int | None = None
    ) -> ChunkRetriever:
        """Build a retriever over this knowledge base.

        Args:
            mode: retrieval mode; the setting if None.
            k: top-k; the setting if None.
        """
        s = self.settings
        return build_retriever(
            self.store,
            self.keyword_index,
            mode=mode or s.retrieval_mode,
            k=k or s.top_k,
            fetch_k=s.fetch_k,
            mmr_lambda=s.mmr_lambda,
            rrf_k=s.rrf_k,
            embedding_languages=s.embedding_languages,
            uncovered_dense_weight=s.uncovered_dense_weight,
            reranker=self.reranker,
            rerank_candidates=s.rerank_candidates,
            hidden_documents=self.registry.incomplete,
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

    def ingest_bytes(
        self,
        name: str,
        data: bytes,
        *,
        password: str | None = None,
        progress: ProgressCallback | None = None,
        lock_timeout_s: float = 0.0,
    ) -> IngestResult:
        """Ingest one file. Never raises for a bad file: the result says what failed.

        A PDF streams: its pages are split, embedded and stored while the parsing worker
        reads the rest (:meth:`_store_stream`). A file that fails part-way leaves nothing
        behind, and an older version with the same name stays until the new one is complete.

        Args:
            name: the file's name (display only; never used as a path).
            data: its bytes.
            password: for an encrypted PDF.
            progress: called with :class:`IngestProgress` events.
            lock_timeout_s: seconds to wait for another writer.

        Returns:
            The result, with ``status`` "indexed", "unchanged" or "failed".

        Raises:
            StoreBusyError: another process is writing to the store.
            PasswordRequiredError: the PDF is encrypted and no password was given (so a UI
                can ask for one); every other file problem is reported in the result.
            WrongPasswordError: the password is wrong.
        """
        shown = display_name(name)
        started = time.monotonic()
        digest = sha256_hex(data) if data else ""
        report = ProgressReporter(shown, progress)
        existing = self.registry.get(digest) if digest else None
        if existing and existing.status == STATUS_COMPLETE:
            # The registry keys on content: the same bytes under another name stay one
            # document, listed under the name it was first indexed with.
            report("done", 1, 1)
            return IngestResult(
                shown,
                digest,
                "unchanged",
                pages=existing.pages,
                chunks=existing.chunks,
                indexed_as=existing.name if existing.name != shown else "",
                seconds=time.monotonic() - started,
            )
        report("parse", 0, 1)
        try:
            stream = PageStream(
                shown,
                data,
                password=password,
                timeout_s=self.parse_timeout_s,
                on_page=lambda done, total: report("parse", done, total),
            )
        except (PasswordRequiredError, WrongPasswordError):
            raise
        except DocumentError as exc:
            return _failed(shown, digest, exc, started)
        with stream:
            try:
                with write_lock(self.settings.lock_path, timeout_s=lock_timeout_s):
                    self.files.save(stream.sha256, suffix_of(shown), data)
                    chunks, embedded, replaced = self._store_stream(stream, report)
            except DocumentError as exc:
                return _failed(shown, digest, exc, started)
        report("done", 1, 1)
        return IngestResult(
            shown,
            stream.sha256,
            "indexed",
            pages=stream.n_pages,
            chunks=chunks,
            embedded=embedded,
            replaced=replaced,
            empty_pages=stream.empty_pages,
            seconds=time.monotonic() - started,
        )

    def _store_stream(
        self, stream: PageStream, report: ProgressReporter
    ) -> tuple[int, int, list[str]]:
        """Split, embed and store a document's pages as they arrive; list it when complete.

        Chunks are embedded and written :data:`STORE_BATCH` at a time while the PDF worker
        reads the next pages, so parsing overlaps embedding. Chunks already stored (an
        earlier ingest of the same bytes that was killed) are not embedded again. Only when
        every chunk is stored are the BM25 terms indexed, older versions with the same name
        removed and the registry row marked complete.

        Returns:
            ``(chunks of the document, chunks embedded by this call, replaced sha256s)``.

        Raises:
            DocumentError: from the stream (damaged further in, too complex, no text at
                all); the document's chunks, file and registry row are removed first.
        """
        sha256 = stream.sha256
        record = DocumentRecord(
            sha256=sha256,
            name=stream.name,
            pages=stream.n_pages,
            chunks=0,
            added_at=now_iso(),
            status=STATUS_INDEXING,
        )
        self.registry.upsert(record)
        have = set(self.store._collection.get(where={"sha256": sha256}, include=[])["ids"])
        known = self.keyword_index.document_chunk_ids(sha256)
        splitter = build_splitter(self.settings.chunk_size, self.settings.chunk_overlap)
        chunks: list[Document] = []
        pending: list[Document] = []
        terms: dict[str, list[str]] = {}
        embedded = 0
        threshold = min(FIRST_STORE_BATCH, STORE_BATCH)
        # One batch at a time is analysed for BM25 and written to Chroma on this thread
        # while the next one embeds; progress is reported from the calling thread only.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-store")
        writing: tuple[Future[None], int, int] | None = None

        def write(batch: list[Document], vectors: list[list[float]]) -> None:
            self._add_terms(batch, terms)
            upsert_chunks(self.store, batch, vectors)

        def wait_for_write() -> None:
            nonlocal writing
            if writing is not None:
                future, done, total = writing
                writing = None
                future.result()
                report("store", done, total)

        def flush(*, finished: bool) -> None:
            nonlocal embedded, writing, threshold
            todo = [c for c in pending if c.id not in have]
            vectors = embed_in_batches(self.embeddings.embed_documents, todo) if todo else []
            pending.clear()
            total = expected_chunks(
                len(chunks), stream.pages_read, stream.n_pages, finished=finished
            )
            report("split", len(chunks), total)
            report("embed", len(chunks), total)
            wait_for_write()
            writing = (writer.submit(write, todo, vectors), len(chunks), total)
            embedded += len(todo)
            threshold = min(threshold * 2, STORE_BATCH)

        try:
            try:
                for chunk in iter_chunks(stream, splitter):
                    chunks.append(chunk)
                    pending.append(chunk)
                    if len(pending) >= threshold:
                        flush(finished=False)
                flush(finished=True)
                wait_for_write()
            finally:
                writer.shutdown(wait=True)
        except DocumentError:
            self._delete_unlocked(sha256, rebuild=bool(known))
            raise
        fresh = [c for c in chunks if c.id not in known]
        self._add_terms([c for c in fresh if c.id not in terms], terms)
        if fresh:
            self.keyword_index.add_terms(
                [str(c.id) for c in fresh],
                [sha256] * len(fresh),
                [terms[str(c.id)] for c in fresh],
            )
        replaced = [
            old.sha256 for old in self.registry.find_by_name(stream.name) if old.sha256 != sha256
        ]
        for old in replaced:
            self._delete_unlocked(old, rebuild=False)
        self.keyword_index.rebuild()
        record.chunks = len(chunks)
        record.empty_pages = ",".join(map(str, stream.empty_pages))
        record.status = STATUS_COMPLETE
        self.registry.upsert(record)
        return len(chunks), embedded, replaced

    def _add_terms(self, chunks: list[Document], terms: dict[str, list[str]]) -> None:
        """Analyse ``chunks`` for BM25 into ``terms`` and keep them in each chunk's metadata."""
        if not chunks:
            return
        analysed = self.keyword_index.analyzer.analyze([c.page_content for c in chunks])
        for chunk, chunk_terms in zip(chunks, analysed, strict=True):
            terms[str(chunk.id)] = chunk_terms
            chunk.metadata[TERMS_METADATA_KEY] = " ".join(chunk_terms)

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
            for record in matches:
                self._delete_unlocked(record.sha256, rebuild=False)
            self.keyword_index.rebuild()
        return matches

    def _delete_unlocked(self, sha256: str, *, rebuild: bool) -> None:
        delete_document_chunks(self.store, sha256)
        self.keyword_index.delete_document(sha256)
        self.registry.remove(sha256)
        self.files.delete(sha256)
        if rebuild:
            self.keyword_index.rebuild()
        logger.info("deleted document %s", sha256[:12])


class _StoreKeywordSource:
    """The registry and chunk collection of a knowledge base, as a :class:`KeywordSource`."""

    def __init__(self, registry: DocumentRegistry, store: Chroma) -> None:
        self.registry = registry
        self.store = store

    def version(self) -> str:
        return self.registry.version()

    def documents(self) -> dict[str, bool]:
        return {
            r.sha256: r.status == STATUS_COMPLETE
            for r in self.registry.list(include_incomplete=True)
        }

    def document_chunks(self, sha256: str) -> list[tuple[str, str, str | None]]:
        try:
            got = self.store._collection.get(
                where={"sha256": sha256}, include=["documents", "metadatas"]
            )
        except NotFoundError as exc:
            raise collection_deleted(self.registry.collection) from exc
        texts = got["documents"] or [""] * len(got["ids"])
        metas = got["metadatas"] or [{}] * len(got["ids"])
        return [
            (chunk_id, text or "", (meta or {}).get(TERMS_METADATA_KEY))  # type: ignore[misc]
            for chunk_id, text, meta in zip(got["ids"], texts, metas, strict=True)
        ]


def load_embeddings(settings: Settings) -> Embeddings:
    """Load the embedding model configured in ``settings``.

    Raises:
        OSError: the model is neither local nor in the cache, and the hub is unreachable.
    """
    return build_embeddings(
        settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        backend=settings.embedding_backend,
    )


def reindex_into_new_collection(
    settings: Settings,
    embeddings: Embeddings,
    *,
    model_name: str | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout_s: float = 0.0,
) -> KnowledgeBase:
    """Re-embed every stored chunk with another model, into a collection that replaces the old.

    For a store built with another embedding model (:class:`EmbeddingModelMismatchError`).
    The chunk texts, ids and metadata are read back from the old collection (no file is
    parsed again) and embedded into a staging collection ``<collection>-reindex``; only when
    it is complete is the old collection deleted and the staging one renamed to
    ``settings.collection``. The registry and the BM25 index stay as they are (same chunk
    ids and texts). An interrupted run leaves the old collection intact and is restarted
    from scratch by the next call.

    Args:
        settings: the engine settings (data directory, collection).
        embeddings: the new embedding model.
        model_name: its name, recorded in the collection metadata (the setting if None).
        progress: called with :class:`IngestProgress` events (stage "embed", chunks).
        lock_timeout_s: seconds to wait for another writer.

    Returns:
        The knowledge base opened on the re-indexed collection.

    Raises:
        StoreBusyError: another process is writing to the store.
        RagError: the store cannot be read or written.
    """
    name = model_name or embedding_identity(settings.embedding_model, settings.embedding_backend)
    staging = f"{settings.collection}{REINDEX_SUFFIX}"
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    report = ProgressReporter(f"re-index with {name}", progress)
    with write_lock(settings.lock_path, timeout_s=lock_timeout_s):
        existing = {c.name for c in client.list_collections()}
        if staging in existing and settings.collection not in existing:
            # killed between deleting the old collection and renaming the new one
            client.get_collection(staging).modify(name=settings.collection)
            return KnowledgeBase(settings, embeddings, client=client, model_name=name)
        if staging in existing:
            client.delete_collection(staging)  # a partial earlier run
        try:
            target = build_vector_store(
                client, staging, embeddings, model_name=name, dimension=_dimension(embeddings)
            )
            if settings.collection in existing:
                source = client.get_collection(settings.collection)
                total, done = source.count(), 0
                report("embed", 0, total)
                for batch in iter_stored_chunks(source, STORE_BATCH):
                    vectors = embed_in_batches(embeddings.embed_documents, batch)
                    upsert_chunks(target, batch, vectors)
                    done += len(batch)
                    report("embed", done, total)
                client.delete_collection(settings.collection)
            client.get_collection(staging).modify(name=settings.collection)
        except (ChromaError, ValueError) as exc:
            raise RagError(f"re-indexing into a new collection failed: {exc}") from exc
    logger.info("re-indexed collection %s with %s", settings.collection, name)
    report("done", 1, 1)
    return KnowledgeBase(settings, embeddings, client=client, model_name=name)


def list_collections(settings: Settings) -> dict[str, int]:
    """Return the store's collections and their chunk counts, by name (sorted).

    Raises:
        StoreUnavailableError: the configured Chroma server cannot be reached.
    """
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    return {
        c.name: c.count()
        for c in sorted(client.list_collections(), key=lambda c: c.name)
        if not c.name.endswith((REINDEX_SUFFIX, REGISTRY_SUFFIX))
    }


def delete_collection(settings: Settings, name: str, *, lock_timeout_s: float = 0.0) -> bool:
    """Delete the collection ``name``: its chunks, BM25 index, document list and originals.

    Args:
        settings: any settings of the store (``collection`` is ignored).
        name: the collection to delete.
        lock_timeout_s: seconds to wait for another writer.

    Returns:
        True if the collection existed.

    Raises:
        StoreBusyError: another process is writing to the store.
        StoreUnavailableError: the configured Chroma server cannot be reached.
        pydantic.ValidationError: ``name`` is not a valid collection name.
    """
    target = settings.model_copy(update={"collection": name})
    target = Settings.model_validate(target.model_dump())  # validates the name
    client = build_chroma_client(target.chroma_dir, target.chroma_url)
    with write_lock(target.lock_path, timeout_s=lock_timeout_s):
        names = {c.name for c in client.list_collections()}
        existed = name in names
        for doomed in (name, registry_collection_name(name)):
            if doomed in names:
                client.delete_collection(doomed)
        shutil.rmtree(target.keyword_index_dir / name, ignore_errors=True)
        if target.collection_dir != target.data_dir:
            shutil.rmtree(target.collection_dir, ignore_errors=True)
        else:  # the default collection lives at the top of the data directory
            for legacy in target.data_dir.glob(target.registry_path.name + "*"):
                legacy.unlink(missing_ok=True)
            shutil.rmtree(target.files_dir, ignore_errors=True)
    logger.info("deleted collection %s (existed: %s)", name, existed)
    return existed


def _failed(name: str, sha256: str, exc: DocumentError, started: float) -> IngestResult:
    """The result of a file that could not be ingested (``started``: its monotonic start)."""
    logger.info("ingest failed: %s", exc)
    return IngestResult(
        name,
        sha256,
        "failed",
        error=str(exc),
        error_code=exc.code,
        seconds=time.monotonic() - started,
    )


def build_knowledge_base(settings: Settings, embeddings: Embeddings | None = None) -> KnowledgeBase:
    """Build the knowledge base for ``settings``, loading the embedding model if needed.

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


__all__ = [
    "KnowledgeBase",
    "build_knowledge_base",
    "delete_collection",
    "list_collections",
    "load_embeddings",
    "reindex_into_new_collection",
]
