"""The engine: one entry point per use case, for every door.

The Streamlit pages, the CLI, the benchmarks, the HTTP API (:mod:`rag_core.doors.api`)
and the MCP server (:mod:`rag_core.doors.mcp_server`) all go through an :class:`Engine`; none of
them builds a chain, a retriever or a queue of its own:

* :meth:`Engine.ask` streams an answer as typed events
  (:data:`~rag_core.generation.types.AnswerEvent`), :meth:`Engine.answer` folds them
  into one :class:`~rag_core.generation.types.RagAnswer`;
* :meth:`Engine.search` returns the numbered passages for a query (the app's search:
  hybrid retrieval, translations of the query for documents in other languages);
* :meth:`Engine.documents`, :meth:`Engine.ingest`, :meth:`Engine.submit`,
  :meth:`Engine.jobs`, :meth:`Engine.cancel_job`, :meth:`Engine.delete_document`,
  :meth:`Engine.collections` and :meth:`Engine.delete_collection` manage what is indexed;
* :meth:`Engine.switch_model` moves a collection to another embedding model without
  downtime (:mod:`rag_core.ingestion.model_switch`);
* :meth:`Engine.sync_folder` keeps a collection in step with a folder
  (:mod:`rag_core.folder_sync`); :meth:`Engine.set_sync_folder` and
  :meth:`Engine.sync_saved_folder` do it for the folder an editor set in the app.
* :meth:`Engine.export_collection` and :meth:`Engine.import_collection` write and restore
  a snapshot archive of a collection (:mod:`rag_core.index.snapshot`).

Every method takes the ``caller`` (:class:`~rag_core.access.Caller`; None for the local
user of a single-user install and for the CLI, which runs as the owner of the data
directory) and checks it with :class:`~rag_core.access.AccessControl` before it reads or
writes a collection: a collection the caller is not a member of does not exist for them
(:class:`~rag_core.errors.CollectionNotFoundError`), a reader cannot write
(:class:`~rag_core.errors.PermissionDeniedError`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from rag_core.access import AccessControl, Action, Caller
from rag_core.config import RetrievalMode, Settings, check_collection_name
from rag_core.errors import CollectionNotFoundError
from rag_core.folder_sync import (
    SyncProgress,
    SyncReport,
    apply_sync,
    check_sync_folder,
    plan_sync,
    sync_lock,
    sync_state,
)
from rag_core.generation.chain import ChainOptions, RagChain, build_rag_chain
from rag_core.generation.citations import Citation, build_citations
from rag_core.generation.judge import build_judge
from rag_core.generation.respond import stream_rag_answer
from rag_core.generation.types import AnswerEvent, AnswerFold, ChatTurn, RagAnswer
from rag_core.index.collections import delete_collection, list_collections
from rag_core.index.embeddings import embedding_dimension, embedding_identity
from rag_core.index.embeddings.download import DownloadProgress, ensure_model
from rag_core.index.embeddings.shelf import embeddings_for_identity
from rag_core.index.registry import DocumentRecord
from rag_core.index.snapshot import SnapshotInfo, export_snapshot, import_snapshot
from rag_core.ingest_queue import WRITE_LOCK_WAIT_S, IngestJob, IngestQueue, JobQueue
from rag_core.ingestion.model_switch import DROP_GRACE_S, switch_model
from rag_core.ingestion.progress import IngestResult, ProgressCallback
from rag_core.ingestion.splitting import join_page_chunks
from rag_core.knowledge_base import (
    KnowledgeBase,
    build_knowledge_base,
    load_embeddings,
    resolve_embedding_backend,
)
from rag_core.llm.ollama import build_chat_model
from rag_core.retrieval.crosslingual import build_search
from rag_core.retrieval.relevance import is_relevant
from rag_core.retrieval.retrievers import MultiCollectionRetriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskOptions:
    """How to answer one question.

    Attributes:
        k: top-k passages (the ``top_k`` setting if None).
        model: the Ollama model tag (the ``ollama_model`` setting if None).
        also: other collections searched with the first one (rankings fused by
            reciprocal rank fusion; see
            :class:`~rag_core.retrieval.retrievers.MultiCollectionRetriever`).
        judge: an Ollama model tag that also judges each cited sentence (one model call
            per cited sentence; :mod:`rag_core.generation.judge`); None: no judge.
        retry_language: ask once more when the answer is in another language.
    """

    k: int | None = None
    model: str | None = None
    also: tuple[str, ...] = ()
    judge: str | None = None
    retry_language: bool = True


@dataclass(frozen=True)
class SearchHits:
    """The passages found for a query.

    Attributes:
        query: the query as given.
        queries: every query searched: ``query``, then its translations.
        notices: ``(code, params)`` of what the search could not do (e.g.
            ``"translation_unavailable"``).
        citations: the passages, best first, numbered from 1 (``score`` is the
            retriever's score, see :mod:`rag_core.retrieval`).
        relevant: False when no passage passed the relevance gate
            (:func:`rag_core.retrieval.relevance.is_relevant`).
    """

    query: str
    queries: list[str] = field(default_factory=list)
    notices: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    relevant: bool = True


class Engine:
    """The engine every door calls (see the module docstring).

    Thread-safe: knowledge bases and ingest queues are opened once per collection and
    shared by every caller.

    Args:
        settings: the engine settings; ``settings.collection`` is the default collection.
        embeddings: the embedding model (loaded on first use if None).
        access: who may do what (from the settings if None).

    Raises:
        RagError: the store cannot be opened (raised by the first method that opens it).
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings | None = None,
        *,
        access: AccessControl | None = None,
    ) -> None:
        """Keep the settings; stores open on first use."""
        self.settings = settings
        self.embeddings = embeddings if embeddings is not None else load_embeddings(settings)
        self.access = access if access is not None else AccessControl(settings)
        self._kbs: dict[str, KnowledgeBase] = {}
        self._queues: dict[str, IngestQueue] = {}
        self._job_queue: JobQueue | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------- collections
    def settings_for(self, collection: str | None) -> Settings:
        """The settings with ``collection`` (the default one if None or "").

        Raises:
            CollectionNotFoundError: ``collection`` is no valid collection name (so no
                collection can have it; :func:`rag_core.config.check_collection_name`).
        """
        if not collection or collection == self.settings.collection:
            return self.settings
        try:
            check_collection_name(collection)
        except ValueError as exc:
            raise CollectionNotFoundError(str(exc)) from exc
        return self.settings.model_copy(update={"collection": collection})

    def knowledge_base(self, collection: str | None = None) -> KnowledgeBase:
        """The knowledge base of ``collection``, opened once (no permission check).

        For the engine's own use and for trusted code (the local UI's caches, tests).

        Raises:
            EmbeddingModelMismatchError: the collection was built with another model.
            RagError: the store cannot be opened.
        """
        settings = self.settings_for(collection)
        with self._lock:
            kb = self._kbs.get(settings.collection)
            if kb is None:
                kb = build_knowledge_base(settings, self.embeddings)
                self._kbs[settings.collection] = kb
            return kb

    def collections(self, *, caller: Caller | None = None) -> dict[str, int]:
        """The collections ``caller`` may read, with their chunk counts, by name.

        Raises:
            StoreUnavailableError: the Chroma server cannot be reached.
        """
        counts = list_collections(self.settings)
        return {name: counts[name] for name in self.access.readable(caller, sorted(counts))}

    def delete_collection(self, collection: str, *, caller: Caller | None = None) -> bool:
        """Delete a collection and everything in it (its owner only).

        See :func:`rag_core.index.collections.delete_collection`.

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring.
            StoreBusyError: another process is writing to the store.
        """
        self.access.require(caller, collection, Action.MANAGE)
        self.job_queue().cancel_collection(collection)
        with self._lock:
            self._kbs.pop(collection, None)
            self._queues.pop(collection, None)
        existed = delete_collection(self.settings, collection)
        self.access.forget(collection)  # a new collection of that name starts afresh
        sync_state(self.settings).forget_collection(collection)
        return existed

    def export_collection(
        self,
        collection: str | None,
        target: Path,
        *,
        include_files: bool = False,
        lock_timeout_s: float = 0.0,
        caller: Caller | None = None,
    ) -> SnapshotInfo:
        """Write a snapshot archive of ``collection`` (:mod:`rag_core.index.snapshot`).

        Needs :attr:`Action.READ`: an archive holds nothing a reader cannot already read
        (the documents, their passages through search, their pages through the page view).

        Args:
            collection: the collection (the default one if None).
            target: the archive file to write (replaced when complete).
            include_files: put the original files (and OCR word boxes) in too.
            lock_timeout_s: seconds to wait for another writer (the store is read under
                the write lock, so no ingest changes it half-way).
            caller: who asks.

        Raises:
            CollectionNotFoundError: see the module docstring.
            StoreBusyError: another process is writing to the store.
            SnapshotError, RagError: the store or the archive cannot be read or written.
        """
        kb = self._open(collection, caller, Action.READ)
        return export_snapshot(
            kb.store,
            kb.registry,
            target,
            files=kb.files if include_files else None,
            lock_path=kb.settings.lock_path,
            lock_timeout_s=lock_timeout_s,
        )

    def import_collection(
        self,
        source: Path,
        *,
        name: str | None = None,
        lock_timeout_s: float = 0.0,
        caller: Caller | None = None,
    ) -> SnapshotInfo:
        """Restore a snapshot archive as a new collection (see :func:`import_snapshot`).

        The archive is checked whole before anything is written; then the caller needs
        the right to create the collection (with sign-in on, a new collection's creator
        becomes its owner, as when they first upload to it) or to write to an empty one.

        Args:
            source: the archive.
            name: the new collection's name (the archive's collection name if None).
            lock_timeout_s: seconds to wait for another writer.
            caller: who asks.

        Returns:
            What was imported (``collection`` is the name it now has).

        Raises:
            SnapshotError: a damaged archive, another embedding model, a bad name or a
                collection of that name that holds documents.
            PermissionDeniedError, CollectionNotFoundError: the caller may not write to an
                existing collection of that name.
            StoreBusyError: another process is writing to the store.
            RagError: the store failed (nothing of the import is kept).
        """

        def authorize(target: str) -> None:
            if self.access.enabled and caller is not None:
                self.access.created(caller, target)
            self.access.require(caller, target, Action.WRITE)

        settings = resolve_embedding_backend(self.settings)
        identity = embedding_identity(settings.embedding_model, settings.embedding_backend)
        imported = import_snapshot(
            source,
            settings,
            name=name,
            model_name=identity,
            dimension=embedding_dimension(self.embeddings),
            lock_timeout_s=lock_timeout_s,
            authorize=authorize,
        )
        with self._lock:  # a knowledge base opened on the empty one it replaced
            self._kbs.pop(imported.collection, None)
            self._queues.pop(imported.collection, None)
        return imported

    # ----------------------------------------------------------------- reading
    def documents(
        self, collection: str | None = None, *, caller: Caller | None = None
    ) -> list[DocumentRecord]:
        """The documents of ``collection``, newest first (``sha256`` is a document's id).

        Raises:
            CollectionNotFoundError: see the module docstring.
        """
        kb = self._open(collection, caller, Action.READ)
        return kb.documents()

    def document(
        self, document_id: str, collection: str | None = None, *, caller: Caller | None = None
    ) -> DocumentRecord:
        """One document of ``collection`` by its id (sha256) or its file name.

        Raises:
            CollectionNotFoundError: no such collection (for the caller) or document.
        """
        kb = self._open(collection, caller, Action.READ)
        record = kb.registry.get(document_id)
        if record is None:
            found = kb.registry.find_by_name(document_id)
            record = found[0] if found else None
        if record is None or record.status != "complete":
            raise CollectionNotFoundError(f"no document '{document_id}' in this collection")
        return record

    def page_text(
        self,
        document_id: str,
        page: int,
        collection: str | None = None,
        *,
        caller: Caller | None = None,
    ) -> str:
        """The text of one page of a document, as it was indexed (e.g. a cited page).

        Rebuilt from the page's stored chunks
        (:func:`~rag_core.ingestion.splitting.join_page_chunks`), so it is the text that
        was searched and cited, OCR'd and respaced pages included; for an HWP/HWPX file a
        "page" is a paragraph number, as in its citations.

        Args:
            document_id: the document's id (sha256) or file name.
            page: 1-based page number (a citation's ``page``).
            collection: the collection (the default one if None).
            caller: who asks.

        Returns:
            The page's text; "" for a page without text (e.g. a blank page).

        Raises:
            CollectionNotFoundError: no such collection (for the caller), document or page.
        """
        record = self.document(document_id, collection, caller=caller)
        if not 1 <= page <= record.pages:
            raise CollectionNotFoundError(
                f"{record.name} has no page {page} (it has {record.pages})"
            )
        kb = self.knowledge_base(collection)
        chunks = [
            (text, meta)
            for _, text, meta in kb.store.document_chunks(record.sha256)
            if int(meta.get("page", 0) or 0) == page
        ]
        return join_page_chunks(chunks)

    def search(
        self,
        query: str,
        collection: str | None = None,
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        model: str | None = None,
        also: Sequence[str] = (),
        translate: bool = True,
        caller: Caller | None = None,
    ) -> SearchHits:
        """The top-k passages for ``query``, as the Chat page's search finds them.

        Args:
            query: the query (any language: it is also searched in translation when the
                collection holds documents in another language, by the Ollama model; when
                that model cannot be reached the query is searched as given, with a notice).
            collection: the collection (the default one if None).
            k: top-k (the ``top_k`` setting if None).
            mode: "dense", "bm25", "hybrid" or "mmr" (the setting if None).
            model: the Ollama model that translates (the setting if None).
            also: other collections searched too (rankings fused by reciprocal rank fusion).
            translate: False: no model call (e.g. when the model is known to be down).
            caller: who asks (must be able to read every collection searched).

        Raises:
            CollectionNotFoundError: see the module docstring.
            RagError: the store failed.
        """
        kb = self._open(collection, caller, Action.READ)
        settings = kb.settings
        use_model = translate and settings.translate_queries
        llm = build_chat_model(settings, model=model) if use_model else None
        result = build_search(kb.retriever(mode=mode, k=k), llm, rrf_k=settings.rrf_k).search(query)
        relevant = is_relevant(
            result.docs,
            min_similarity=settings.min_similarity,
            min_keyword_coverage=settings.min_keyword_coverage,
        )
        return SearchHits(
            query=query,
            queries=list(result.queries),
            notices=[(code, dict(params)) for code, params in result.notices],
            citations=build_citations(result.docs),
            relevant=relevant,
        )

    def ask(
        self,
        question: str,
        collection: str | None = None,
        *,
        history: Sequence[ChatTurn] = (),
        options: AskOptions | None = None,
        caller: Caller | None = None,
    ) -> Iterator[AnswerEvent]:
        """Answer ``question`` from ``collection`` as a stream of typed events.

        The one answering path (retrieval, the relevance gate, the model, reasoning split
        off, citations parsed and checked); the events and their order are those of
        :func:`rag_core.generation.respond.stream_rag_answer`. Permissions and the
        collections are checked before the first event (so a door can answer 404 / 403
        before it starts a stream).

        Args:
            question: the question.
            collection: the collection (the default one if None).
            history: earlier exchanges of the conversation, oldest first.
            options: top-k, model, other collections, judge, language retry.
            caller: who asks (must be able to read every collection searched).

        Returns:
            An iterator of :data:`~rag_core.generation.types.AnswerEvent`.

        Raises:
            CollectionNotFoundError: a collection does not exist for the caller.
            EmbeddingModelMismatchError, RagError: a store cannot be opened.
        """
        opts = options or AskOptions()
        names = [self.settings_for(collection).collection, *opts.also]
        kbs = [self._open(name, caller, Action.READ) for name in names]
        model = opts.model or self.settings.ollama_model
        chain = self._chain(kbs, k=opts.k, model=model)
        judge = build_judge(self.settings, opts.judge) if opts.judge else None
        return stream_rag_answer(
            chain,
            question,
            history=history,
            host=self.settings.ollama_host,
            model=model,
            retry_language=opts.retry_language,
            judge=judge,
        )

    def answer(
        self,
        question: str,
        collection: str | None = None,
        *,
        on_event: Callable[[AnswerEvent], None] | None = None,
        **kwargs: object,
    ) -> RagAnswer:
        """:meth:`ask`, folded into one answer (``on_event`` sees each event first).

        Args:
            question: the question.
            collection: the collection (the default one if None).
            on_event: called with every event as it comes (e.g. to print tokens).
            **kwargs: ``history``, ``options``, ``caller`` of :meth:`ask`.

        Raises:
            What :meth:`ask` raises.
        """
        fold = AnswerFold(question)
        for event in self.ask(question, collection, **kwargs):  # type: ignore[arg-type]
            if on_event is not None:
                on_event(event)
            fold.add(event)
        return fold.result()

    # ----------------------------------------------------------------- writing
    def ingest(
        self,
        name: str,
        data: bytes,
        collection: str | None = None,
        *,
        password: str | None = None,
        progress: ProgressCallback | None = None,
        lock_timeout_s: float = 0.0,
        caller: Caller | None = None,
    ) -> IngestResult:
        """Ingest one file now (in this thread); see :meth:`KnowledgeBase.ingest_bytes`.

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring.
            StoreBusyError, PasswordRequiredError, WrongPasswordError: see
                :meth:`~rag_core.ingestion.pipeline.IngestPipeline.ingest`.
        """
        kb = self._open(collection, caller, Action.WRITE, create=True)
        return kb.ingest_bytes(
            name, data, password=password, progress=progress, lock_timeout_s=lock_timeout_s
        )

    def ingest_path(
        self,
        path: Path,
        collection: str | None = None,
        *,
        password: str | None = None,
        progress: ProgressCallback | None = None,
        caller: Caller | None = None,
    ) -> IngestResult:
        """:meth:`ingest` of a file on disk; see :meth:`KnowledgeBase.ingest_path`.

        A file that cannot be read is a failed result, not an exception.

        Raises:
            What :meth:`ingest` raises.
        """
        kb = self._open(collection, caller, Action.WRITE, create=True)
        return kb.ingest_path(path, password=password, progress=progress)

    def job_queue(self) -> JobQueue:
        """The durable ingest queue of the data directory, opened once (no permission check).

        See :mod:`rag_core.ingest_queue`; its worker opens each collection with
        :meth:`knowledge_base`.

        Raises:
            RagError: the queue's files cannot be opened.
        """
        with self._lock:
            if self._job_queue is None:
                self._job_queue = JobQueue(self.settings, self.knowledge_base)
            return self._job_queue

    def queue(self, collection: str | None = None) -> IngestQueue:
        """The background ingest queue of ``collection`` (no permission check).

        A view of :meth:`job_queue`, whose jobs every process and session shares.
        """
        kb = self.knowledge_base(collection)
        with self._lock:
            name = kb.settings.collection
            if name not in self._queues:
                self._queues[name] = IngestQueue(self.job_queue(), name)
            return self._queues[name]

    def resume_jobs(self) -> int:
        """Take up the files a stopped or killed app or CLI left in the queue.

        Called when the app starts and by the CLI; the worker runs in the background.

        Returns:
            The number of files left to do (0: nothing to resume).

        Raises:
            RagError: the queue's files cannot be opened.
        """
        queue = self.job_queue()
        left = queue.unfinished()
        if left:
            logger.info("resuming %d unfinished ingest jobs", left)
            queue.start()
        return left

    def jobs(
        self, collection: str | None = None, *, caller: Caller | None = None
    ) -> list[IngestJob]:
        """The recorded ingest jobs, of every collection ``caller`` may read or of one.

        Args:
            collection: one collection; None: all.
            caller: who asks.

        Returns:
            Job snapshots in submission order (finished ones too, newest 500 kept).

        Raises:
            CollectionNotFoundError: ``collection`` does not exist for the caller.
        """
        if collection is not None:
            name = self.settings_for(collection).collection
            self.access.require(caller, name, Action.READ)
            return self.job_queue().jobs(name)
        jobs = self.job_queue().jobs()
        allowed = set(self.access.readable(caller, sorted({job.collection for job in jobs})))
        return [job for job in jobs if job.collection in allowed]

    def cancel_job(self, job_id: str, *, caller: Caller | None = None) -> str:
        """Cancel a queued or running ingest job (from any process); see :meth:`JobQueue.cancel`.

        Returns:
            ``"cancelled"``, ``"cancelling"`` (the worker stops it at its next page or
            batch) or the status of a job that had already finished.

        Raises:
            CollectionNotFoundError: no such job (for the caller).
            PermissionDeniedError: the caller may not write to the job's collection.
        """
        queue = self.job_queue()
        job = queue.get(job_id)
        if job is None:
            raise CollectionNotFoundError(f"no ingest job '{job_id}'")
        try:
            self.access.require(caller, job.collection, Action.WRITE)
        except CollectionNotFoundError as exc:
            raise CollectionNotFoundError(f"no ingest job '{job_id}'") from exc
        return queue.cancel(job_id)

    def submit(
        self,
        key: str,
        name: str,
        data: bytes,
        collection: str | None = None,
        *,
        password: str | None = None,
        caller: Caller | None = None,
    ) -> IngestJob:
        """Queue one file for background ingest under the job ``key``; return its job.

        The job is recorded and the file spooled in the data directory before work starts,
        so it survives a restart (:mod:`rag_core.ingest_queue`); the password does not. A
        file that cannot be read at all is finished at once with its error; a key already
        queued returns that job.

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring.
            RagError: the job could not be recorded.
        """
        kb = self._open(collection, caller, Action.WRITE, create=True)
        return self.job_queue().submit(kb.settings.collection, key, name, data, password)

    def job(
        self, key: str, collection: str | None = None, *, caller: Caller | None = None
    ) -> IngestJob | None:
        """The background job ``key`` of ``collection`` (None if unknown).

        Raises:
            CollectionNotFoundError: see the module docstring.
        """
        kb = self._open(collection, caller, Action.READ)
        queue = self.job_queue()
        return queue.by_key(kb.settings.collection, key) or _in(queue.get(key), kb)

    def delete_document(
        self,
        document_id: str,
        collection: str | None = None,
        *,
        lock_timeout_s: float = 0.0,
        caller: Caller | None = None,
    ) -> list[DocumentRecord]:
        """Delete a document by id (sha256) or file name; return the records deleted.

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring.
            StoreBusyError: another process is writing to the store.
        """
        kb = self._open(collection, caller, Action.WRITE)
        return kb.delete(document_id, lock_timeout_s=lock_timeout_s)

    def switch_model(
        self,
        model: str,
        collection: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        download: DownloadProgress | None = None,
        cancel: threading.Event | None = None,
        drop_grace_s: float = DROP_GRACE_S,
        caller: Caller | None = None,
    ) -> int:
        """Switch ``collection`` to the embedding model ``model`` without downtime.

        The model is downloaded first if it is not here (``download`` sees the bytes),
        its backend chosen as for the configured model (``embedding_backend``), then the
        new index is built beside the old one, which answers until the atomic swap
        (:func:`rag_core.ingestion.model_switch.switch_model`).

        Args:
            model: a hub id ("intfloat/multilingual-e5-small") or a local directory.
            collection: the collection (the default one if None).
            progress: called with the build's progress events.
            download: called with (bytes done, bytes in all) while the model downloads.
            cancel: set it to stop the build (a later call resumes it).
            drop_grace_s: seconds the old vectors are kept after the swap.
            caller: who asks (an editor of the collection).

        Returns:
            The number of chunks embedded by this call.

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring.
            ModelUnavailableError: the model is not here and cannot be downloaded.
            SwitchCancelledError: ``cancel`` was set.
            StoreBusyError, RagError: the store is busy or failed.
        """
        settings = self.settings_for(collection)
        self.access.require(caller, settings.collection, Action.WRITE)
        ensure_model(model, download)
        target = resolve_embedding_backend(settings.model_copy(update={"embedding_model": model}))
        identity = embedding_identity(model, target.embedding_backend)
        configured = resolve_embedding_backend(settings)
        if identity == embedding_identity(configured.embedding_model, configured.embedding_backend):
            embeddings = self.embeddings
        else:
            embeddings = embeddings_for_identity(identity, batch_size=settings.embedding_batch_size)
        return switch_model(
            settings,
            embeddings,
            identity,
            progress=progress,
            cancel=cancel,
            drop_grace_s=drop_grace_s,
        )

    # ------------------------------------------------------------- folder sync
    def sync_folder(
        self,
        directory: Path | str,
        collection: str | None = None,
        *,
        dry_run: bool = False,
        caller: Caller | None = None,
        progress: SyncProgress | None = None,
        lock_timeout_s: float = 0.0,
    ) -> SyncReport:
        """Make ``collection`` hold the supported files of ``directory`` (subfolders too).

        New files are ingested, changed ones (content hash) replaced once their new
        version is complete, files gone from the folder have their documents removed;
        only documents that came from this folder are ever removed or replaced (see
        :mod:`rag_core.folder_sync`). Files go through :meth:`ingest` and
        :meth:`delete_document`, each waiting for another writer.

        Args:
            directory: the folder (a caller other than None, i.e. a signed-in user of a
                door, may only name one under the allowed roots:
                :func:`~rag_core.folder_sync.check_sync_folder`).
            collection: the collection (the default one if None).
            dry_run: only plan: report what would happen, change nothing.
            caller: who asks (must be able to write).
            progress: told about each file applied.
            lock_timeout_s: seconds to wait for another sync of this data directory.

        Returns:
            The report (every file's action and, unless a dry run, its outcome).

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring;
                PermissionDeniedError also for a folder outside the allowed roots.
            RagError: the folder cannot be listed.
            StoreBusyError: another sync is running.
        """
        name = self.settings_for(collection).collection
        if caller is not None:
            folder = check_sync_folder(self.settings, directory)
        else:
            folder = Path(directory).expanduser().resolve()
        state = sync_state(self.settings)
        if dry_run:
            if self._exists(name):
                documents = self._open(name, caller, Action.WRITE).documents()
            else:  # a dry run creates no collection
                self.access.require(caller, name, Action.WRITE)
                documents = []
            return plan_sync(folder, name, state, documents)
        kb = self._open(name, caller, Action.WRITE, create=True)
        with sync_lock(self.settings, timeout_s=lock_timeout_s):
            plan = plan_sync(folder, name, state, kb.documents())
            writer = _SyncWriter(self, name, caller)
            return apply_sync(plan, folder, state, writer, progress=progress)

    def sync_folder_setting(
        self, collection: str | None = None, *, caller: Caller | None = None
    ) -> tuple[str | None, SyncReport | None]:
        """The folder the app keeps ``collection`` in step with, and its last report.

        Raises:
            CollectionNotFoundError: see the module docstring.
        """
        name = self.settings_for(collection).collection
        self.access.require(caller, name, Action.READ)
        state = sync_state(self.settings)
        return state.folder(name), state.last_report(name)

    def set_sync_folder(
        self,
        directory: Path | str | None,
        collection: str | None = None,
        *,
        caller: Caller | None = None,
    ) -> str | None:
        """Set (None: clear) the server folder the app keeps ``collection`` in step with.

        Only a folder under the allowed roots
        (:func:`~rag_core.folder_sync.check_sync_folder`), whoever asks: a web user must
        not read arbitrary server files into a collection. Clearing removes nothing.

        Returns:
            The folder saved (absolute, resolved), or None.

        Raises:
            CollectionNotFoundError, PermissionDeniedError: see the module docstring;
                PermissionDeniedError also for a folder outside the allowed roots.
            RagError: it is not a folder.
        """
        name = self._open(collection, caller, Action.WRITE, create=True).settings.collection
        folder = None if directory is None else str(check_sync_folder(self.settings, directory))
        sync_state(self.settings).set_folder(name, folder)
        return folder

    def sync_saved_folder(
        self,
        collection: str | None = None,
        *,
        caller: Caller | None = None,
        progress: SyncProgress | None = None,
        lock_timeout_s: float = 0.0,
    ) -> SyncReport | None:
        """Sync ``collection`` with its saved folder (:meth:`set_sync_folder`); keep the report.

        The folder is checked against the allowed roots again (they may have changed).

        Returns:
            The report, or None when no folder is set.

        Raises:
            What :meth:`sync_folder` and :meth:`set_sync_folder` raise.
        """
        name = self.settings_for(collection).collection
        self.access.require(caller, name, Action.WRITE)
        state = sync_state(self.settings)
        directory = state.folder(name)
        if directory is None:
            return None
        folder = check_sync_folder(self.settings, directory)
        report = self.sync_folder(
            folder, name, caller=caller, progress=progress, lock_timeout_s=lock_timeout_s
        )
        state.save_report(name, report)
        return report

    def saved_sync_folders(self) -> dict[str, Path]:
        """Every collection's saved folder (for the app's background sync; no check)."""
        return {name: Path(folder) for name, folder in sync_state(self.settings).folders().items()}

    # ---------------------------------------------------------------- internal
    def _open(
        self, collection: str | None, caller: Caller | None, action: Action, create: bool = False
    ) -> KnowledgeBase:
        """The knowledge base of ``collection`` once ``caller`` may do ``action`` on it.

        Only writing creates a collection: reading one that is not in the store (other
        than the configured default, which the app shows empty) raises, so a door answers
        404 rather than making an empty collection of a mistyped name.
        """
        name = self.settings_for(collection).collection
        if create and self.access.enabled and caller is not None:
            self.access.created(caller, name)  # no-op unless the collection is new
        self.access.require(caller, name, action)
        if not create and not self._exists(name):
            raise CollectionNotFoundError(f"no collection named '{name}'")
        return self.knowledge_base(name)

    def _exists(self, name: str) -> bool:
        with self._lock:
            if name in self._kbs or name == self.settings.collection:
                return True
        return name in list_collections(self.settings)

    def _retriever(
        self, kbs: Sequence[KnowledgeBase], *, k: int | None, mode: RetrievalMode | None = None
    ) -> BaseRetriever:
        """One collection's retriever, or several fused by reciprocal rank fusion."""
        top_k = k or self.settings.top_k
        if len(kbs) == 1:
            return kbs[0].retriever(k=top_k, mode=mode)
        return MultiCollectionRetriever(
            retrievers={kb.settings.collection: kb.retriever(k=top_k, mode=mode) for kb in kbs},
            k=top_k,
            rrf_k=self.settings.rrf_k,
        )

    def _chain(self, kbs: Sequence[KnowledgeBase], *, k: int | None, model: str) -> RagChain:
        llm = build_chat_model(self.settings, model=model)
        options = ChainOptions.from_settings(self.settings)
        return build_rag_chain(self._retriever(kbs, k=k), llm, options)


@dataclass(frozen=True)
class _SyncWriter:
    """A folder sync's writes, through the engine (same checks, same pipeline)."""

    engine: Engine
    collection: str
    caller: Caller | None

    def ingest(self, name: str, data: bytes) -> IngestResult:
        return self.engine.ingest(
            name, data, self.collection, lock_timeout_s=WRITE_LOCK_WAIT_S, caller=self.caller
        )

    def delete(self, name: str) -> int:
        removed = self.engine.delete_document(
            name, self.collection, lock_timeout_s=WRITE_LOCK_WAIT_S, caller=self.caller
        )
        return len(removed)


def _in(job: IngestJob | None, kb: KnowledgeBase) -> IngestJob | None:
    """``job`` if it ingests into ``kb``'s collection (a job looked up by its id)."""
    return job if job is not None and job.collection == kb.settings.collection else None


__all__ = ["AskOptions", "Engine", "SearchHits"]
