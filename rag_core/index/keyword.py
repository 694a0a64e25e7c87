"""BM25 keyword index that understands Korean morphology and grows document by document.

* Analyzer: :class:`rag_core.index.analyzer.KiwiAnalyzer` (Kiwi morphemes, stemmed
  English words).
* Analyzer versions: :data:`~rag_core.index.analyzer.ANALYZER_VERSION` is stored with the
  index and with each chunk's terms in Chroma; terms made by another version are analysed
  again from the chunk text (see :meth:`KeywordIndex.sync`), so a query and the chunks it
  searches are always analysed alike.
* Engine: SQLite FTS5 (Python's own ``sqlite3``), https://www.sqlite.org/fts5.html, in one
  file ``keyword.sqlite3``. Adding a document inserts its chunks' rows and removing it
  deletes them: FTS5 keeps its inverted index in segments it merges in the background
  (automerge), so nothing is ever rebuilt.
* Terms: FTS5's tokenizers would split or change our analyzer's terms (``c++``, ``ko.tex``,
  Hanja) and its query syntax gives meaning to some (``"``, ``*``, ``-``, ``:``, ``^``,
  ``(``, ``NEAR``, ``AND``, ``OR``, ``NOT``). So each distinct term gets an integer id in a
  vocabulary table and FTS5 indexes the ids, written as decimal numbers (one ``ascii``
  token each); a query is the ids of its known terms, each quoted, joined by ``OR``. No
  term of ours ever reaches FTS5's tokenizer or query parser.
* Scoring: FTS5's built-in ``bm25()`` (Robertson & Zaragoza, 2009; k1 = 1.2, b = 0.75,
  https://www.sqlite.org/fts5.html#the_bm25_function), negated so higher is better.
  Statistics (IDF, average length) are the whole collection's.
* Very common terms: FTS5 gives a term found in half the chunks or more an IDF of 1e-6
  (``fts5Bm25GetData`` in SQLite's ``ext/fts5/fts5_aux.c``: ``if( idf<=0.0 ) idf =
  1e-6;``), so it adds nothing to a chunk's score, yet FTS5 still walks its whole posting
  list and scores every chunk it is in. :data:`COMMON_TERM_SHARE` leaves such terms out of
  the query (their chunk counts are kept in the vocabulary table), unless nothing else of
  the query is known.
* Large collections: FTS5 scores every chunk that has any query term (about a microsecond
  each), which grows with the collection. When a query's terms are in more than
  :data:`FULL_SCORING_ROWS` chunks together, its rarest terms select the
  :data:`CANDIDATES` best chunks and every term scores them by the same formula
  (:meth:`KeywordIndex.search`, :func:`bm25_scores`).
* Persistence and sharing: each chunk's terms are also stored with the chunk in Chroma
  (metadata ``bm25_terms``). With a :class:`KeywordSource` (the document list in Chroma),
  every search first compares the source's version token with the one it last synced
  (one cheap read); when another app instance or process added or removed documents,
  only those documents' rows are added (their stored terms, read from Chroma) or deleted.
* Migration: an index directory of the earlier format (a ``tokens`` table in
  ``tokens.sqlite3`` and bm25s ``index-N`` directories) is converted once when opened: its
  terms move into the FTS5 index and the bm25s directories are deleted.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import shutil
import sqlite3
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from langchain_core.documents import Document

from rag_core.index.analyzer import ANALYZER_VERSION, KiwiAnalyzer, shared_analyzer
from rag_core.index.chunks import ANALYZER_METADATA_KEY, TERMS_METADATA_KEY, keyword_text

logger = logging.getLogger(__name__)

INDEX_FILE = "keyword.sqlite3"
"""The SQLite file holding the vocabulary, the chunk list and the FTS5 index."""

OLD_INDEX_FILE = "tokens.sqlite3"
"""The earlier format's token table (migrated on open, then deleted)."""

COMMON_TERM_SHARE = 0.5
"""A query term in more than this share of the chunks is left out of the query: FTS5's
BM25 gives it an IDF of 1e-6 (see the module doc), i.e. no weight, while scoring it costs
a walk over half the index. Chunks that share only such terms with the query are then not
returned, which only matters when fewer than ``k`` chunks match the rest."""

FULL_SCORING_ROWS = 100_000
"""At most this many chunk rows are ranked by FTS5 per query (about 1 microsecond each);
above it, the query's rarest terms select :data:`CANDIDATES` chunks, scored with every
term (see :meth:`KeywordIndex.search`). Collections under this size are always ranked in
full. Forced down to about 2% of the collection (25 of the 1,165 chunks of the
``qa_dev.jsonl`` store), the selection lost answers (BM25 recall@5 0.94 -> 0.90, hybrid
1.00 -> 0.96): an answer need not hold the query's rarest terms. So it is kept for
collections far larger than any measured one, where ranking in full would take seconds."""

CANDIDATES = 1000
"""Chunks scored again with every query term when the rarest terms select them."""

_BATCH = 500
"""Rows per statement where a list of values goes into ``IN (...)``."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)",
    "CREATE TABLE IF NOT EXISTS vocab ("
    " id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE, chunks INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS chunks ("
    " id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chunks_sha ON chunks (sha256)",
    "CREATE TABLE IF NOT EXISTS documents (sha256 TEXT PRIMARY KEY)",
    # terms: the chunk's term ids in order, as decimal numbers separated by spaces
    "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(terms, tokenize = 'ascii')",
)


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
    """On-disk BM25 index (SQLite FTS5) over the chunks of one collection.

    Args:
        directory: where the index file lives.
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
        """Open (and create) the index directory; migrate an earlier format once."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._analyzer = analyzer
        self.source = source
        self._synced_version: str | None = None
        self._db_path = directory / INDEX_FILE
        self._lock = threading.RLock()
        self._term_ids: dict[str, int] = {}  # committed vocabulary ids never change
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one process creates the tables
            for statement in _SCHEMA:
                db.execute(statement)
        self._migrate()
        self._forget_other_analyzer_terms()

    def _migrate(self) -> None:
        """Move the earlier format's token table into this index, then delete its files.

        Done once, in one transaction: a process that opens the index meanwhile waits,
        then finds it done (meta ``migrated``); terms are never lost, since the old file
        is deleted only after the transaction that copied them committed.
        """
        old = self.directory / OLD_INDEX_FILE
        if old.exists():
            db = sqlite3.connect(self._db_path, timeout=30)
            try:
                db.execute("ATTACH DATABASE ? AS old", (str(old),))
                with db:
                    db.execute("BEGIN IMMEDIATE")
                    if not _meta(db, "migrated"):
                        self._copy_old_tokens(db)
                        _set_meta(db, "migrated", 1)
                db.execute("DETACH DATABASE old")
            finally:
                db.close()
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        for bm25s_dir in self.directory.glob("index-*"):
            shutil.rmtree(bm25s_dir, ignore_errors=True)

    def _copy_old_tokens(self, db: sqlite3.Connection) -> None:
        """Insert the rows of the attached ``old.tokens`` table (inside a transaction)."""
        tables = {r[0] for r in db.execute("SELECT name FROM old.sqlite_master")}
        if "tokens" not in tables:
            return
        if "meta" in tables and _meta(db, "analyzer") is None:
            for (version,) in db.execute("SELECT value FROM old.meta WHERE key = 'analyzer'"):
                _set_meta(db, "analyzer", int(version))
        rows = db.execute("SELECT chunk_id, sha256, terms FROM old.tokens ORDER BY rowid")
        moved = 0
        while batch := rows.fetchmany(5000):
            ids, shas, terms = zip(*batch, strict=True)
            self._insert(db, ids, shas, [t.split() for t in terms])
            moved += len(batch)
        logger.info("keyword index: %d chunks moved from the bm25s format to FTS5", moved)

    def _forget_other_analyzer_terms(self) -> None:
        """Empty the index when another analyzer version made it (once, on open).

        :meth:`sync` then takes every document's terms from the source again, analysing
        the chunk text where the stored terms are another version's. Without a source
        there is no text to analyse, so the index is left as it is.
        """
        if self.source is None:
            return
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one process migrates; the others see it done
            if _meta(db, "analyzer") == ANALYZER_VERSION:
                return
            dropped = db.execute("DELETE FROM chunks").rowcount
            db.execute("DELETE FROM fts")
            db.execute("DELETE FROM documents")
            db.execute("UPDATE vocab SET chunks = 0")
            _set_meta(db, "chunks", 0)
            _set_meta(db, "terms", 0)
            _set_meta(db, "analyzer", ANALYZER_VERSION)
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
        """Add chunks with their terms (a chunk id already present is replaced).

        Searchable as soon as this returns; nothing else is rebuilt.

        Args:
            ids: chunk ids.
            sha256s: the document sha256 of each chunk.
            terms: each chunk's terms, as :meth:`KiwiAnalyzer.analyze` returns them.

        Raises:
            ValueError: the three sequences differ in length.
        """
        if len({len(ids), len(sha256s), len(terms)}) != 1:
            raise ValueError("ids, sha256s and terms must have the same length")
        if not ids:
            return
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            added = self._insert(db, ids, sha256s, terms)
        self._term_ids.update(added)

    def _insert(
        self,
        db: sqlite3.Connection,
        ids: Sequence[str],
        sha256s: Sequence[str],
        terms: Sequence[Sequence[str]],
    ) -> dict[str, int]:
        """Insert chunks inside the caller's transaction; return the vocabulary ids used."""
        terms = [_whitespace_split(chunk) for chunk in terms]
        self._delete_rows(db, _chunk_rows(db, ids))
        term_ids = self._vocabulary(db, {t for chunk in terms for t in chunk})
        first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM chunks").fetchone()[0]
        rows = range(first, first + len(ids))
        db.executemany(
            "INSERT INTO chunks (id, chunk_id, sha256) VALUES (?, ?, ?)",
            zip(rows, ids, sha256s, strict=True),
        )
        encoded = (" ".join(str(term_ids[t]) for t in chunk) for chunk in terms)
        db.executemany(
            "INSERT INTO fts (rowid, terms) VALUES (?, ?)", zip(rows, encoded, strict=True)
        )
        df = Counter(term_ids[t] for chunk in terms for t in set(chunk))
        db.executemany("UPDATE vocab SET chunks = chunks + ? WHERE id = ?", _swap(df.items()))
        db.executemany("INSERT OR IGNORE INTO documents VALUES (?)", ((s,) for s in set(sha256s)))
        _set_meta(db, "chunks", (_meta(db, "chunks") or 0) + len(ids))
        _set_meta(db, "terms", (_meta(db, "terms") or 0) + sum(map(len, terms)))
        return term_ids

    def _vocabulary(self, db: sqlite3.Connection, terms: set[str]) -> dict[str, int]:
        """Vocabulary ids of ``terms``, new terms added (inside the caller's transaction)."""
        found = {t: self._term_ids[t] for t in terms if t in self._term_ids}
        missing = [t for t in terms if t not in found]
        db.executemany("INSERT OR IGNORE INTO vocab (term) VALUES (?)", ((t,) for t in missing))
        for batch in _batches(missing):
            marks = ",".join("?" * len(batch))
            found.update(db.execute(f"SELECT term, id FROM vocab WHERE term IN ({marks})", batch))
        return found

    def _delete_rows(self, db: sqlite3.Connection, rows: list[int]) -> None:
        """Delete chunks by FTS5 rowid, with their postings and chunk counts."""
        if not rows:
            return
        df: Counter[int] = Counter()
        length = 0
        for batch in _batches(rows):
            marks = ",".join("?" * len(batch))
            for (stored,) in db.execute(f"SELECT terms FROM fts WHERE rowid IN ({marks})", batch):
                chunk = stored.split()
                length += len(chunk)
                df.update({int(t) for t in chunk})
            db.execute(f"DELETE FROM fts WHERE rowid IN ({marks})", batch)
            db.execute(f"DELETE FROM chunks WHERE id IN ({marks})", batch)
        db.executemany("UPDATE vocab SET chunks = chunks - ? WHERE id = ?", _swap(df.items()))
        _set_meta(db, "chunks", max(0, (_meta(db, "chunks") or 0) - len(rows)))
        _set_meta(db, "terms", max(0, (_meta(db, "terms") or 0) - length))

    def delete_document(self, sha256: str) -> None:
        """Forget every chunk of a document (its rows only; nothing is rebuilt).

        Args:
            sha256: the document.
        """
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = [r[0] for r in db.execute("SELECT id FROM chunks WHERE sha256 = ?", (sha256,))]
            self._delete_rows(db, rows)
            db.execute("DELETE FROM documents WHERE sha256 = ?", (sha256,))

    def document_chunk_ids(self, sha256: str) -> set[str]:
        """Return the ids of a document's chunks present in the index."""
        with self._connect() as db:
            rows = db.execute("SELECT chunk_id FROM chunks WHERE sha256 = ?", (sha256,)).fetchall()
        return {r[0] for r in rows}

    def chunk_terms(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """Return the stored terms of the given chunks (no re-tokenising).

        The index is first brought in step with the source (:meth:`sync`: one cheap read
        when nothing changed), so chunks another instance added have their terms.

        Args:
            ids: chunk ids.

        Returns:
            chunk id -> its terms in order, for the ids present in the index.

        Raises:
            RagError: the shared document list cannot be read (see :meth:`sync`).
        """
        if not ids:
            return {}
        self.sync()
        stored: dict[str, list[int]] = {}
        with self._connect() as db:
            for batch in _batches(list(ids)):
                marks = ",".join("?" * len(batch))
                for chunk_id, terms in db.execute(
                    "SELECT c.chunk_id, f.terms FROM chunks c JOIN fts f ON f.rowid = c.id"
                    f" WHERE c.chunk_id IN ({marks})",
                    batch,
                ):
                    stored[chunk_id] = [int(t) for t in terms.split()]
            names: dict[int, str] = {}
            for batch in _batches(sorted({t for terms in stored.values() for t in terms})):
                marks = ",".join("?" * len(batch))
                names.update(db.execute(f"SELECT id, term FROM vocab WHERE id IN ({marks})", batch))
        return {chunk_id: [names[t] for t in terms] for chunk_id, terms in stored.items()}

    def sync(self) -> int:
        """Bring the index in step with :attr:`source`, document by document.

        Documents listed as complete but missing here get their terms from the source
        (stored terms, or the text analysed when a chunk has none); documents no longer
        listed are dropped; documents still being indexed are left as they are. Only
        those documents' rows change.

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
                have = {r[0] for r in db.execute("SELECT sha256 FROM documents")}
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
                logger.info("BM25 index synced: +%d / -%d documents", len(added), len(dropped))
            self._synced_version = version
            return len(added) + len(dropped)

    def rebuild(self) -> int:
        """Return the number of chunks indexed; nothing needs rebuilding.

        Kept for callers written for the earlier bm25s index, which was rebuilt after
        every change; FTS5 is updated row by row in :meth:`add_terms` and
        :meth:`delete_document`.

        Returns:
            The number of chunks in the index.
        """
        with self._connect() as db:
            return _meta(db, "chunks") or 0

    def search(
        self,
        query: str,
        k: int,
        *,
        terms: Sequence[str] | None = None,
        documents: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Return the top ``k`` chunks for ``query`` by BM25 score.

        When the query's terms are in at most :data:`FULL_SCORING_ROWS` chunks together,
        FTS5 ranks every chunk that has one of them. Otherwise FTS5 ranks, by the query's
        rarest terms only (as many as fit in :data:`FULL_SCORING_ROWS`), the best
        :data:`CANDIDATES` chunks, and those are scored again with every term of the
        query by the same formula (:func:`bm25_scores`). A chunk that has only common
        terms of the query is then not returned: the split of a query into terms that
        select and terms that only score is Elasticsearch's ``cutoff_frequency``
        (common terms query) and, as an upper-bound argument, MaxScore's essential and
        non-essential terms (Turtle & Flood, 1995).

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
        if k <= 0 or not terms or (documents is not None and not documents):
            return []
        with self._lock:
            self.sync()
        with self._connect() as db:
            query_terms = self._query_terms(db, terms)
            if not query_terms:
                return []
            selecting = _selecting_terms(query_terms)
            where, args = "fts MATCH ?", [_match(selecting)]
            if documents is not None:
                shas = sorted(documents)
                where += (
                    " AND fts.rowid IN (SELECT id FROM chunks WHERE sha256 IN"
                    f" ({','.join('?' * len(shas))}))"
                )
                args += shas
            # ties go by chunk id, as in every instance (rowids differ between instances)
            ranking = (
                f"SELECT fts.rowid, -bm25(fts) FROM fts JOIN chunks c ON c.id = fts.rowid"
                f" WHERE {where} ORDER BY bm25(fts), c.chunk_id LIMIT ?"
            )
            if len(selecting) == len(query_terms):
                ranked = db.execute(ranking, [*args, k]).fetchall()
            else:
                selected = db.execute(ranking, [*args, max(k, CANDIDATES)]).fetchall()
                candidates = _pairs_by_rowid(db, "fts", [row for row, _ in selected])
                stats = _meta(db, "chunks") or 0, _meta(db, "terms") or 0
                ranked = bm25_scores(candidates, query_terms, *stats)
            names = dict(_pairs_by_rowid(db, "chunks", [row for row, _ in ranked]))
        ranked = [(row, score) for row, score in ranked if score > 0 and row in names]
        ranked.sort(key=lambda hit: (-hit[1], names[hit[0]]))
        # (a chunk another process deleted meanwhile has no name any more: left out)
        return [(names[row], float(score)) for row, score in ranked[:k]]

    def _query_terms(self, db: sqlite3.Connection, terms: Sequence[str]) -> list[QueryTerm]:
        """The query's known terms, with their vocabulary ids and chunk counts.

        Each occurrence of a term counts (a term asked twice weighs twice, as in bm25s
        and as FTS5 weighs a phrase given twice). Terms in more than
        :data:`COMMON_TERM_SHARE` of the chunks are left out unless they are all the
        query has.
        """
        terms = _whitespace_split(terms)
        known: dict[str, tuple[int, int]] = {}
        for batch in _batches(sorted(set(terms))):
            marks = ",".join("?" * len(batch))
            for term, term_id, chunks in db.execute(
                f"SELECT term, id, chunks FROM vocab WHERE term IN ({marks}) AND chunks > 0",
                batch,
            ):
                known[term] = (term_id, chunks)
        limit = COMMON_TERM_SHARE * (_meta(db, "chunks") or 0)
        kept = {t: v for t, v in known.items() if v[1] <= limit} or known
        counts = Counter(t for t in terms if t in kept)
        return [QueryTerm(kept[t][0], kept[t][1], n) for t, n in counts.items()]


def _meta(db: sqlite3.Connection, key: str) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _set_meta(db: sqlite3.Connection, key: str, value: int) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _chunk_rows(db: sqlite3.Connection, ids: Sequence[str]) -> list[int]:
    """FTS5 rowids of the chunks with these ids (those present)."""
    rows: list[int] = []
    for batch in _batches(list(ids)):
        marks = ",".join("?" * len(batch))
        rows += [
            r[0] for r in db.execute(f"SELECT id FROM chunks WHERE chunk_id IN ({marks})", batch)
        ]
    return rows


def _batches(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _BATCH):
        yield list(values[start : start + _BATCH])


def _swap(pairs: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """(term id, count) -> (count, term id), the order of the UPDATE's parameters."""
    return ((count, term_id) for term_id, count in pairs)


class QueryTerm(NamedTuple):
    """A known query term: its vocabulary id, its chunk count, how often it is asked."""

    term_id: int
    chunks: int
    weight: int


def _selecting_terms(query_terms: list[QueryTerm]) -> list[QueryTerm]:
    """The rarest terms whose chunks add up to at most :data:`FULL_SCORING_ROWS`.

    At least the rarest term; every term when they all fit.
    """
    ordered = sorted(query_terms, key=lambda q: (q.chunks, q.term_id))
    chosen, rows = [], 0
    for term in ordered:
        rows += term.chunks
        if chosen and rows > FULL_SCORING_ROWS:
            break
        chosen.append(term)
    return chosen


def _match(query_terms: Iterable[QueryTerm]) -> str:
    """The FTS5 query: each term's id, quoted, once per time it is asked, joined by OR."""
    return " OR ".join(f'"{q.term_id}"' for q in query_terms for _ in range(q.weight))


def bm25_scores(
    rows: Iterable[tuple[int, str]], query_terms: Sequence[QueryTerm], n_chunks: int, n_terms: int
) -> list[tuple[int, float]]:
    """Score chunks by BM25 exactly as FTS5's ``bm25()`` does, best first.

    ``score = sum over query terms of weight * IDF * tf * (k1 + 1) / (tf + k1 * (1 - b + b *
    dl / avgdl))`` with k1 = 1.2, b = 0.75 and ``IDF = ln((N - n + 0.5) / (n + 0.5))``, at
    least 1e-6 (https://www.sqlite.org/fts5.html#the_bm25_function; ``fts5Bm25GetData``
    in SQLite's ``ext/fts5/fts5_aux.c``), made positive.

    Args:
        rows: (FTS5 rowid, the chunk's encoded terms) pairs.
        query_terms: the query's terms with their chunk counts (n) and weights.
        n_chunks: chunks in the collection (N).
        n_terms: terms in the collection (sum of chunk lengths; avgdl = n_terms / N).

    Returns:
        (rowid, score) pairs, best first (ties by rowid).
    """
    k1, b = 1.2, 0.75
    avgdl = n_terms / n_chunks if n_chunks and n_terms else 1.0
    idf = {
        str(q.term_id): q.weight
        * max(math.log((n_chunks - q.chunks + 0.5) / (q.chunks + 0.5)), 1e-6)
        for q in query_terms
    }
    # the query's ids as whole space-separated tokens (C speed; a chunk has ~100 terms)
    asked = re.compile(r"(?<!\S)(?:" + "|".join(idf) + r")(?!\S)")
    scored = []
    for row, encoded in rows:
        tf = Counter(asked.findall(encoded))
        norm = k1 * (1 - b + b * (encoded.count(" ") + 1) / avgdl)
        score = sum(idf[t] * f * (k1 + 1) / (f + norm) for t, f in tf.items())
        scored.append((row, score))
    scored.sort(key=lambda r: (-r[1], r[0]))
    return scored


def _pairs_by_rowid(db: sqlite3.Connection, table: str, rows: list[int]) -> list[tuple[int, str]]:
    """(rowid, text) of the given rows: ``fts`` -> encoded terms, ``chunks`` -> chunk id."""
    column = {"fts": "terms", "chunks": "chunk_id"}[table]
    found: list[tuple[int, str]] = []
    for batch in _batches(rows):
        marks = ",".join("?" * len(batch))
        found += db.execute(f"SELECT rowid, {column} FROM {table} WHERE rowid IN ({marks})", batch)
    return found


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


def _whitespace_split(terms: Sequence[str]) -> list[str]:
    """``terms`` as a chunk's metadata stores them: joined by spaces, split again.

    The analyzer can return a term holding whitespace (a span Kiwi keeps whole, e.g. a
    line of a verbatim block); a chunk's stored terms (``TERMS_METADATA_KEY``) are one
    space-joined string, so an index synced from the store sees the parts. Splitting
    here too makes an ingest, a sync and a snapshot import index the same terms.
    """
    return [part for term in terms for part in term.split()]
