"""Snapshots of a collection: one ZIP archive to back it up, move it or share it.

An archive (stdlib :mod:`zipfile`, ZIP64) holds everything a search needs, so an import
gives the same results as the source without embedding or analysing anything again:

* ``chunks/NNNNNN.jsonl``: one batch of chunks per member, a JSON object per line
  (``id``, ``text``, ``metadata``; the metadata carries each chunk's BM25 terms,
  :data:`~rag_core.index.chunks.TERMS_METADATA_KEY`);
* ``vectors/NNNNNN.npy``: the same batch's embeddings, float32 of shape
  (n_chunks, dimension), exactly as stored (NumPy's ``.npy`` format, read without pickle);
* ``documents.jsonl``: the document list (:class:`~rag_core.index.registry.DocumentRecord`);
* ``files/<sha256><suffix>`` and ``files/<sha256>.ocr.jsonl`` (optional): the original
  files and their OCR word boxes (:mod:`rag_core.index.files`);
* ``manifest.json``: the format and its version, the collection, the embedding model's
  identity and dimension as the collection records them, counts, and the size and sha256
  of every other member.

Writing streams: the store is read ``batch_size`` chunks at a time and each batch is
written as it comes. Importing checks the whole archive first (member names, sizes against
the manifest and against decompression bombs, every checksum, every line and array) and
writes nothing until it passes; then it writes into a staging collection
(``<random>-import``) that takes the target's name only when complete, so a failure at any
point leaves no partial collection; an import killed half-way is undone or finished by the
next one (:func:`recover_interrupted_imports`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.errors import ChromaError
from langchain_core.documents import Document

from rag_core.config import IMPORT_SUFFIX, Settings, check_collection_name
from rag_core.errors import RagError, SnapshotError
from rag_core.index.files import SUPPORTED_SUFFIXES, WORDS_SUFFIX, SourceFiles, words_path
from rag_core.index.keyword import KeywordIndex, StoreKeywordSource
from rag_core.index.locking import write_lock
from rag_core.index.registry import (
    STATUS_COMPLETE,
    DocumentRecord,
    DocumentRegistry,
    now_iso,
    registry_collection_name,
)
from rag_core.index.vector_store import VectorStore, build_chroma_client
from rag_core.index.vectors import vectors_collections

logger = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "rag-pdf-chat-snapshot"
"""The manifest's ``format``: what kind of archive this is."""
FORMAT_VERSION = 1
"""The manifest's ``version``; an archive of an unknown version is refused."""
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
BATCH_SIZE = 1000
"""Chunks per ``chunks/``/``vectors/`` member pair (and per read of the store)."""
MAX_MANIFEST_BYTES = 64 * 2**20
"""The largest manifest read, in bytes (about 150 bytes per member: 100,000 original files
take 15 MB)."""
MAX_RATIO = 100
"""Largest uncompressed / compressed size of a member over 1 MiB: JSON lines deflate about
5-10 times, floats hardly at all; a higher ratio is a decompression bomb."""
RATIO_FLOOR = 2**20
"""Members smaller than this (bytes) are not ratio-checked."""
COPY_BLOCK = 2**20
"""Bytes per read when hashing or copying a member."""
STAGING_DIR = ".imports"
"""Directory in the data directory where an import stages its files (one per import)."""
SWITCH_MARK = ".switch"
"""File in an import's staging directory, holding the target name, once the import is
complete and only the renames remain (a kill after it is finished on the next import)."""

_BATCH = r"[0-9]{6}"
_SHA = r"[0-9a-f]{64}"
_FILE_SUFFIX = "|".join(re.escape(s) for s in sorted(SUPPORTED_SUFFIXES))
_MEMBER = re.compile(
    rf"(chunks/{_BATCH}\.jsonl|vectors/{_BATCH}\.npy|{DOCUMENTS}"
    rf"|files/{_SHA}({_FILE_SUFFIX}|{re.escape(WORDS_SUFFIX)})?)"
)
"""Every member name an archive may hold besides the manifest (nothing else is read)."""
_RECORD_TYPES = {f.name: f.type for f in fields(DocumentRecord)}


@dataclass(frozen=True)
class SnapshotInfo:
    """What an archive holds (its manifest, checked).

    Attributes:
        collection: the name of the collection it was made from.
        embedding_model: the embedding identity its vectors were made with
            (:func:`rag_core.index.embeddings.embedding_identity`).
        embedding_dim: their dimension (e.g. 384).
        documents: documents in it.
        chunks: chunks in it.
        files: original files in it (0 when made without them).
        created_at: when it was made (ISO 8601, UTC).
        version: its format version.
    """

    collection: str
    embedding_model: str
    embedding_dim: int
    documents: int
    chunks: int
    files: int
    created_at: str
    version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return the info as a JSON-ready dict."""
        return asdict(self)


def recorded_embedding(store: VectorStore) -> tuple[str, int]:
    """The embedding identity and dimension the collection of ``store`` records.

    Read from the collection metadata (``embedding_model``, ``embedding_dim``) that
    :class:`~rag_core.index.vector_store.VectorStore` writes when it creates a collection.

    Raises:
        SnapshotError: the collection records no model (made by a very old version).
    """
    meta = store.collection.metadata or {}
    model, dim = meta.get("embedding_model"), meta.get("embedding_dim")
    if not model or not dim:
        raise SnapshotError(
            f"the collection '{store.name}' records no embedding model: re-index it first "
            "(`python -m rag_core reindex`)",
            "no_model",
            {"collection": store.name},
        )
    return str(model), int(dim)


# ------------------------------------------------------------------------------ export
def export_snapshot(
    store: VectorStore,
    registry: DocumentRegistry,
    target: Path,
    *,
    files: SourceFiles | None = None,
    lock_path: Path | None = None,
    lock_timeout_s: float = 0.0,
    batch_size: int = BATCH_SIZE,
) -> SnapshotInfo:
    """Write a snapshot of one collection to ``target`` (replaced atomically when done).

    Only complete documents and their chunks go in (a document being indexed is left out).
    The archive is written to a temporary file beside ``target`` and renamed into place,
    so a failed export leaves no half archive.

    Args:
        store: the collection's chunks.
        registry: its document list.
        target: the archive to write (e.g. ``backup.zip``).
        files: the collection's original files, to include them (None: leave them out).
        lock_path: the store's write lock, held while reading so no ingest changes the
            collection half-way (None: no lock).
        lock_timeout_s: seconds to wait for another writer.
        batch_size: chunks read from the store and written per member.

    Returns:
        What the archive holds.

    Raises:
        SnapshotError: the collection records no embedding model.
        StoreBusyError: another process is writing to the store.
        RagError: the store or the target cannot be read or written.
    """
    model, dim = recorded_embedding(store)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    lock = write_lock(lock_path, timeout_s=lock_timeout_s) if lock_path else _no_lock()
    try:
        with lock, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            writer = _ArchiveWriter(archive)
            records = registry.list()
            complete = {r.sha256 for r in records}
            chunks = 0
            for number, batch in enumerate(_stored_batches(store, complete, batch_size)):
                ids, texts, metas, vectors = batch
                lines = (
                    json.dumps({"id": i, "text": t, "metadata": m}, ensure_ascii=False)
                    for i, t, m in zip(ids, texts, metas, strict=True)
                )
                writer.write(f"chunks/{number:06d}.jsonl", _jsonl(lines))
                npy = io.BytesIO()
                np.save(npy, vectors, allow_pickle=False)
                writer.write(f"vectors/{number:06d}.npy", npy.getvalue(), zipfile.ZIP_STORED)
                chunks += len(ids)
            rows = (json.dumps(r.to_dict(), ensure_ascii=False) for r in records)
            writer.write(DOCUMENTS, _jsonl(rows))
            stored_files = _write_files(writer, files, records) if files is not None else 0
            info = SnapshotInfo(
                collection=store.name,
                embedding_model=model,
                embedding_dim=dim,
                documents=len(records),
                chunks=chunks,
                files=stored_files,
                created_at=now_iso(),
            )
            manifest = {"format": SNAPSHOT_FORMAT, **info.to_dict(), "members": writer.members}
            archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        os.replace(tmp, target)
    except (ChromaError, OSError) as exc:
        raise RagError(f"cannot write the snapshot {target.name}: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    logger.info("exported %s: %d documents, %d chunks", store.name, info.documents, chunks)
    return info


@contextlib.contextmanager
def _no_lock() -> Iterator[None]:
    yield


def _jsonl(lines: Iterator[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


class _ArchiveWriter:
    """Writes members and remembers each one's size and sha256 for the manifest."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.members: dict[str, dict[str, Any]] = {}

    def write(self, name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
        self.archive.writestr(name, data, compress_type=compress)
        self.members[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def copy(self, name: str, source: Path) -> None:
        digest, size = hashlib.sha256(), 0
        with source.open("rb") as src, self.archive.open(name, "w", force_zip64=True) as dst:
            while block := src.read(COPY_BLOCK):
                digest.update(block)
                size += len(block)
                dst.write(block)
        self.members[name] = {"size": size, "sha256": digest.hexdigest()}


def _stored_batches(
    store: VectorStore, complete: set[str], batch_size: int
) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]], np.ndarray]]:
    """The store's chunks of complete documents, in stored order, ``batch_size`` at a time.

    Yields:
        ``(ids, texts, metadatas, vectors)``; vectors float32 of shape (n, dim).
    """
    offset = 0
    include: Any = ["documents", "metadatas", "embeddings"]
    while True:
        got = store.collection.get(limit=batch_size, offset=offset, include=include)
        ids = got["ids"]
        if not ids:
            return
        offset += len(ids)
        metas = [dict(m or {}) for m in got["metadatas"] or [{}] * len(ids)]
        keep = [i for i, m in enumerate(metas) if m.get("sha256") in complete]
        if not keep:
            continue
        texts = got["documents"] or [""] * len(ids)
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        yield (
            [ids[i] for i in keep],
            [texts[i] or "" for i in keep],
            [metas[i] for i in keep],
            vectors[keep],
        )


def _write_files(writer: _ArchiveWriter, files: SourceFiles, records: list[DocumentRecord]) -> int:
    count = 0
    for record in records:
        stored = files.find(record.sha256)
        if stored is None:
            continue
        writer.copy(f"files/{stored.name}", stored)
        words = words_path(stored)
        if words.is_file():
            writer.copy(f"files/{words.name}", words)
        count += 1
    return count


# ------------------------------------------------------------------------------ import
def inspect_snapshot(source: Path) -> SnapshotInfo:
    """Check a whole archive without writing anything; return what it holds.

    Every member is read once: names, sizes and compression ratios against the manifest,
    every sha256, every chunk line, vector array and document row.

    Args:
        source: the archive.

    Returns:
        Its manifest's info.

    Raises:
        SnapshotError: not a snapshot archive, damaged or truncated, an unknown format
            version, or a member that is not what the manifest says.
    """
    with _open_archive(source) as reader:
        for _ in reader.batches():
            pass
        for _ in reader.files():
            pass
        return reader.info


def import_snapshot(
    source: Path,
    settings: Settings,
    *,
    name: str | None = None,
    model_name: str,
    dimension: int,
    lock_timeout_s: float = 0.0,
    authorize: Callable[[str], None] | None = None,
) -> SnapshotInfo:
    """Restore an archive as the collection ``name`` of the store of ``settings``.

    It is longer than 60 lines because the check, the staging writes and the switch must
    run in this order under one write lock, with one clean-up for every failure.

    The archive is checked whole first (:func:`inspect_snapshot`) and must have been made
    with ``model_name`` / ``dimension``; nothing is written before. Then chunks and
    vectors go into a staging collection, the document list into its registry and the
    files into a staging directory; only when all of it is written do they take the
    target's name (an empty collection of that name is replaced; a non-empty one is
    refused), and the keyword index takes the chunks' terms (:meth:`KeywordIndex.sync`).
    Any failure removes the staging collections and files.

    Args:
        source: the archive.
        settings: the target store (data directory, ``chroma_url``).
        name: the collection to create (the archive's own name if None).
        model_name: the identity of the target's embedding model
            (:func:`rag_core.index.embeddings.embedding_identity`).
        dimension: its vector length.
        lock_timeout_s: seconds to wait for another writer.
        authorize: called with the target name once the archive passed its checks and
            before anything is written; raises to refuse (e.g. a permission check).

    Returns:
        What was imported.

    Raises:
        SnapshotError: a damaged archive, another embedding model, a bad name, or a
            non-empty collection of that name.
        StoreBusyError: another process is writing to the store.
        StoreUnavailableError: the Chroma server cannot be reached.
        RagError: the store failed while writing (nothing is left of the import).
    """
    info = inspect_snapshot(source)
    target = _target_name(name or info.collection)
    if (info.embedding_model, info.embedding_dim) != (model_name, dimension):
        raise SnapshotError(
            f"{source.name} was made with the embedding model {info.embedding_model} "
            f"({info.embedding_dim} dimensions) but this store uses {model_name} "
            f"({dimension} dimensions): set RAG_EMBEDDING_MODEL and RAG_EMBEDDING_BACKEND "
            "to the archive's model to import it (then switch models with a re-index)",
            "model",
            {"archive": info.embedding_model, "configured": model_name},
        )
    if authorize is not None:
        authorize(target)
    target_settings = settings.model_copy(update={"collection": target})
    client = build_chroma_client(settings.chroma_dir, settings.chroma_url)
    staging = f"{uuid.uuid4().hex[:16]}{IMPORT_SUFFIX}"
    staged = settings.data_dir / STAGING_DIR / staging
    with write_lock(settings.lock_path, timeout_s=lock_timeout_s):
        recover_interrupted_imports(client, settings)
        _require_empty(client, target)
        try:
            staged.mkdir(parents=True)  # names the staging collection until it is gone
            with _open_archive(source) as reader:
                store = VectorStore(
                    client, staging, model_name=model_name, dimension=lambda: dimension
                )
                for chunks, vectors in reader.batches():
                    store.upsert(chunks, vectors.tolist())  # float32 -> float -> float32: exact
                DocumentRegistry(client, staging).upsert_many(reader.records)
                for file_name, member in reader.files():
                    reader.extract(member, staged / file_name)
            _require_empty(client, target)
            _drop(client, target)
            (staged / SWITCH_MARK).write_text(target, encoding="utf-8")
        except BaseException as exc:
            _drop(client, staging)
            _unstage(staged)
            if isinstance(exc, ChromaError | ValueError):
                raise RagError(
                    f"importing {source.name} failed, nothing kept: {str(exc)[:300]}"
                ) from exc
            raise
        _switch(client, settings, staged)
        _sync_keyword_index(client, target_settings, model_name, dimension)
    logger.info("imported %s as %s: %d chunks", source.name, target, info.chunks)
    return dataclasses.replace(info, collection=target)


def recover_interrupted_imports(client: chromadb.ClientAPI, settings: Settings) -> list[str]:
    """Finish or undo the imports of this data directory that a kill interrupted.

    Each import names its staging collection by a directory under ``.imports`` in the data
    directory. An import stopped before its switch is undone (the staging collection and
    files removed); one stopped during the switch (its mark written) is finished. Call it
    under the store's write lock (:func:`import_snapshot` does, before each import).

    Returns:
        The target names of the imports that were finished.

    Raises:
        StoreUnavailableError, ChromaError: the store cannot be read or written.
    """
    finished = []
    root = settings.data_dir / STAGING_DIR
    for staged in sorted(root.glob(f"*{IMPORT_SUFFIX}")) if root.is_dir() else []:
        if (staged / SWITCH_MARK).is_file():
            finished.append(_switch(client, settings, staged))
            logger.warning("finished the interrupted import of %s", finished[-1])
        else:
            _drop(client, staged.name)
            _unstage(staged)
            logger.warning("removed the staging of an interrupted import (%s)", staged.name)
    return finished


def _switch(client: chromadb.ClientAPI, settings: Settings, staged: Path) -> str:
    """Give a complete staging import its target name; return that name.

    Each step can run again after a kill (a renamed collection is not renamed twice), so
    :func:`recover_interrupted_imports` finishes what this started.
    """
    target = (staged / SWITCH_MARK).read_text(encoding="utf-8")
    existing = {c.name for c in client.list_collections()}
    for source, name in (
        (staged.name, target),
        (registry_collection_name(staged.name), registry_collection_name(target)),
    ):
        if source in existing:
            client.get_collection(source).modify(name=name)
    files_dir = settings.model_copy(update={"collection": target}).files_dir
    for path in staged.iterdir():
        if path.name != SWITCH_MARK:
            files_dir.mkdir(parents=True, exist_ok=True)
            os.replace(path, files_dir / path.name)
    _unstage(staged)
    return target


def _unstage(staged: Path) -> None:
    """Remove an import's staging directory (and ``.imports`` when no other is left)."""
    shutil.rmtree(staged, ignore_errors=True)
    with contextlib.suppress(OSError):
        staged.parent.rmdir()


def _target_name(name: str) -> str:
    try:
        return check_collection_name(name)
    except ValueError as exc:
        raise SnapshotError(str(exc), "bad_name", {"name": name}) from exc


def _require_empty(client: chromadb.ClientAPI, name: str) -> None:
    """Refuse to import over a collection that holds chunks or documents."""
    existing = {c.name for c in client.list_collections()}
    held = 0
    for physical in (name, registry_collection_name(name)):
        if physical in existing:
            got = client.get_collection(physical).get(
                where={"kind": "document"} if physical != name else None, limit=1, include=[]
            )
            held += len(got["ids"])
    if held:
        raise SnapshotError(
            f"the collection '{name}' already holds documents: import under another name "
            "(--as NAME) or delete it first",
            "exists",
            {"name": name},
        )


def _drop(client: chromadb.ClientAPI, name: str) -> None:
    """Delete a collection, its registry and every collection of its vectors, if they exist."""
    existing = {c.name for c in client.list_collections()}
    for physical in (*vectors_collections(client, name), registry_collection_name(name)):
        if physical in existing:
            with contextlib.suppress(ChromaError, ValueError):
                client.delete_collection(physical)


def _sync_keyword_index(
    client: chromadb.ClientAPI, settings: Settings, model_name: str, dimension: int
) -> None:
    """Give the collection's keyword index the imported chunks' stored terms."""
    store = VectorStore(
        client, settings.collection, model_name=model_name, dimension=lambda: dimension
    )
    registry = DocumentRegistry(client, settings.collection)
    index = KeywordIndex(
        settings.keyword_index_dir / settings.collection,
        source=StoreKeywordSource(registry, store),
    )
    index.sync()


def _damaged(source: Path, why: str) -> SnapshotError:
    return SnapshotError(
        f"{source.name} is damaged ({why}): make the export again or copy it again",
        "damaged",
        {"file": source.name, "why": why},
    )


@contextlib.contextmanager
def _open_archive(source: Path) -> Iterator[_ArchiveReader]:
    """Open and check an archive's structure and manifest.

    Raises:
        SnapshotError: see :func:`inspect_snapshot`.
    """
    try:
        archive = zipfile.ZipFile(source)
    except FileNotFoundError as exc:
        raise SnapshotError(f"no file {source}", "not_archive", {"file": source.name}) from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SnapshotError(
            f"{source.name} is not a snapshot archive (not a ZIP file, or truncated): {exc}",
            "not_archive",
            {"file": source.name},
        ) from exc
    try:
        yield _ArchiveReader(source, archive)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _damaged(source, str(exc)) from exc
    finally:
        archive.close()


class _ArchiveReader:
    """Reads the members of a checked archive, checking each against the manifest."""

    def __init__(self, source: Path, archive: zipfile.ZipFile) -> None:
        self.source = source
        self.archive = archive
        infos = archive.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise _damaged(source, "a member appears twice")
        strange = [n for n in names if n != MANIFEST and not _MEMBER.fullmatch(n)]
        if strange:
            raise _damaged(source, f"unexpected member {strange[0]!r}")
        if MANIFEST not in names:
            raise SnapshotError(
                f"{source.name} is not a snapshot archive (no {MANIFEST})",
                "not_archive",
                {"file": source.name},
            )
        self.infos = {i.filename: i for i in infos}
        manifest = self._manifest()
        self.members: dict[str, dict[str, Any]] = manifest["members"]
        if set(self.members) != set(names) - {MANIFEST}:
            raise _damaged(source, "its members do not match its manifest")
        for name, entry in self.members.items():
            self._check_sizes(name, entry)
        self.info = self._info(manifest)
        self.records = self._records()

    def _manifest(self) -> dict[str, Any]:
        info = self.infos[MANIFEST]
        if info.file_size > MAX_MANIFEST_BYTES:
            raise _damaged(self.source, "its manifest is too large")
        try:
            with self.archive.open(info) as handle:
                manifest = json.loads(handle.read(MAX_MANIFEST_BYTES + 1))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _damaged(self.source, "its manifest is not JSON") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(
                f"{self.source.name} is not a snapshot archive of this app",
                "not_archive",
                {"file": self.source.name},
            )
        version = manifest.get("version")
        if version != FORMAT_VERSION:
            raise SnapshotError(
                f"{self.source.name} has snapshot format version {version!r}, which this "
                f"version of the app does not read (it reads version {FORMAT_VERSION}): "
                "import it with the version of the app that made it",
                "version",
                {"file": self.source.name, "version": str(version)},
            )
        members = manifest.get("members")
        if not isinstance(members, dict) or not all(
            isinstance(e, dict)
            and isinstance(e.get("size"), int)
            and isinstance(e.get("sha256"), str)
            for e in members.values()
        ):
            raise _damaged(self.source, "its manifest lists no members")
        return manifest

    def _check_sizes(self, name: str, entry: dict[str, Any]) -> None:
        info = self.infos[name]
        if entry["size"] < 0 or info.file_size != entry["size"]:
            raise _damaged(self.source, f"{name} has {info.file_size} bytes, not {entry['size']}")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _damaged(self.source, f"{name} expands too much (a decompression bomb?)")

    def _info(self, manifest: dict[str, Any]) -> SnapshotInfo:
        try:
            values = {f.name: manifest[f.name] for f in fields(SnapshotInfo)}
            info = SnapshotInfo(**values)
        except KeyError as exc:
            raise _damaged(self.source, f"its manifest has no {exc.args[0]}") from exc
        if not isinstance(info.embedding_model, str) or not all(
            isinstance(n, int) for n in (info.embedding_dim, info.documents, info.chunks)
        ):
            raise _damaged(self.source, "its manifest names no embedding model or counts")
        return info

    def read(self, name: str) -> bytes:
        """A member's bytes, checked against its manifest size and sha256."""
        entry = self.members[name]
        with self.archive.open(name) as handle:
            data = handle.read(entry["size"] + 1)
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise _damaged(self.source, f"checksum mismatch in {name}")
        return data

    def extract(self, name: str, target: Path) -> None:
        """Copy a member to ``target`` in blocks, checking its size and sha256."""
        entry = self.members[name]
        digest, size = hashlib.sha256(), 0
        with self.archive.open(name) as src, target.open("wb") as dst:
            while block := src.read(COPY_BLOCK):
                size += len(block)
                if size > entry["size"]:
                    break
                digest.update(block)
                dst.write(block)
        if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            target.unlink(missing_ok=True)
            raise _damaged(self.source, f"checksum mismatch in {name}")

    def _records(self) -> list[DocumentRecord]:
        if DOCUMENTS not in self.members:
            raise _damaged(self.source, f"no {DOCUMENTS}")
        records = []
        for line in self.read(DOCUMENTS).decode("utf-8").splitlines():
            row = _json_object(self.source, line)
            if set(row) != set(_RECORD_TYPES) or not re.fullmatch(_SHA, str(row["sha256"])):
                raise _damaged(self.source, "a document row is not one")
            for key, kind in _RECORD_TYPES.items():
                if not isinstance(row[key], int if kind == "int" else str):
                    raise _damaged(self.source, f"a document's {key} is not a {kind}")
            if row["status"] != STATUS_COMPLETE:
                raise _damaged(self.source, "it lists a document that was not complete")
            records.append(DocumentRecord(**row))
        if len(records) != self.info.documents:
            raise _damaged(self.source, "its document count does not match")
        return records

    def batches(self) -> Iterator[tuple[list[Document], np.ndarray]]:
        """Each chunk batch with its vectors (float32, shape (n, dim)), checked."""
        known = {r.sha256 for r in self.records}
        numbers = _batch_numbers(self.members, "chunks/")
        if _batch_numbers(self.members, "vectors/") != numbers:
            raise _damaged(self.source, "chunk and vector members do not pair up")
        total = 0
        for number in numbers:
            chunks = [
                _chunk(self.source, _json_object(self.source, line), known)
                for line in self.read(f"chunks/{number}.jsonl").decode("utf-8").splitlines()
            ]
            try:
                vectors = np.load(
                    io.BytesIO(self.read(f"vectors/{number}.npy")), allow_pickle=False
                )
            except ValueError as exc:
                raise _damaged(self.source, f"vectors/{number}.npy is no array") from exc
            shape = (len(chunks), self.info.embedding_dim)
            if vectors.dtype != np.float32 or vectors.shape != shape:
                raise _damaged(self.source, f"vectors/{number}.npy is not float32 of {shape}")
            if not np.isfinite(vectors).all():
                raise _damaged(self.source, f"vectors/{number}.npy holds NaN or infinity")
            total += len(chunks)
            yield chunks, vectors
        if total != self.info.chunks:
            raise _damaged(self.source, "its chunk count does not match")

    def files(self) -> Iterator[tuple[str, str]]:
        """``(file name, member name)`` of each stored original or OCR word file, checked."""
        known = {r.sha256 for r in self.records}
        for name in sorted(self.members):
            if not name.startswith("files/"):
                continue
            file_name = name[len("files/") :]
            if file_name[:64] not in known:
                raise _damaged(self.source, f"{name} belongs to no document")
            yield file_name, name


def _batch_numbers(members: dict[str, Any], folder: str) -> list[str]:
    """The sorted batch numbers (``"000000"``) of the members under ``folder``."""
    return sorted(n[len(folder) :].split(".")[0] for n in members if n.startswith(folder))


def _json_object(source: Path, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise _damaged(source, "a line is not JSON") from exc
    if not isinstance(value, dict):
        raise _damaged(source, "a line is not a JSON object")
    return value


def _chunk(source: Path, row: dict[str, Any], known: set[str]) -> Document:
    chunk_id, text, meta = row.get("id"), row.get("text"), row.get("metadata")
    if not isinstance(chunk_id, str) or not chunk_id or not isinstance(text, str):
        raise _damaged(source, "a chunk has no id or text")
    if not isinstance(meta, dict) or not all(
        isinstance(v, str | int | float | bool) for v in meta.values()
    ):
        raise _damaged(source, f"chunk {chunk_id[:16]} has bad metadata")
    if meta.get("sha256") not in known:
        raise _damaged(source, f"chunk {chunk_id[:16]} belongs to no listed document")
    return Document(id=chunk_id, page_content=text, metadata=meta)


__all__ = [
    "FORMAT_VERSION",
    "SNAPSHOT_FORMAT",
    "SnapshotInfo",
    "export_snapshot",
    "import_snapshot",
    "inspect_snapshot",
    "recorded_embedding",
    "recover_interrupted_imports",
]
