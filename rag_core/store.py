"""The Chroma collection of chunks and the registry of documents.

* Chunks live in a persistent Chroma collection (``langchain-chroma`` over
  ``chromadb.PersistentClient``) in cosine space, telemetry off. The embedding model's name
  and dimension are kept in the collection metadata, so a store built with another model
  is detected when it is opened, not at query time.
* The documents (name, sha256, pages, chunks, date, status) are records of a second
  Chroma collection, ``<collection>.registry`` (:class:`DocumentRegistry`), so app
  instances sharing a Chroma server share the list. A document is ``complete`` only once
  all of its chunks are stored.
* One writer process at a time: :func:`write_lock` holds a ``filelock`` lock on the data
  directory (Chroma is not process-safe for concurrent writers).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import filelock
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag_core.config import REGISTRY_SUFFIX
from rag_core.errors import (
    CollectionDeletedError,
    EmbeddingModelMismatchError,
    StoreBusyError,
    StoreUnavailableError,
)

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
    """The list of a collection's documents, kept in a Chroma collection of its own.

    One record per document in ``<collection>.registry`` (id = sha256, the fields of
    :class:`DocumentRecord` as metadata, a constant 1-dimensional vector since Chroma
    stores one per record), plus one ``version`` record that every change replaces with a
    fresh random token. Living in Chroma, the list is shared by every app instance that
    uses the same Chroma server, and the version tells an instance cheaply (one ``get``
    by id) that another one changed the documents, so it can bring its BM25 index up to
    date (:meth:`rag_core.keyword.KeywordIndex.search`).

    Args:
        client: the Chroma client (persistent or HTTP).
        collection: the name of the chunk collection whose documents this lists.

    Raises:
        StoreUnavailableError: the Chroma server stopped answering.
    """

    def __init__(self, client: chromadb.ClientAPI, collection: str) -> None:
        """Open (and create) ``<collection>.registry``."""
        self.collection = collection
        self.name = registry_collection_name(collection)
        try:
            self._collection = client.get_or_create_collection(
                self.name, embedding_function=None, metadata={"hnsw:space": "l2"}
            )
        except Exception as exc:
            raise _unavailable(exc) from exc

    def upsert(self, record: DocumentRecord) -> None:
        """Insert or replace the record of ``record.sha256``."""
        meta = {k: v for k, v in record.to_dict().items() if k != "sha256"}
        self._call(
            self._collection.upsert,
            ids=[record.sha256],
            embeddings=[[0.0]],
            metadatas=[{"kind": "document", **meta}],
        )
        self._bump()

    def remove(self, sha256: str) -> None:
        """Delete the record of ``sha256`` (no error if absent)."""
        self._call(self._collection.delete, ids=[sha256])
        self._bump()

    def list(self, *, include_incomplete: bool = False) -> list[DocumentRecord]:
        """Return the documents, newest first; only complete ones unless asked."""
        where: dict[str, Any] = {"kind": "document"}
        if not include_incomplete:
            where = {"$and": [where, {"status": STATUS_COMPLETE}]}
        records = self._records(where=where)
        records.sort(key=lambda r: r.name)
        records.sort(key=lambda r: r.added_at, reverse=True)
        return records

    def incomplete(self) -> list[str]:
        """Return the sha256s of the documents that are not complete.

        Those are being indexed now or were left half-indexed by an ingest that was killed
        (one filtered ``get`` on the registry collection, about 1 ms).
        """
        where = {"$and": [{"kind": "document"}, {"status": STATUS_INDEXING}]}
        return [r.sha256 for r in self._records(where=where)]

    def get(self, sha256: str) -> DocumentRecord | None:
        """Return the record of ``sha256`` whatever its status, or None."""
        found = self._records(ids=[sha256])
        return found[0] if found else None

    def find_by_name(self, name: str) -> list[DocumentRecord]:
        """Return every record (any status) whose display name is ``name``."""
        return self._records(where={"$and": [{"kind": "document"}, {"name": name}]})

    def version(self) -> str:
        """Return a token that changes whenever a record is added, changed or removed."""
        got = self._call(self._collection.get, ids=[_VERSION_ID], include=["metadatas"])
        metas = got["metadatas"] or []
        return str(metas[0]["token"]) if metas and metas[0] else ""

    def _bump(self) -> None:
        self._call(
            self._collection.upsert,
            ids=[_VERSION_ID],
            embeddings=[[0.0]],
            metadatas=[{"kind": "version", "token": uuid.uuid4().hex}],
        )

    def _records(self, **query: Any) -> list[DocumentRecord]:
        got = self._call(self._collection.get, include=["metadatas"], **query)
        records = []
        for sha256, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
            if not meta or meta.get("kind") != "document":
                continue
            fields = {k: meta[k] for k in _RECORD_FIELDS if k in meta}
            records.append(DocumentRecord(sha256=sha256, **fields))
        return records

    def _call(self, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except NotFoundError as exc:
            raise collection_deleted(self.collection) from exc
        except (ValueError, TypeError):
            raise
        except Exception as exc:  # httpx / chromadb errors of a server that went away
            raise _unavailable(exc) from exc


_VERSION_ID = "version"
"""Id of the registry record whose token changes with every change of the list."""
_RECORD_FIELDS = ("name", "pages", "chunks", "added_at", "status", "empty_pages")


def registry_collection_name(collection: str) -> str:
    """Return the name of the Chroma collection listing the documents of ``collection``."""
    return f"{collection}{REGISTRY_SUFFIX}"


def collection_deleted(collection: str) -> CollectionDeletedError:
    """Return the error for a collection deleted while it was open."""
    return CollectionDeletedError(
        f"the collection '{collection}' was deleted (by another user or process): "
        "pick another collection"
    )


def _unavailable(exc: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(f"the Chroma store stopped answering: {exc}")


def import_legacy_registry(path: Path, registry: DocumentRegistry) -> int:
    """Move the document list of an earlier version (SQLite) into the Chroma registry.

    Earlier versions listed documents in ``documents.sqlite3`` beside the store. Its rows
    are copied into ``registry`` (when that is still empty) and the file is renamed to
    ``documents.sqlite3.imported``, so the import runs once.

    Args:
        path: the old SQLite file (nothing happens if it does not exist).
        registry: the collection's registry.

    Returns:
        The number of documents imported.
    """
    if not path.exists():
        return 0
    imported = 0
    if not registry.list(include_incomplete=True):
        db = sqlite3.connect(path)
        try:
            rows = db.execute(
                "SELECT sha256, name, pages, chunks, added_at, status, empty_pages FROM documents"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            logger.warning("cannot read the old document list %s: %s", path, exc)
            rows = []
        finally:
            db.close()
        for row in rows:
            registry.upsert(DocumentRecord(*row))
        imported = len(rows)
    path.rename(path.with_name(path.name + ".imported"))
    logger.info("imported %d documents from %s", imported, path)
    return imported


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
