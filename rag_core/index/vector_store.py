"""The Chroma collection of chunks, through chromadb's public API.

* Chunks live in a Chroma collection in cosine space (embedded ``PersistentClient`` on
  disk, or a Chroma server through ``HttpClient``), telemetry off. The embedding model's
  identity and dimension are kept in the collection metadata, so a store built with another
  model is detected when it is opened, not at query time.
* Writes are upserts of content-derived ids (:func:`rag_core.ingestion.splitting.chunk_id`),
  in batches under ``client.get_max_batch_size()``.

API: https://docs.trychroma.com/reference/python/client and .../collection.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from langchain_core.documents import Document

from rag_core.errors import (
    CollectionDeletedError,
    EmbeddingModelMismatchError,
    StoreUnavailableError,
)


def collection_deleted(collection: str) -> CollectionDeletedError:
    """Return the error for a collection deleted while it was open."""
    return CollectionDeletedError(
        f"the collection '{collection}' was deleted (by another user or process): "
        "pick another collection"
    )


def store_unavailable(exc: Exception) -> StoreUnavailableError:
    """Return the error for a Chroma server that stopped answering (``exc``: the cause)."""
    return StoreUnavailableError(f"the Chroma store stopped answering: {exc}")


_OPEN_LOCK = threading.Lock()
"""Serialises opening embedded clients: chromadb 1.5's ``SharedSystemClient`` creates the
one system per path with an unguarded check-then-set, so threads opening the same new path
at once each start a system on the same files, and all of them failed when four tried
(tests/rag_core/index/test_chroma_modes.py)."""


def build_chroma_client(path: Path, url: str = "") -> chromadb.ClientAPI:
    """Open the Chroma client: embedded on disk at ``path``, or a Chroma server at ``url``.

    Telemetry is off in both modes. Embedded clients of one path share one system (one
    per process, chromadb's ``SharedSystemClient``), opened one thread at a time
    (:data:`_OPEN_LOCK`). A server is started with
    ``chroma run --path DIR --host 127.0.0.1 --port 8000`` (shipped with chromadb,
    https://docs.trychroma.com/docs/run-chroma/client-server).

    Args:
        path: directory of the embedded store (used when ``url`` is "").
        url: e.g. "http://127.0.0.1:8000" or "https://chroma.example:443".

    Raises:
        StoreUnavailableError: the local store cannot be opened (a damaged or unreadable
            ``chroma.sqlite3``), or the URL is malformed or no Chroma server answers there.
    """
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not url:
        path.mkdir(parents=True, exist_ok=True)
        with _OPEN_LOCK:
            try:
                return chromadb.PersistentClient(path=str(path), settings=settings)
            except Exception as exc:  # chromadb raises ValueError, RuntimeError, its own errors
                raise StoreUnavailableError(
                    f"cannot open the local store in {path}: {exc}"
                ) from exc
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


class VectorStore:
    """One chunk collection: its vectors, texts and metadata (chromadb ``Collection``).

    Opening checks that the collection was built with the configured embedding model:
    the model identity and dimension are kept in the collection metadata. The dimension
    is asked for only when the collection does not exist yet or records one, and is
    given as a callable so that opening an existing store with the right model name never
    loads the model.

    Args:
        client: a Chroma client (persistent or HTTP).
        name: the collection name.
        model_name: the embedding model identity
            (:func:`rag_core.index.embeddings.embedding_identity`).
        dimension: returns the model's vector length (e.g. 384).
        physical: the Chroma collection holding the vectors, when it is not ``name``
            (after an embedding-model switch, :mod:`rag_core.index.vectors`).

    Raises:
        EmbeddingModelMismatchError: the collection holds vectors of another model or
            dimension; re-index into a new collection or switch the model back.
    """

    def __init__(
        self,
        client: chromadb.ClientAPI,
        name: str,
        *,
        model_name: str,
        dimension: Callable[[], int],
        physical: str | None = None,
    ) -> None:
        """Open (or create) the collection ``name``."""
        self.client = client
        self.name = name
        physical = physical or name
        existing = {c.name for c in client.list_collections()}
        if physical in existing:
            collection = client.get_collection(physical)
            meta = collection.metadata or {}
            stored_model = meta.get("embedding_model")
            stored_dim = meta.get("embedding_dim")
            if (stored_model is not None and stored_model != model_name) or (
                stored_dim is not None and int(stored_dim) != dimension()
            ):
                raise EmbeddingModelMismatchError(
                    f"collection '{name}' was built with {stored_model} "
                    f"({stored_dim} dimensions) but the configured model is {model_name} "
                    f"({dimension()} dimensions): "
                    "re-index the documents into a new collection (the Re-index button on "
                    "the Documents page, or `python -m rag_core reindex`), or switch the "
                    "embedding model back"
                )
            self.collection = collection
            return
        self.collection = client.get_or_create_collection(
            physical,
            embedding_function=None,
            metadata={
                "hnsw:space": "cosine",
                "embedding_model": model_name,
                "embedding_dim": dimension(),
            },
        )

    def count(self) -> int:
        """Return the number of chunks in the collection."""
        return int(self.collection.count())

    def chunk_ids(self, sha256: str) -> set[str]:
        """Return the ids of the stored chunks of the document ``sha256``."""
        return set(self.collection.get(where={"sha256": sha256}, include=[])["ids"])

    def document_chunks(self, sha256: str) -> list[tuple[str, str, dict[str, Any]]]:
        """Return ``(id, text, metadata)`` of every stored chunk of the document ``sha256``.

        Raises:
            CollectionDeletedError: the collection was deleted meanwhile.
        """
        try:
            got = self.collection.get(where={"sha256": sha256}, include=["documents", "metadatas"])
        except NotFoundError as exc:
            raise collection_deleted(self.name) from exc
        ids = got["ids"]
        texts = got["documents"] or [""] * len(ids)
        metas = got["metadatas"] or [{}] * len(ids)
        return [(i, t or "", dict(m or {})) for i, t, m in zip(ids, texts, metas, strict=True)]

    def upsert(self, chunks: Sequence[Document], vectors: Sequence[Sequence[float]]) -> None:
        """Write chunks with precomputed vectors, in batches under Chroma's maximum batch size.

        Args:
            chunks: n Documents whose ``id`` is set.
            vectors: n embeddings, same order.

        Raises:
            ValueError: lengths differ or a chunk has no id.
        """
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if any(c.id is None for c in chunks):
            raise ValueError("every chunk needs an id")
        limit = self.client.get_max_batch_size()
        for start in range(0, len(chunks), limit):
            batch = chunks[start : start + limit]
            self.collection.upsert(
                ids=[str(c.id) for c in batch],
                documents=[c.page_content for c in batch],
                metadatas=[_flat_metadata(c.metadata) for c in batch],
                embeddings=[list(v) for v in vectors[start : start + limit]],
            )

    def delete_document(self, sha256: str) -> None:
        """Delete every chunk of the document ``sha256``."""
        self.collection.delete(where={"sha256": sha256})


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
def run_chroma_server(path: Path, *, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Run ``chroma run`` (shipped with chromadb) on a free 127.0.0.1 port; yield its URL.

    For tests and benchmarks of the server mode, and for trying it by hand. The server is
    terminated when the block ends.

    Args:
        path: the server's data directory (``--path``).
        start_timeout_s: seconds to wait for its heartbeat (``/api/v2/heartbeat``).

    Yields:
        The server's URL, e.g. ``"http://127.0.0.1:41234"``.

    Raises:
        StoreUnavailableError: the server exited or did not answer in time.
    """
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [shutil.which("chroma") or "chroma", "run", "--path", str(path)]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise StoreUnavailableError(f"chroma run did not start at {url}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
