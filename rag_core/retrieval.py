"""Dense, MMR, BM25 and hybrid retrievers over one collection.

Every returned chunk carries in its metadata:

* ``score``: the score of the mode that ranked it (cosine similarity for dense and MMR,
  BM25 for bm25, the reciprocal-rank-fusion score for hybrid);
* ``similarity``: cosine similarity of the chunk's embedding to the question's, for every
  mode, so "is anything relevant at all?" is decided the same way whatever the mode;
* ``rank``: its 1-based position.

Methods: MMR, Carbonell & Goldstein (1998), via ``langchain_chroma``'s
``maximal_marginal_relevance``; reciprocal rank fusion, Cormack, Clarke & Buettcher (2009),
score = sum over rankings of 1 / (k + rank), k = 60.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from langchain_chroma import Chroma
from langchain_chroma.vectorstores import maximal_marginal_relevance
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag_core.config import RetrievalMode
from rag_core.keyword import KeywordIndex

logger = logging.getLogger(__name__)

RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("dense", "mmr", "bm25", "hybrid")


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists by reciprocal rank fusion (Cormack et al., SIGIR 2009).

    Args:
        rankings: several rankings, each a list of ids, best first.
        k: the RRF constant (60 in the paper).

    Returns:
        ``(id, score)`` pairs sorted by descending fused score; ties keep first-seen order.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


class ChunkRetriever(BaseRetriever):
    """LangChain retriever over a Chroma collection and its BM25 keyword index.

    Attributes:
        store: the Chroma vector store of chunks.
        keyword_index: the BM25 index of the same chunks (needed for bm25 and hybrid).
        mode: "dense", "mmr", "bm25" or "hybrid".
        k: top-k chunks returned.
        fetch_k: candidates per ranking before MMR or fusion.
        mmr_lambda: MMR relevance/diversity trade-off in [0, 1].
        rrf_k: reciprocal rank fusion constant.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Chroma
    keyword_index: KeywordIndex | None = None
    mode: RetrievalMode = "hybrid"
    k: int = 5
    fetch_k: int = 50
    mmr_lambda: float = 0.5
    rrf_k: int = 60

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.retrieve(query)

    def retrieve(self, query: str, *, k: int | None = None) -> list[Document]:
        """Return the top-k chunks for ``query`` (see the module doc for metadata).

        Args:
            query: the question.
            k: overrides the retriever's top-k.

        Returns:
            At most k Documents, best first, with ``id`` set.

        Raises:
            ValueError: bm25 or hybrid mode without a keyword index.
        """
        top = k or self.k
        collection = self.store._collection
        total = collection.count()
        if total == 0 or not query.strip():
            return []
        query_vec = np.asarray(self.store.embeddings.embed_query(query), dtype=np.float32)
        fetch = min(max(self.fetch_k, top), total)
        if self.mode in ("dense", "mmr"):
            dense = self._dense(query_vec, fetch if self.mode == "mmr" else min(top, total))
            if self.mode == "dense":
                return _ranked(dense[:top], "similarity")
            return _ranked(self._mmr(query_vec, dense, top), "similarity")
        if self.keyword_index is None:
            raise ValueError(f"retrieval mode {self.mode} needs a keyword index")
        keyword_hits = self.keyword_index.search(query, fetch)
        if self.mode == "bm25":
            docs = self._by_ids([i for i, _ in keyword_hits[:top]], query_vec)
            for doc, (_, score) in zip(docs, keyword_hits, strict=False):
                doc.metadata["bm25"] = score
            return _ranked(docs, "bm25")
        dense = self._dense(query_vec, fetch)
        fused = reciprocal_rank_fusion(
            [[d.id or "" for d in dense], [i for i, _ in keyword_hits]], k=self.rrf_k
        )[:top]
        known = {d.id: d for d in dense}
        missing = [i for i, _ in fused if i not in known]
        for doc in self._by_ids(missing, query_vec):
            known[doc.id] = doc
        bm25 = dict(keyword_hits)
        docs = []
        for chunk_id, score in fused:
            doc = known.get(chunk_id)
            if doc is None:
                continue
            doc.metadata["rrf"] = score
            if chunk_id in bm25:
                doc.metadata["bm25"] = bm25[chunk_id]
            docs.append(doc)
        return _ranked(docs, "rrf")

    def _dense(self, query_vec: np.ndarray, n: int) -> list[Document]:
        got = self.store._collection.query(
            query_embeddings=[query_vec.tolist()],
            n_results=n,
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
            doc = Document(id=chunk_id, page_content=text or "", metadata=dict(meta or {}))
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

    def _by_ids(self, ids: list[str], query_vec: np.ndarray) -> list[Document]:
        if not ids:
            return []
        got = self.store._collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        rows: dict[str, Document] = {}
        for chunk_id, text, meta, emb in zip(
            got["ids"],
            got["documents"],  # type: ignore[arg-type]
            got["metadatas"],  # type: ignore[arg-type]
            got["embeddings"],  # type: ignore[arg-type]
            strict=True,
        ):
            doc = Document(id=chunk_id, page_content=text or "", metadata=dict(meta or {}))
            doc.metadata["similarity"] = float(np.dot(np.asarray(emb, dtype=np.float32), query_vec))
            rows[chunk_id] = doc
        return [rows[i] for i in ids if i in rows]


def _ranked(docs: list[Document], score_key: str) -> list[Document]:
    for rank, doc in enumerate(docs, start=1):
        doc.metadata.pop("_embedding", None)
        doc.metadata["rank"] = rank
        doc.metadata["score"] = float(doc.metadata.get(score_key, 0.0))
    return docs


def build_retriever(
    store: Chroma,
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
        keyword_index=keyword_index,
        mode=mode,
        k=k,
        fetch_k=fetch_k,
        mmr_lambda=mmr_lambda,
        rrf_k=rrf_k,
        **extra,
    )
