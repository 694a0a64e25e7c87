"""Dense, MMR, BM25 and hybrid retrievers over one collection.

Every returned chunk carries in its metadata:

* ``score``: the score of the mode that ranked it (cosine similarity for dense and MMR,
  BM25 for bm25, the fused score for hybrid: a convex combination of normalised scores or
  a reciprocal-rank-fusion score, see ``fusion``);
* ``similarity``: cosine similarity of the chunk's embedding to the question's, for every
  mode, so "is anything relevant at all?" is decided the same way whatever the mode;
* ``rank``: its 1-based position.

Methods: MMR, Carbonell & Goldstein (1998), via ``langchain_chroma``'s
``maximal_marginal_relevance``; hybrid fusion by a convex combination of min-max
normalised scores (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
Retrieval", ACM TOIS 2023) or by reciprocal rank fusion, Cormack, Clarke & Buettcher
(2009), score = sum over rankings of 1 / (k + rank), k = 60.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
from chromadb.errors import NotFoundError
from langchain_chroma.vectorstores import maximal_marginal_relevance
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag_core.config import FusionMethod, RetrievalMode
from rag_core.index.chunks import ANALYZER_METADATA_KEY, TERMS_METADATA_KEY
from rag_core.index.keyword import KeywordIndex
from rag_core.index.vector_store import VectorStore, collection_deleted
from rag_core.language import embedding_covers
from rag_core.retrieval.fusion import convex_combination, reciprocal_rank_fusion
from rag_core.retrieval.relevance import keyword_coverage

logger = logging.getLogger(__name__)

RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("dense", "mmr", "bm25", "hybrid")


class ChunkRetriever(BaseRetriever):
    """LangChain retriever over a Chroma collection and its BM25 keyword index.

    Attributes:
        store: the chunk collection.
        embeddings: the embedding model (embeds the question).
        keyword_index: the BM25 index of the same chunks (needed for bm25 and hybrid).
        mode: "dense", "mmr", "bm25" or "hybrid".
        k: top-k chunks returned.
        fetch_k: candidates per ranking before MMR or fusion.
        mmr_lambda: MMR relevance/diversity trade-off in [0, 1].
        rrf_k: reciprocal rank fusion constant.
        fusion: how hybrid mode fuses the dense and BM25 candidates: "convex" (a convex
            combination of min-max normalised scores, :func:`convex_combination`) or
            "rrf" (reciprocal rank fusion).
        dense_weight: share of the dense side for a question the embedding model covers:
            alpha of the convex combination; with RRF the rankings weigh ``dense_weight``
            and ``1 - dense_weight`` (0.5: plain RRF).
        embedding_languages: languages the embedding model handles (see
            :func:`embedding_covers`).
        uncovered_dense_weight: RRF weight of the dense ranking for a question the
            embedding model does not cover (0 = the keyword ranking decides, and the
            nearest chunks only fill slots it leaves empty).
        reranker: an object with ``predict(pairs) -> scores`` (a sentence-transformers
            ``CrossEncoder``) that re-orders the top ``rerank_candidates``; None = off.
        rerank_candidates: fused candidates passed to the reranker.
        hidden_documents: returns the sha256s of documents whose chunks must not be
            returned (still being indexed, or half-indexed by a killed ingest: a document
            counts only once all its chunks are stored); None = none hidden.
        languages: returns the languages of the collection's documents (e.g.
            ``frozenset({"en"})``) and, by ``by_language()``, the documents in each
            (a :class:`~rag_core.retrieval.crosslingual.DocumentLanguages`); None =
            unknown, no cross-lingual search.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: VectorStore
    embeddings: Embeddings
    keyword_index: KeywordIndex | None = None
    mode: RetrievalMode = "hybrid"
    k: int = 5
    fetch_k: int = 50
    mmr_lambda: float = 0.5
    rrf_k: int = 60
    fusion: FusionMethod = "convex"
    dense_weight: float = 0.5
    embedding_languages: str = "en"
    uncovered_dense_weight: float = 0.0
    reranker: Any | None = None
    rerank_candidates: int = 20
    hidden_documents: Callable[[], Sequence[str]] | None = None
    languages: Any | None = None

    def document_languages(self) -> frozenset[str]:
        """Return the languages of the documents searched (empty when unknown)."""
        return self.languages() if self.languages is not None else frozenset()

    def documents_by_language(self) -> dict[str, frozenset[str]]:
        """Return language -> sha256s of the documents in it (empty when unknown)."""
        by_language = getattr(self.languages, "by_language", None)
        return dict(by_language()) if by_language is not None else {}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.retrieve(query)

    def retrieve(
        self, query: str, *, k: int | None = None, documents: Collection[str] | None = None
    ) -> list[Document]:
        """Return the top-k chunks for ``query`` (see the module doc for metadata).

        Args:
            query: the question.
            k: overrides the retriever's top-k.
            documents: search only the chunks of these documents (sha256s); None = all.

        Returns:
            At most k Documents, best first, with ``id`` set.

        Raises:
            ValueError: bm25 or hybrid mode without a keyword index.
            CollectionDeletedError: the collection was deleted meanwhile (by another app
                instance or process).
        """
        try:
            return self._retrieve(query, k or self.k, documents)
        except NotFoundError as exc:
            raise collection_deleted(self.store.name) from exc

    def _retrieve(
        self, query: str, top: int, documents: Collection[str] | None = None
    ) -> list[Document]:
        collection = self.store.collection
        total = collection.count()
        if total == 0 or not query.strip():
            return []
        hidden = frozenset(self.hidden_documents()) if self.hidden_documents else frozenset()
        if documents is not None and not set(documents) - hidden:
            return []
        covered = embedding_covers(query, self.embedding_languages)
        query_vec = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        query_terms: list[str] = []
        if self.keyword_index is not None:
            query_terms = self.keyword_index.analyzer.analyze([query])[0]
        fetch = min(max(self.fetch_k, top), total)
        want = max(top, self.rerank_candidates) if self.reranker is not None else top
        where = _where(hidden, documents)
        if self.mode in ("dense", "mmr"):
            dense = self._dense(query_vec, fetch if self.mode == "mmr" else min(want, total), where)
            docs = dense[:want] if self.mode == "dense" else self._mmr(query_vec, dense, want)
            score_key = "similarity"
        else:
            if self.keyword_index is None:
                raise ValueError(f"retrieval mode {self.mode} needs a keyword index")
            keyword_hits = self.keyword_index.search(
                query, fetch, terms=query_terms, documents=documents
            )
            bm25 = dict(keyword_hits)
            if self.mode == "bm25":
                docs = self._by_ids([i for i, _ in keyword_hits[:want]], query_vec, hidden)
                score_key = "bm25"
            else:
                docs = self._hybrid(query_vec, keyword_hits, covered, want, fetch, where, hidden)
                score_key = "fused"
            for doc in docs:
                if doc.id in bm25:
                    doc.metadata["bm25"] = bm25[doc.id]
        if self.reranker is not None and docs:
            docs = self._rerank(query, docs)
            score_key = "rerank"
        docs = _ranked(docs[:top], score_key)
        self._annotate(query_terms, docs, covered)
        return docs

    def _hybrid(
        self,
        query_vec: np.ndarray,
        keyword_hits: list[tuple[str, float]],
        covered: bool,
        want: int,
        fetch: int,
        where: dict[str, Any] | None,
        hidden: frozenset[str],
    ) -> list[Document]:
        """Fuse the dense and BM25 candidates (see :attr:`fusion`); the best ``want``."""
        dense_weight = self.dense_weight if covered else self.uncovered_dense_weight
        dense = self._dense(query_vec, fetch, where) if dense_weight > 0 else []
        if self.fusion == "convex":
            fused = convex_combination(
                [(d.id or "", float(d.metadata["similarity"])) for d in dense],
                keyword_hits,
                alpha=min(dense_weight, 1.0),
            )[:want]
        else:
            fused = reciprocal_rank_fusion(
                [[d.id or "" for d in dense], [i for i, _ in keyword_hits]],
                k=self.rrf_k,
                weights=[dense_weight, 1.0 - min(dense_weight, 1.0)],
            )[:want]
        if len(fused) < want and not dense:
            # keywords found too little: the nearest chunks fill the empty slots
            taken = {i for i, _ in fused}
            dense = [d for d in self._dense(query_vec, want, where) if d.id not in taken]
            fused += [(d.id or "", 0.0) for d in dense][: want - len(fused)]
        known = {d.id: d for d in dense}
        for doc in self._by_ids([i for i, _ in fused if i not in known], query_vec, hidden):
            known[doc.id] = doc
        docs = []
        for chunk_id, score in fused:
            if chunk_id in known:
                known[chunk_id].metadata["fused"] = score
                docs.append(known[chunk_id])
        return docs

    def _rerank(self, query: str, docs: list[Document]) -> list[Document]:
        scores = self.reranker.predict([(query, d.page_content) for d in docs])  # type: ignore[union-attr]
        for doc, score in zip(docs, scores, strict=True):
            doc.metadata["rerank"] = float(score)
        return sorted(docs, key=lambda d: d.metadata["rerank"], reverse=True)

    def _annotate(self, query_terms: list[str], docs: list[Document], covered: bool) -> None:
        """Add ``keyword_coverage`` and ``embedding_covered`` to each chunk's metadata."""
        terms: dict[str, list[str]] = {}
        if self.keyword_index is not None and docs:
            terms = self.keyword_index.chunk_terms([d.id or "" for d in docs])
        for doc in docs:
            doc.metadata["embedding_covered"] = covered
            doc.metadata["keyword_coverage"] = keyword_coverage(
                query_terms, terms.get(doc.id or "", [])
            )

    def _dense(
        self, query_vec: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[Document]:
        got = self.store.collection.query(
            query_embeddings=[query_vec.tolist()],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        docs = []
        for chunk_id, text, meta, dist, emb in zip(
            got["ids"][0],
            got["documents"][0],  # type: ignore[index]
            got["metadatas"][0],  # type: ignore[index]
            got["distances"][0],  # type: ignore[index]
            got["embeddings"][0],  # type: ignore[index]
            strict=True,
        ):
            doc = _chunk(chunk_id, text, meta)
            doc.metadata["similarity"] = 1.0 - float(dist)
            doc.metadata["_embedding"] = emb
            docs.append(doc)
        return docs

    def _mmr(self, query_vec: np.ndarray, candidates: list[Document], top: int) -> list[Document]:
        if not candidates:
            return []
        matrix = np.asarray([d.metadata["_embedding"] for d in candidates], dtype=np.float32)
        picked = maximal_marginal_relevance(query_vec, matrix, lambda_mult=self.mmr_lambda, k=top)
        return [candidates[i] for i in picked]

    def _by_ids(
        self, ids: list[str], query_vec: np.ndarray, hidden: frozenset[str] = frozenset()
    ) -> list[Document]:
        if not ids:
            return []
        got = self.store.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        rows: dict[str, Document] = {}
        for chunk_id, text, meta, emb in zip(
            got["ids"],
            got["documents"],  # type: ignore[arg-type]
            got["metadatas"],  # type: ignore[arg-type]
            got["embeddings"],  # type: ignore[arg-type]
            strict=True,
        ):
            doc = _chunk(chunk_id, text, meta)
            if doc.metadata.get("sha256") in hidden:
                continue
            doc.metadata["similarity"] = float(np.dot(np.asarray(emb, dtype=np.float32), query_vec))
            rows[chunk_id] = doc
        return [rows[i] for i in ids if i in rows]


def _where(hidden: frozenset[str], documents: Collection[str] | None) -> dict[str, Any] | None:
    """The Chroma ``where`` filter: not the hidden documents, only ``documents`` if given."""
    parts: list[dict[str, Any]] = []
    if hidden:
        parts.append({"sha256": {"$nin": sorted(hidden)}})
    if documents is not None:
        parts.append({"sha256": {"$in": sorted(set(documents) - hidden)}})
    if len(parts) > 1:
        return {"$and": parts}
    return parts[0] if parts else None


def _chunk(chunk_id: str, text: str | None, meta: Mapping[str, Any] | None) -> Document:
    """A chunk read from Chroma as a Document, without its stored BM25 terms and version."""
    metadata = dict(meta or {})
    metadata.pop(TERMS_METADATA_KEY, None)
    metadata.pop(ANALYZER_METADATA_KEY, None)
    return Document(id=chunk_id, page_content=text or "", metadata=metadata)


class MultiCollectionRetriever(BaseRetriever):
    """Searches several collections and fuses their rankings by reciprocal rank fusion.

    Each collection's retriever returns its own top-k (scores keep their meaning, so the
    relevance gate still applies per chunk); the lists are fused with
    :func:`reciprocal_rank_fusion` (Cormack et al., 2009) and the best k kept. Every
    Document gets ``metadata["collection"]``, a new 1-based ``metadata["rank"]`` and the
    fused ``metadata["score"]``.

    Attributes:
        retrievers: collection name -> its retriever.
        k: top-k chunks returned.
        rrf_k: reciprocal rank fusion constant.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retrievers: dict[str, ChunkRetriever]
    k: int = 5
    rrf_k: int = 60

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.retrieve(query)

    def document_languages(self) -> frozenset[str]:
        """Return the languages of the documents of every collection searched."""
        found: frozenset[str] = frozenset()
        for retriever in self.retrievers.values():
            found |= retriever.document_languages()
        return found

    def documents_by_language(self) -> dict[str, frozenset[str]]:
        """Return language -> sha256s of the documents in it, over every collection."""
        found: dict[str, frozenset[str]] = {}
        for retriever in self.retrievers.values():
            for language, docs in retriever.documents_by_language().items():
                found[language] = found.get(language, frozenset()) | docs
        return found

    def retrieve(
        self, query: str, *, k: int | None = None, documents: Collection[str] | None = None
    ) -> list[Document]:
        """Return the fused top-k chunks of every collection for ``query``.

        Args:
            query: the question.
            k: top-k (the retriever's if None).
            documents: search only these documents (sha256s); None = all.
        """
        top = k or self.k
        by_key: dict[str, Document] = {}
        rankings: list[list[str]] = []
        for name, retriever in self.retrievers.items():
            ranking = []
            for doc in retriever.retrieve(query, k=top, documents=documents):
                doc.metadata["collection"] = name
                key = f"{name}/{doc.id}"
                by_key[key] = doc
                ranking.append(key)
            rankings.append(ranking)
        fused = reciprocal_rank_fusion(rankings, k=self.rrf_k)[:top]
        docs = [by_key[key] for key, _ in fused]
        for rank, (doc, (_, score)) in enumerate(zip(docs, fused, strict=True), start=1):
            doc.metadata["rank"] = rank
            doc.metadata["score"] = score
        return docs


def _ranked(docs: list[Document], score_key: str) -> list[Document]:
    for rank, doc in enumerate(docs, start=1):
        doc.metadata.pop("_embedding", None)
        doc.metadata["rank"] = rank
        doc.metadata["score"] = float(doc.metadata.get(score_key, 0.0))
    return docs


def build_retriever(
    store: VectorStore,
    embeddings: Embeddings,
    keyword_index: KeywordIndex | None,
    *,
    mode: RetrievalMode,
    k: int,
    fetch_k: int,
    mmr_lambda: float = 0.5,
    rrf_k: int = 60,
    **extra: Any,
) -> ChunkRetriever:
    """Build the retriever for ``mode``; see :class:`ChunkRetriever` for the arguments."""
    return ChunkRetriever(
        store=store,
        embeddings=embeddings,
        keyword_index=keyword_index,
        mode=mode,
        k=k,
        fetch_k=fetch_k,
        mmr_lambda=mmr_lambda,
        rrf_k=rrf_k,
        **extra,
    )
