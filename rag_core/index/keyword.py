"""BM25 keyword index that understands Korean morphology.

* Analyzer: :class:`rag_core.index.analyzer.KiwiAnalyzer` (Kiwi morphemes, stemmed
  English words).
* Analyzer versions: :data:`~rag_core.index.analyzer.ANALYZER_VERSION` is stored with the
  token table and with each chunk's terms in Chroma; terms made by another version are
  analysed again from the chunk text (see :meth:`KeywordIndex.sync`), so a query and the
  chunks it searches are always analysed alike.
* Scoring: BM25 (Robertson & Zaragoza, 2009) as implemented by ``bm25s`` (Lucene variant,
  k1=1.5, b=0.75), https://github.com/xhluca/bm25s.
* Persistence: each chunk's terms are stored with the chunk in Chroma (metadata
  ``bm25_terms``) and kept in a local SQLite token table; after every ingest or delete
  the bm25s index is rebuilt from that table (no re-tokenising) and saved to disk.
  Queries load the saved index once and reuse it until a writer bumps the index version;
  the index is never rebuilt per query.
* Shared stores: with a :class:`KeywordSource` (the document list in Chroma), every
  search first compares the source's version token with the one it last synced (one
  cheap read); when another app instance or process changed the documents, the token
  table takes the added documents' terms from Chroma, drops the removed ones and the
  index is rebuilt, so app instances sharing a Chroma server stay consistent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import bm25s
import numpy as np
from langchain_core.documents import Document

from rag_core.index.analyzer import ANALYZER_VERSION, KiwiAnalyzer, shared_analyzer
from rag_core.index.chunks import ANALYZER_METADATA_KEY, TERMS_METADATA_KEY, keyword_text

logger = logging.getLogger(__name__)

# bm25s sets its logger to DEBUG at import and logs every index build; keep it quiet.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_NO_CHUNKS = np.zeros(0, dtype=np.int64)


class KeywordSource(Protocol):
    """Where the collection's documents and chunks really live (the shared Chroma store)."""

    def version(self) -> str:
        """Return a token that changes whenever a document is added or removed."""
        ...

    def documents(self) -> dict[str, bool]:
        """Return every listed document's sha256 -> True once all its chunks are stored."""
        ...

    def document_chunks(self, sha256: str) -> list[tuple[str, str, str | None]]:
        """Return a document's chunks as (chunk id, text, stored terms or None)."""
        ...


class KeywordIndex:
    """On-disk BM25 index over the chunks of one collection.

    Args:
        directory: where the token table and the saved bm25s index live.
        analyzer: text -> terms; defaults to the shared :class:`KiwiAnalyzer`.
        source: the collection's shared document list; when given, :meth:`search` first
            brings the index in step with it (see :meth:`sync`).
    """

    def __init__(
        self,
        directory: Path,
        analyzer: KiwiAnalyzer | None = None,
        source: KeywordSource | None = None,
    ) -> None:
        """Open (and create) the index directory."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._analyzer = analyzer
        self.source = source
        self._synced_version: str | None = None
        self._db_path = directory / "tokens.sqlite3"
        self._lock = threading.RLock()
        self._loaded_version = -1
        self._model: bm25s.BM25 | None = None
        self._ids: list[str] = []
        self._owners: tuple[int, dict[str, np.ndarray]] = (-1, {})
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS tokens ("
                "chunk_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
                " terms TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS tokens_sha ON tokens (sha256)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)")
        self._forget_other_analyzer_terms()

    def _forget_other_analyzer_terms(self) -> None:
        """Drop the token table when another analyzer version made it (once, on open).

        :meth:`sync` then takes every document's terms from the source again, analysing
        the chunk text where the stored terms are another version's. Without a source
        there is no text to analyse, so the table is left as it is.
        """
        if self.source is None:
            return
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one process migrates; the others see it done
            row = db.execute("SELECT value FROM meta WHERE key = 'analyzer'").fetchone()
            if row is not None and int(row[0]) == ANALYZER_VERSION:
                return
            dropped = db.execute("DELETE FROM tokens").rowcount
            db.execute("INSERT OR REPLACE INTO meta VALUES ('analyzer', ?)", (ANALYZER_VERSION,))
        if dropped:
            logger.info(
                "BM25 terms of %d chunks were made by another analyzer version: "
                "analysing them again (analyzer version %d)",
                dropped,
                ANALYZER_VERSION,
            )

    @property
    def analyzer(self) -> KiwiAnalyzer:
        """The analyzer (loaded on first use)."""
        if self._analyzer is None:
            self._analyzer = shared_analyzer()
        return self._analyzer

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._db_path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add_terms(
        self, ids: Sequence[str], sha256s: Sequence[str], terms: Sequence[Sequence[str]]
    ) -> None:
        """Record chunks with their terms (call :meth:`rebuild` afterwards).

        Args:
            ids: chunk ids.
            sha256s: the document sha256 of each chunk.
            terms: each chunk's terms, as :meth:`KiwiAnalyzer.analyze` returns them.
        """
        rows = [(i, s, " ".join(t)) for i, s, t in zip(ids, sha256s, terms, strict=True)]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)", rows)

    def delete_document(self, sha256: str) -> None:
        """Forget every chunk of a document (call :meth:`rebuild` afterwards)."""
        with self._connect() as db:
            db.execute("DELETE FROM tokens WHERE sha256 = ?", (sha256,))

    def document_chunk_ids(self, sha256: str) -> set[str]:
        """Return the ids of a document's chunks present in the token table."""
        with self._connect() as db:
            rows = db.execute("SELECT chunk_id FROM tokens WHERE sha256 = ?", (sha256,)).fetchall()
        return {r[0] for r in rows}

    def chunk_terms(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """Return the stored terms of the given chunks (no re-tokenising).

        The table is first brought in step with the source (:meth:`sync`: one cheap read
        when nothing changed), so chunks another instance added have their terms.

        Args:
            ids: chunk ids.

        Returns:
            chunk id -> its terms, for the ids present in the index.

        Raises:
            RagError: the shared document list cannot be read (see :meth:`sync`).
        """
        if not ids:
            return {}
        self.sync()
        marks = ",".join("?" * len(ids))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT chunk_id, terms FROM tokens WHERE chunk_id IN ({marks})",
                list(ids),
            ).fetchall()
        return {chunk_id: terms.split() for chunk_id, terms in rows}

    def sync(self) -> int:
        """Bring the token table in step with :attr:`source`, rebuilding the index if needed.

        Documents listed as complete but missing here get their terms from the source
        (stored terms, or the text analysed when a chunk has none); documents no longer
        listed are dropped; documents still being indexed are left as they are.

        Returns:
            The number of documents added or dropped (0 without a source or change).

        Raises:
            RagError: the source cannot be read (e.g. the Chroma server went away).
        """
        if self.source is None:
            return 0
        with self._lock:
            version = self.source.version()
            if version == self._synced_version:
                return 0
            listed = self.source.documents()
            with self._connect() as db:
                have = {r[0] for r in db.execute("SELECT DISTINCT sha256 FROM tokens")}
            added = sorted(sha for sha, complete in listed.items() if complete and sha not in have)
            dropped = sorted(have - listed.keys())
            for sha256 in dropped:
                self.delete_document(sha256)
            for sha256 in added:
                chunks = self.source.document_chunks(sha256)
                untokenised = [text for _, text, terms in chunks if terms is None]
                analysed = iter(self.analyzer.analyze(untokenised) if untokenised else [])
                terms = [t.split() if t is not None else next(analysed) for _, _, t in chunks]
                ids = [chunk_id for chunk_id, _, _ in chunks]
                self.add_terms(ids, [sha256] * len(chunks), terms)
            if added or dropped:
                self.rebuild()
                logger.info("BM25 index synced: +%d / -%d documents", len(added), len(dropped))
            self._synced_version = version
            return len(added) + len(dropped)

    def rebuild(self) -> int:
        """Rebuild the bm25s index from the token table and save it.

        Returns:
            The number of chunks indexed.
        """
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one rebuild at a time, across processes too
            rows = db.execute("SELECT chunk_id, terms FROM tokens ORDER BY chunk_id").fetchall()
            version = self._version(db) + 1
            target = self.directory / f"index-{version}"
            if rows:
                ids = [r[0] for r in rows]
                corpus = [r[1].split() for r in rows]
                model = bm25s.BM25()
                model.index(_to_tokenized(corpus), show_progress=False)
                model.save(str(target), show_progress=False)
                (target / "ids.json").write_text(json.dumps(ids))
            for old in self.directory.glob("index-*"):
                if old.name != target.name:
                    shutil.rmtree(old, ignore_errors=True)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))
        logger.info("BM25 index version %d: %d chunks", version, len(rows))
        return len(rows)

    def _version(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def _ensure_loaded(self) -> None:
        for attempt in (1, 2):
            with self._connect() as db:
                version = self._version(db)
            if version == self._loaded_version:
                return
            target = self.directory / f"index-{version}"
            try:
                if (target / "ids.json").exists():
                    self._model = bm25s.BM25.load(str(target), show_progress=False)
                    self._ids = json.loads((target / "ids.json").read_text())
                else:
                    self._model, self._ids = None, []
            except (OSError, ValueError):
                if attempt == 2:
                    raise
                continue  # another process replaced that version meanwhile: read it again
            self._loaded_version = version
            return

    def search(
        self,
        query: str,
        k: int,
        *,
        terms: Sequence[str] | None = None,
        documents: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Return the top ``k`` chunks for ``query`` by BM25 score.

        Args:
            query: the user's question.
            k: how many hits at most.
            terms: the query's terms if the caller has analysed it already (Kiwi takes
                about 1 ms a question; a retriever analyses it once for search and
                relevance), else it is analysed here.
            documents: only chunks of these documents (sha256s) are returned; None = all.
                Scores keep the whole collection's statistics (IDF, average length).

        Returns:
            ``(chunk_id, bm25_score)`` pairs, best first; only chunks sharing a term with
            the query (score > 0).

        Raises:
            RagError: the shared document list cannot be read (see :meth:`sync`).
        """
        if terms is None:
            terms = self.analyzer.analyze([query])[0]
        with self._lock:
            self.sync()
            self._ensure_loaded()
            model, ids = self._model, self._ids
            owners = self._chunk_owners() if documents is not None else {}
        if model is None or not terms or not ids:
            return []
        known = [t for t in terms if t in model.vocab_dict]
        if not known:
            return []
        scores = np.asarray(model.get_scores(known))
        if documents is not None:
            keep = np.zeros(len(scores), dtype=bool)
            for sha256 in documents:
                keep[owners.get(sha256, _NO_CHUNKS)] = True
            scores = scores * keep
        top = min(k, len(ids))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best], kind="stable")]
        hits = [(ids[int(i)], float(scores[i])) for i in best if scores[i] > 0]
        return hits

    def _chunk_owners(self) -> dict[str, np.ndarray]:
        """Each document's (sha256) chunk positions in the loaded index (cached per version)."""
        if self._owners[0] != self._loaded_version:
            with self._connect() as db:
                owner = dict(db.execute("SELECT chunk_id, sha256 FROM tokens").fetchall())
            positions: dict[str, list[int]] = {}
            for position, chunk_id in enumerate(self._ids):
                positions.setdefault(owner.get(chunk_id, ""), []).append(position)
            self._owners = (
                self._loaded_version,
                {sha: np.asarray(found, dtype=np.int64) for sha, found in positions.items()},
            )
        return self._owners[1]


def _to_tokenized(corpus: list[list[str]]) -> bm25s.tokenization.Tokenized:
    vocab: dict[str, int] = {"": 0}
    ids = []
    for terms in corpus:
        ids.append([vocab.setdefault(t, len(vocab)) for t in terms])
    return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)


class StoreKeywordSource:
    """A collection's registry and chunk store, as a :class:`KeywordSource`.

    Args:
        registry: the collection's document list
            (:class:`~rag_core.index.registry.DocumentRegistry`).
        store: its chunk collection (:class:`~rag_core.index.vector_store.VectorStore`).
    """

    def __init__(self, registry: Any, store: Any) -> None:
        self.registry = registry
        self.store = store

    def version(self) -> str:
        """Return the registry's version token."""
        return str(self.registry.version())

    def documents(self) -> dict[str, bool]:
        """Return every listed document's sha256 -> True once complete."""
        return {
            r.sha256: r.status == "complete" for r in self.registry.list(include_incomplete=True)
        }

    def document_chunks(self, sha256: str) -> list[tuple[str, str, str | None]]:
        """Return a document's chunks as (chunk id, text as indexed, stored terms or None).

        Stored terms made by another analyzer version count as none (the text is
        analysed again).

        The text is the chunk's keyword text (title and heading path, then the passage;
        :func:`~rag_core.index.chunks.keyword_text`), as the ingest analysed it.

        Raises:
            CollectionDeletedError: the collection was deleted meanwhile.
        """
        return [
            (chunk_id, keyword_text(Document(text, metadata=meta)), _current_terms(meta))
            for chunk_id, text, meta in self.store.document_chunks(sha256)
        ]


def _current_terms(metadata: dict[str, Any]) -> str | None:
    """A chunk's stored terms if this analyzer version made them, else None."""
    if metadata.get(ANALYZER_METADATA_KEY) != ANALYZER_VERSION:
        return None
    return metadata.get(TERMS_METADATA_KEY)
