"""The Chroma collection of chunks and the registry of documents.

* Chunks live in a persistent Chroma collection (``langchain-chroma`` over
  ``chromadb.PersistentClient``) in cosine space, telemetry off. The embedding model's name
  and dimension are kept in the collection metadata, so a store built with another model
  is detected when it is opened, not at query time.
* The documents (name, sha256, pages, chunks, date, status) are rows of a small SQLite
  registry beside it. A document is ``complete`` only once all of its chunks are stored.
* One writer process at a time: :func:`write_lock` holds a ``filelock`` lock on the data
  directory (Chroma is not process-safe for concurrent writers).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import filelock
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.errors import EmbeddingModelMismatchError, StoreBusyError, StoreUnavailableError

logger = logging.getLogger(__name__)

STATUS_INDEXING = "indexing"
STATUS_COMPLETE = "complete"


@dataclass
class DocumentRecord:
    """One indexed (or being indexed) document.

    Attributes:
        sha256: hex digest of the file's bytes; the document's key.
        name: display name of the file.
        pages: pages in the file.
        chunks: chunks stored for it.
        added_at: ISO-8601 UTC time it was (re)indexed.
        status: ``"indexing"`` until all chunks are stored, then ``"complete"``.
        empty_pages: comma-separated 1-based pages without text ("" if none).
    """

    sha256: str
    name: str
    pages: int
    chunks: int
    added_at: str
    status: str
    empty_pages: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return asdict(self)


class DocumentRegistry:
    """SQLite table of documents (stdlib ``sqlite3``; one connection per call)."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the registry at ``path``."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS documents (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL,"
                " pages INTEGER NOT NULL, chunks INTEGER NOT NULL, added_at TEXT NOT NULL,"
                " status TEXT NOT NULL, empty_pages TEXT NOT NULL DEFAULT '')"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def upsert(self, record: DocumentRecord) -> None:
        """Insert or replace the row of ``record.sha256``."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.sha256,
                    record.name,
                    record.pages,
                    record.chunks,
                    record.added_at,
                    record.status,
                    record.empty_pages,
                ),
            )

    def remove(self, sha256: str) -> None:
        """Delete the row of ``sha256`` (no error if absent)."""
        with self._connect() as db:
            db.execute("DELETE FROM documents WHERE sha256 = ?", (sha256,))

    def list(self, *, include_incomplete: bool = False) -> list[DocumentRecord]:
        """Return the documents, newest first; only complete ones unless asked."""
        query = "SELECT * FROM documents"
        if not include_incomplete:
            query += f" WHERE status = '{STATUS_COMPLETE}'"
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY added_at DESC, name").fetchall()
        return [DocumentRecord(*row) for row in rows]

    def get(self, sha256: str) -> DocumentRecord | None:
        """Return the row of ``sha256`` whatever its status, or None."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return DocumentRecord(*row) if row else None

    def find_by_name(self, name: str) -> list[DocumentRecord]:
        """Return every row (any status) whose display name is ``name``."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM documents WHERE name = ?", (name,)).fetchall()
        return [DocumentRecord(*row) for row in rows]


def now_iso() -> str:
    """Current UTC time as ISO-8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_chroma_client(path: Path, url: str = "") -> chromadb.ClientAPI:
    """Open the Chroma client: embedded on disk at ``path``, or a Chroma server at ``url``.

    Telemetry is off in both modes. A server is started with
    ``chroma run --path DIR --host 127.0.0.1 --port 8000`` (shipped with chromadb,
    https://docs.trychroma.com/docs/run-chroma/client-server).

    Args:
        path: directory of the embedded store (used when ``url`` is "").
        url: e.g. "http://127.0.0.1:8000" or "https://chroma.example:443".

    Raises:
        StoreUnavailableError: the URL is malformed or no Chroma server answers there.
    """
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not url:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreUnavailableError(f"RAG_CHROMA_URL must look like http://HOST:PORT, not {url!r}")
    ssl = parsed.scheme == "https"
    port = parsed.port or (443 if ssl else 8000)
    try:
        return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=ssl, settings=settings)
    except Exception as exc:  # chromadb raises ValueError or httpx errors
        raise StoreUnavailableError(
            f"no Chroma server answers at {url}: start one with "
            f"`chroma run --path DIR --host {parsed.hostname} --port {port}`, "
            "or unset RAG_CHROMA_URL to use the local store"
        ) from exc


def build_vector_store(
    client: chromadb.ClientAPI,
    collection: str,
    embeddings: Embeddings,
    *,
    model_name: str,
    dimension: int,
) -> Chroma:
    """Open (or create) the chunk collection and check it matches the embedding model.

    Args:
        client: a Chroma client (persistent or HTTP).
        collection: collection name.
        embeddings: the embedding function for queries and new chunks.
        model_name: the configured embedding model name, kept in collection metadata.
        dimension: its vector length, kept in collection metadata.

    Returns:
        The LangChain Chroma vector store (cosine space, relevance = 1 - distance).

    Raises:
        EmbeddingModelMismatchError: the collection holds vectors of another model or
            dimension; re-index into a new collection or switch the model back.
    """
    existing = {c.name for c in client.list_collections()}
    if collection in existing:
        meta = client.get_collection(collection).metadata or {}
        stored_model = meta.get("embedding_model")
        stored_dim = meta.get("embedding_dim")
        if (stored_dim is not None and int(stored_dim) != dimension) or (
            stored_model is not None and stored_model != model_name
        ):
            raise EmbeddingModelMismatchError(
                f"collection '{collection}' was built with {stored_model} "
                f"({stored_dim} dimensions) "
                f"but the configured model is {model_name} ({dimension} dimensions): re-index the "
                "documents into a new collection (the Re-index button on the Documents page, "
                "or `python -m rag_core reindex`), or switch the embedding model back"
            )
    return Chroma(
        client=client,
        collection_name=collection,
        embedding_function=embeddings,
        collection_metadata={
            "hnsw:space": "cosine",
            "embedding_model": model_name,
            "embedding_dim": dimension,
        },
    )


def upsert_chunks(
    store: Chroma, chunks: Sequence[Document], vectors: Sequence[Sequence[float]]
) -> None:
    """Write chunks with precomputed vectors, in batches under Chroma's maximum batch size.

    Args:
        store: the vector store.
        chunks: Documents whose ``id`` is set (see :func:`rag_core.splitting.split_pages`).
        vectors: one embedding per chunk, same order.

    Raises:
        ValueError: lengths differ or a chunk has no id.
    """
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    collection = store._collection
    limit = store._client.get_max_batch_size()
    for start in range(0, len(chunks), limit):
        batch = chunks[start : start + limit]
        ids = [c.id for c in batch]
        if any(i is None for i in ids):
            raise ValueError("every chunk needs an id")
        collection.upsert(
            ids=[str(i) for i in ids],
            documents=[c.page_content for c in batch],
            metadatas=[_flat_metadata(c.metadata) for c in batch],
            embeddings=[list(v) for v in vectors[start : start + limit]],
        )


def delete_document_chunks(store: Chroma, sha256: str) -> None:
    """Delete every chunk of the document with ``sha256`` from the collection."""
    store._collection.delete(where={"sha256": sha256})


def count_document_chunks(store: Chroma, sha256: str) -> int:
    """Return how many chunks of ``sha256`` the collection holds."""
    got = store._collection.get(where={"sha256": sha256}, include=[])
    return len(got["ids"])


def iter_stored_chunks(
    collection: chromadb.Collection, batch_size: int = 1000
) -> Iterator[list[Document]]:
    """Yield every chunk of a Chroma collection (text, metadata, id), ``batch_size`` at a time.

    The vectors are not read: this is for re-embedding the texts with another model.

    Args:
        collection: a raw Chroma collection (no embedding function needed).
        batch_size: chunks per ``get`` call (``limit``/``offset`` paging).

    Yields:
        Lists of at most ``batch_size`` Documents with ``id`` set.
    """
    offset = 0
    while True:
        got = collection.get(limit=batch_size, offset=offset, include=["documents", "metadatas"])
        ids = got["ids"]
        if not ids:
            return
        texts = got["documents"] or [""] * len(ids)
        metas = got["metadatas"] or [{}] * len(ids)
        yield [
            Document(id=i, page_content=t or "", metadata=dict(m or {}))
            for i, t, m in zip(ids, texts, metas, strict=True)
        ]
        offset += len(ids)


def _flat_metadata(meta: dict[str, Any]) -> dict[str, str | int | float | bool]:
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}


@contextlib.contextmanager
def write_lock(lock_path: Path, *, timeout_s: float = 0.0) -> Iterator[None]:
    """Hold the store's single-writer lock (``filelock.FileLock``).

    Args:
        lock_path: the lock file.
        timeout_s: seconds to wait for another writer; 0 fails at once.

    Raises:
        StoreBusyError: another process is writing to the store.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path), thread_local=False)
    try:
        lock.acquire(timeout=timeout_s)
    except filelock.Timeout as exc:
        raise StoreBusyError(
            f"another process is writing to the store at {lock_path.parent}: "
            "wait for it to finish and try again"
        ) from exc
    try:
        yield
    finally:
        lock.release()
