"""The document list of a collection, kept in Chroma so app instances share it.

The documents (name, sha256, pages, chunks, date, status, languages) are records of a
second Chroma collection, ``<collection>.registry`` (:class:`DocumentRegistry`), so app
instances sharing a Chroma server share the list. A document is ``complete`` only once all
of its chunks are stored.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chromadb
from chromadb.errors import NotFoundError

from rag_core.config import REGISTRY_SUFFIX
from rag_core.index.vector_store import collection_deleted, store_unavailable

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
        languages: comma-separated ISO 639-1 codes of the languages its text is in
            ("en", "ko", "en,ko"; :func:`rag_core.language.document_languages`),
            set at ingest; "" for documents indexed before languages were recorded
            (retrieval works them out from the stored chunks when it needs them).
    """

    sha256: str
    name: str
    pages: int
    chunks: int
    added_at: str
    status: str
    empty_pages: str = ""
    languages: str = ""

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
    date (:meth:`rag_core.index.keyword.KeywordIndex.search`).

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
            raise store_unavailable(exc) from exc

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

    def swap(self, record: DocumentRecord, retired: list[DocumentRecord]) -> None:
        """List ``record`` and hide the ``retired`` records in one write.

        A new version of a document becomes searchable and the old ones stop being so at
        the same moment: one ``upsert`` of every record (the retired ones marked
        ``indexing``, so retrieval hides them as it hides half-indexed documents) until
        their chunks are removed.

        Args:
            record: the new version, its status set (``complete``).
            retired: the versions it replaces.
        """
        hidden = [replace(old, status=STATUS_INDEXING) for old in retired]
        records = [record, *hidden]
        self._call(
            self._collection.upsert,
            ids=[r.sha256 for r in records],
            embeddings=[[0.0] for _ in records],
            metadatas=[
                {"kind": "document", **{k: v for k, v in r.to_dict().items() if k != "sha256"}}
                for r in records
            ],
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

    def upsert_many(self, records: Sequence[DocumentRecord], batch: int = 1000) -> None:
        """Insert or replace several records: one write per ``batch``, one version bump.

        A snapshot import lists hundreds of documents at once, and each single write to an
        embedded Chroma takes tens of milliseconds.

        Args:
            records: the records (any number).
            batch: records per write (under Chroma's maximum batch size, 5461).
        """
        for start in range(0, len(records), batch):
            part = records[start : start + batch]
            self._call(
                self._collection.upsert,
                ids=[r.sha256 for r in part],
                embeddings=[[0.0]] * len(part),
                metadatas=[
                    {"kind": "document", **{k: v for k, v in r.to_dict().items() if k != "sha256"}}
                    for r in part
                ],
            )
        if records:
            self._bump()

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
            raise store_unavailable(exc) from exc


_VERSION_ID = "version"
"""Id of the registry record whose token changes with every change of the list."""
_RECORD_FIELDS = (
    "name",
    "pages",
    "chunks",
    "added_at",
    "status",
    "empty_pages",
    "languages",
)


def registry_collection_name(collection: str) -> str:
    """Return the name of the Chroma collection listing the documents of ``collection``."""
    return f"{collection}{REGISTRY_SUFFIX}"


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
