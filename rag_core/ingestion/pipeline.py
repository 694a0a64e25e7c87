"""The ingest pipeline: parse -> split -> embed -> store, with progress and idempotence.

* Identity is content: a document is its file's sha256, chunk ids derive from it
  (:func:`rag_core.ingestion.splitting.chunk_id`), and Chroma writes are upserts. Re-ingesting the
  same bytes computes no embeddings; a changed file with the same name replaces the old
  version's chunks once the new ones are stored. The same bytes under a second name stay
  one document, listed under the first name; the second upload is reported as "already
  indexed as <first name>" (``IngestResult.indexed_as``).
* A document is listed as indexed only when every chunk is stored: the registry row is
  ``indexing`` until then. An ingest that was killed halfway is completed by the next one,
  which embeds only the chunks that are missing.
* One writer at a time, through the store's file lock.
* An ingest can be stopped: a progress callback that raises
  :class:`~rag_core.errors.IngestCancelled` ends it like a bad file does, removing what
  was stored of the new content (chunks, BM25 terms, registry row, stored file), while an
  older complete version with the same name stays.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.errors import (
    DocumentError,
    IngestCancelled,
    PasswordRequiredError,
    RagError,
    WrongPasswordError,
)
from rag_core.index.chunks import embedded_text, keyword_text
from rag_core.index.embeddings import LazyEmbeddings
from rag_core.index.files import SourceFiles
from rag_core.index.keyword import (
    ANALYZER_METADATA_KEY,
    ANALYZER_VERSION,
    TERMS_METADATA_KEY,
    KeywordIndex,
)
from rag_core.index.locking import write_lock
from rag_core.index.registry import (
    STATUS_COMPLETE,
    STATUS_INDEXING,
    DocumentRecord,
    DocumentRegistry,
    now_iso,
)
from rag_core.index.vector_store import VectorStore
from rag_core.ingestion.loaders import PageStream, display_name, sha256_hex, suffix_of
from rag_core.ingestion.ocr import OcrOptions
from rag_core.ingestion.progress import (
    IngestResult,
    ProgressCallback,
    ProgressReporter,
    expected_chunks,
)
from rag_core.ingestion.splitting import build_splitter, iter_chunks
from rag_core.language import chunk_languages

logger = logging.getLogger(__name__)

EMBED_WINDOW = 256
"""Chunks handed to the embedding model per call. The ONNX/OpenVINO encoder batches the
texts of one call by token count, so a wide window wastes less compute on padding (on the
gnuplot manual: 26% padding in calls of 32 texts, 6% in calls of 256); progress is
reported after each call (about 1.5 s at 190 chunks/s)."""
STORE_BATCH = 256
"""Chunks embedded and written per store round-trip (progress granularity)."""
FIRST_STORE_BATCH = 32
"""Chunks in the first batch of a streaming ingest; each next batch doubles, up to
:data:`STORE_BATCH`, so embedding starts after a few pages instead of about forty."""
PARSE_TIMEOUT_S = 120.0
"""Default wall-clock limit for parsing one PDF (seconds)."""


def embed_in_batches(
    embed: Callable[[list[str]], list[list[float]]],
    chunks: Sequence[Document],
    batch_size: int = EMBED_WINDOW,
    report: ProgressReporter | None = None,
) -> list[list[float]]:
    """Embed chunks ``batch_size`` at a time, reporting progress after each call.

    What is embedded is :func:`~rag_core.index.chunks.embedded_text` (title and
    heading path, then the passage); the passage alone is stored and shown.

    Args:
        embed: an ``Embeddings.embed_documents``.
        chunks: n chunks.
        batch_size: texts per ``embed`` call (the model batches within a call).
        report: progress reporter ("embed" stage).

    Returns:
        One vector per chunk, same order.
    """
    vectors: list[list[float]] = []
    total = len(chunks)
    for start in range(0, total, batch_size):
        texts = [embedded_text(c) for c in chunks[start : start + batch_size]]
        vectors.extend(embed(texts))
        if report:
            report("embed", min(start + batch_size, total), total)
    return vectors


@dataclass
class IngestPipeline:
    """THE ingest pipeline of one collection, used by the app, the CLI, tests and benchmarks.

    A file streams through it: the parse worker reads pages
    (:class:`~rag_core.ingestion.loaders.PageStream`), each page is split as it arrives,
    chunks are embedded in batches of 32, 64, 128, then :data:`STORE_BATCH`, and a writer
    thread analyses each embedded batch for BM25 and upserts it into Chroma while the next
    one embeds. The embedding model is only asked for vectors when a chunk is missing from
    the store, so re-ingesting an unchanged file never loads it.

    Attributes:
        store: the chunk collection.
        registry: the collection's document list.
        keyword_index: the BM25 index of the same chunks.
        files: the stored original files (for the page view).
        embeddings: the embedding model (may load lazily).
        chunk_size: characters per chunk.
        chunk_overlap: characters of overlap between chunks.
        lock_path: the store's single-writer lock file.
        parse_timeout_s: wall-clock limit for parsing one PDF, in seconds.
        ocr: when and how pages without usable text are recognised (OCR).
        korean_spacing: restore lost spaces between Korean words
            (:mod:`rag_core.ingestion.spacing`).
        on_lock: called once the write lock is held, before anything is written (the
            knowledge base follows an embedding-model switch there,
            :meth:`rag_core.knowledge_base.KnowledgeBase.follow_vectors`).
    """

    store: VectorStore
    registry: DocumentRegistry
    keyword_index: KeywordIndex
    files: SourceFiles
    embeddings: Embeddings
    chunk_size: int
    chunk_overlap: int
    lock_path: Path
    parse_timeout_s: float = PARSE_TIMEOUT_S
    ocr: OcrOptions = field(default_factory=OcrOptions)
    korean_spacing: bool = False
    on_lock: Callable[[], None] | None = None

    def ingest(
        self,
        name: str,
        data: bytes,
        *,
        password: str | None = None,
        progress: ProgressCallback | None = None,
        lock_timeout_s: float = 0.0,
        stream: Callable[[], PageStream] | None = None,
    ) -> IngestResult:
        """Ingest one file. Never raises for a bad file: the result says what failed.

        It is longer than 60 lines by its docstring; the body reads top to bottom.

        A file that fails part-way leaves nothing behind, and an older version with the
        same name stays until the new one is complete.

        Args:
            name: the file's name (display only; never used as a path).
            data: its bytes.
            password: for an encrypted PDF.
            progress: called with :class:`IngestProgress` events.
            lock_timeout_s: seconds to wait for another writer.
            stream: returns the file's stream, opened earlier by :meth:`open_stream`
                (its worker has been reading ahead); None opens it now. It may raise what
                :meth:`open_stream` raises. The pipeline closes the stream.

        Returns:
            The result, with ``status`` "indexed", "unchanged" or "failed".

        Raises:
            IngestCancelled: ``progress`` raised it; nothing of this content is left.
            StoreBusyError: another process is writing to the store.
            PasswordRequiredError: the PDF is encrypted and no password was given (so a UI
                can ask for one); every other file problem is reported in the result.
            WrongPasswordError: the password is wrong.
        """
        shown = display_name(name)
        started = time.monotonic()
        digest = sha256_hex(data) if data else ""
        report = ProgressReporter(shown, progress)
        unchanged = self._unchanged(shown, digest, started)
        if unchanged is not None:
            _close(stream)
            report("done", 1, 1)
            return unchanged
        try:
            report("parse", 0, 1)
            opened = stream() if stream is not None else self.open_stream(shown, data, password)
        except (PasswordRequiredError, WrongPasswordError):
            raise
        except DocumentError as exc:
            return _failed(shown, digest, exc, started)
        except IngestCancelled:
            _close(stream)
            raise
        with opened:
            opened.listen(
                lambda done, total: report("parse", done, total),
                lambda done, total: report("ocr", done, total),
            )
            try:
                with write_lock(self.lock_path, timeout_s=lock_timeout_s):
                    if self.on_lock is not None:
                        self.on_lock()
                    self.files.save(opened.sha256, suffix_of(shown), data)
                    chunks, embedded, replaced = self._store_stream(opened, report)
                    if opened.ocr_words:
                        self.files.save_words(opened.sha256, opened.ocr_words)
            except DocumentError as exc:
                return _failed(shown, digest, exc, started)
        report("done", 1, 1)
        return IngestResult(
            shown,
            opened.sha256,
            "indexed",
            pages=opened.n_pages,
            chunks=chunks,
            embedded=embedded,
            replaced=replaced,
            empty_pages=opened.empty_pages,
            page_kinds=opened.page_kinds,
            ocr_pages=opened.ocr_pages,
            ocr_skipped=opened.ocr_skipped,
            ocr_details=opened.ocr_details,
            ocr_problem=opened.ocr_problem,
            respaced_pages=opened.respaced_pages,
            seconds=time.monotonic() - started,
        )

    def open_stream(self, name: str, data: bytes, password: str | None = None) -> PageStream:
        """Open a file's page stream now: its parse worker starts reading ahead.

        Args:
            name: the file's display name.
            data: its bytes.
            password: for an encrypted PDF.

        Returns:
            The stream (no callbacks yet; :meth:`ingest` sets them).

        Raises:
            DocumentError, PasswordRequiredError, WrongPasswordError: see
                :class:`~rag_core.ingestion.loaders.PageStream`.
        """
        return PageStream(
            name,
            data,
            password=password,
            timeout_s=self.parse_timeout_s,
            ocr=self.ocr,
            korean_spacing=self.korean_spacing,
        )

    def _unchanged(self, shown: str, digest: str, started: float) -> IngestResult | None:
        """The result for bytes already indexed completely, or None.

        The registry keys on content: the same bytes under another name stay one
        document, listed under the name it was first indexed with.
        """
        existing = self.registry.get(digest) if digest else None
        if existing is None or existing.status != STATUS_COMPLETE:
            return None
        return IngestResult(
            shown,
            digest,
            "unchanged",
            pages=existing.pages,
            chunks=existing.chunks,
            indexed_as=existing.name if existing.name != shown else "",
            seconds=time.monotonic() - started,
        )

    def _store_stream(
        self, stream: PageStream, report: ProgressReporter
    ) -> tuple[int, int, list[str]]:
        """Split, embed and store a document's pages as they arrive; list it when complete.

        Chunks already stored (an earlier ingest of the same bytes that was killed) are not
        embedded again. Only when every chunk is stored are the BM25 terms indexed, older
        versions with the same name removed and the registry row marked complete.

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
        known = self.keyword_index.document_chunk_ids(sha256)
        writer = _BatchWriter(self, stream, report, have=self.store.chunk_ids(sha256))
        splitter = build_splitter(self.chunk_size, self.chunk_overlap)
        try:
            writer.run(iter_chunks(stream, splitter))
        except (DocumentError, IngestCancelled):
            self.remove_document(sha256)
            raise
        chunks, terms = writer.chunks, writer.terms
        fresh = [c for c in chunks if c.id not in known]
        self.add_terms([c for c in fresh if c.id not in terms], terms)
        if fresh:
            self.keyword_index.add_terms(
                [str(c.id) for c in fresh],
                [sha256] * len(fresh),
                [terms[str(c.id)] for c in fresh],
            )
        record.chunks = len(chunks)
        unread = sorted([*stream.empty_pages, *stream.ocr_skipped])
        record.empty_pages = ",".join(map(str, unread))
        record.languages = chunk_languages((c.metadata.get("page"), c.page_content) for c in chunks)
        record.status = STATUS_COMPLETE
        older = [old for old in self.registry.find_by_name(stream.name) if old.sha256 != sha256]
        # the new version is listed and the older ones hidden in one write: a search
        # finds one version at every moment, never both or neither
        self.registry.swap(record, older)
        replaced = [old.sha256 for old in older]
        for old in replaced:
            self.remove_document(old)
        return len(chunks), writer.embedded, replaced

    def add_terms(self, chunks: list[Document], terms: dict[str, list[str]]) -> None:
        """BM25 terms of each chunk's ``keyword_text`` into ``terms`` and the chunk's metadata."""
        if not chunks:
            return
        analysed = self.keyword_index.analyzer.analyze([keyword_text(c) for c in chunks])
        for chunk, chunk_terms in zip(chunks, analysed, strict=True):
            terms[str(chunk.id)] = chunk_terms
            chunk.metadata[TERMS_METADATA_KEY] = " ".join(chunk_terms)
            chunk.metadata[ANALYZER_METADATA_KEY] = ANALYZER_VERSION

    def remove_document(self, sha256: str) -> None:
        """Remove a document's chunks, BM25 terms, registry row and stored file (locked).

        Args:
            sha256: the document.
        """
        self.store.delete_document(sha256)
        self.keyword_index.delete_document(sha256)  # its rows only: nothing is rebuilt
        self.registry.remove(sha256)
        self.files.delete(sha256)
        logger.info("deleted document %s", sha256[:12])


class _BatchWriter:
    """Embeds a document's chunks in growing batches; a thread writes each batch.

    One batch at a time is analysed for BM25 and written to Chroma on the writer thread
    while the next one embeds; progress is reported from the calling thread only.
    """

    def __init__(
        self,
        pipeline: IngestPipeline,
        stream: PageStream,
        report: ProgressReporter,
        *,
        have: set[str],
    ) -> None:
        self.pipeline = pipeline
        self.stream = stream
        self.report = report
        self.have = have
        self.chunks: list[Document] = []
        self.pending: list[Document] = []
        self.terms: dict[str, list[str]] = {}
        self.embedded = 0
        self.threshold = min(FIRST_STORE_BATCH, STORE_BATCH)
        self.writing: tuple[Future[None], int, int] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-store")

    def run(self, chunks: Iterable[Document]) -> None:
        """Embed and store every chunk of the iterable ``chunks``; wait for the last write."""
        try:
            for chunk in chunks:
                self.chunks.append(chunk)
                self.pending.append(chunk)
                if len(self.pending) >= self.threshold:
                    self.flush(finished=False)
            self.flush(finished=True)
            self.wait_for_write()
        finally:
            self.executor.shutdown(wait=True)

    def write(self, batch: list[Document], vectors: list[list[float]]) -> None:
        """Writer thread: BM25 terms, then the Chroma upsert."""
        self.pipeline.add_terms(batch, self.terms)
        self.pipeline.store.upsert(batch, vectors)

    def wait_for_write(self) -> None:
        """Wait for the write in flight (re-raising its error) and report it."""
        if self.writing is not None:
            future, done, total = self.writing
            self.writing = None
            future.result()
            self.report("store", done, total)

    def flush(self, *, finished: bool) -> None:
        """Embed the pending chunks that are not stored yet and hand them to the writer."""
        todo = [c for c in self.pending if c.id not in self.have]
        model = self.pipeline.embeddings
        if todo and isinstance(model, LazyEmbeddings) and not model.loaded:
            # the model is still being prepared (first start: chosen, exported, quantised;
            # or the app's warm-up is loading it): say so rather than freeze on "parse"
            self.report("model", 0, 1)
            model.model  # noqa: B018 - loads it, or waits for the warm-up that is
        embed = model.embed_documents
        vectors = embed_in_batches(embed, todo) if todo else []
        self.pending.clear()
        done = len(self.chunks)
        total = expected_chunks(
            done, self.stream.pages_read, self.stream.n_pages, finished=finished
        )
        self.report("split", done, total)
        self.report("embed", done, total)
        self.wait_for_write()
        self.writing = (self.executor.submit(self.write, todo, vectors), done, total)
        self.embedded += len(todo)
        self.threshold = min(self.threshold * 2, STORE_BATCH)


def _close(stream: Callable[[], PageStream] | None) -> None:
    """Close a stream opened ahead of its ingest that will not be read (or its error)."""
    if stream is not None:
        with contextlib.suppress(RagError):
            stream().close()


def _failed(name: str, sha256: str, exc: DocumentError, started: float) -> IngestResult:
    """The result of a file that could not be ingested (``started``: its monotonic start)."""
    logger.info("ingest failed: %s", exc)
    return IngestResult(
        name,
        sha256,
        "failed",
        error=str(exc),
        error_code=exc.code,
        error_params=dict(exc.params),
        seconds=time.monotonic() - started,
    )
