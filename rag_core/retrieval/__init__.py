"""Retrieval: retrievers over a collection, fusion, the relevance gate, the reranker.

Modules: :mod:`~rag_core.retrieval.retrievers` (dense, MMR, BM25, hybrid; several
collections), :mod:`~rag_core.retrieval.fusion` (reciprocal rank fusion),
:mod:`~rag_core.retrieval.relevance` (the "not in the documents" gate),
:mod:`~rag_core.retrieval.reranker` (optional cross-encoder).
"""
