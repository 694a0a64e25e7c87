"""Cross-lingual search: the question, its translations, one fused ranking.

When the question's language (:func:`~rag_core.retrieval.language.question_language`) is
not among the languages of the documents searched (recorded at ingest, see
:class:`DocumentLanguages`), :class:`CrossLingualSearch` asks the chat model for the
question in each of the documents' languages (:class:`~rag_core.retrieval.translation.
QueryTranslator`) on a worker thread while the question as asked is already being
searched, then searches with each translation and fuses the rankings by reciprocal rank
fusion (Cormack, Clarke & Buettcher, SIGIR 2009). When the question's language is present,
the question alone is searched: no model call, no extra work beyond reading the document
list's languages. The app's chain, ``rag_core retrieve`` and ``rag_core eval`` all search
through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel

from rag_core.index.registry import DocumentRegistry
from rag_core.index.vector_store import VectorStore
from rag_core.retrieval.fusion import reciprocal_rank_fusion
from rag_core.retrieval.language import (
    LANGUAGE_NAMES,
    chunk_languages,
    parse_languages,
    question_language,
)
from rag_core.retrieval.translation import QueryTranslator, Translation

logger = logging.getLogger(__name__)

_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-translate")
"""Runs translation requests (HTTP calls to Ollama) beside the first search."""

ORIGINAL_WEIGHT = 0.5
"""RRF weight of the question's own ranking when it is fused with its translations' (1.0
each). Its language is not in the documents, so it matches only language-neutral tokens
(commands, names, numbers). On the cross-lingual development sets (``benchmarks/
crosslingual.py``, a grid of 1.0 / 0.5 / 0.25 / 0 and depths 1 / 2 / 4): equal weights
gave recall@5 0.94, MRR@5 0.72; 0.5 with depth 2 gave 0.98 and 0.85; the translation alone
(0) 0.96 and 0.87."""

FUSION_DEPTH = 2
"""Each query retrieves ``FUSION_DEPTH * k`` chunks before the fusion keeps k, so a chunk
found by two queries at ranks 6-10 can still rise (see :data:`ORIGINAL_WEIGHT`)."""

_LANGUAGES_OF: dict[str, str] = {}
"""Languages worked out from stored chunks, by sha256 (content: valid for ever)."""

_BY_VERSION: dict[tuple[str, str], frozenset[str]] = {}
"""A collection's languages by (registry name, document-list version token)."""

_BY_VERSION_SIZE = 64
"""Entries of :data:`_BY_VERSION` kept (old versions are never asked for again)."""


class DocumentLanguages:
    """The languages of a collection's complete documents, from its document list.

    Documents indexed before languages were recorded (``languages`` "") get theirs from
    their stored chunks on first use (:func:`~rag_core.retrieval.language.chunk_languages`,
    one read of the document's chunks, kept in memory by sha256), so an older store
    searches across languages without a re-index and nothing is written to the shared
    document list from a read path.

    Args:
        registry: the collection's document list.
        store: its chunks.
    """

    def __init__(self, registry: DocumentRegistry, store: VectorStore) -> None:
        """Keep the registry and the store; nothing is read yet."""
        self.registry = registry
        self.store = store

    def __call__(self) -> frozenset[str]:
        """Return the union of the complete documents' languages.

        Read from the document list once per version of it: afterwards a question costs
        one read of the version token (by id, as the BM25 index's freshness check).

        Raises:
            CollectionDeletedError, StoreUnavailableError: from the registry or store.
        """
        key = (self.registry.name, self.registry.version())
        if key[1] and key in _BY_VERSION:
            return _BY_VERSION[key]
        languages = self._read()
        if key[1]:
            if len(_BY_VERSION) >= _BY_VERSION_SIZE:
                _BY_VERSION.clear()
            _BY_VERSION[key] = languages
        return languages

    def _read(self) -> frozenset[str]:
        languages: set[str] = set()
        for record in self.registry.list():
            recorded = record.languages or _LANGUAGES_OF.get(record.sha256)
            if recorded is None:
                chunks = self.store.document_chunks(record.sha256)
                recorded = chunk_languages((meta.get("page"), text) for _, text, meta in chunks)
                _LANGUAGES_OF[record.sha256] = recorded
                logger.info("languages of %s worked out from its chunks: %s", record.name, recorded)
            languages |= parse_languages(recorded)
        return frozenset(languages)


@dataclass
class SearchResult:
    """What one search found and how.

    Attributes:
        docs: the top-k chunks, best first (fused when there were translations).
        queries: the queries searched with: the question as asked first, then each
            translation used.
        translations: every translation attempted (including failed ones).
    """

    docs: list[Document]
    queries: list[str]
    translations: list[Translation] = field(default_factory=list)

    @property
    def notices(self) -> list[tuple[str, dict[str, Any]]]:
        """``(code, params)`` of each translation that could not be used.

        Codes: "translation_unavailable" (the model could not be asked: params
        ``languages``, ``error_code`` (the :class:`~rag_core.errors.OllamaError` code),
        ``error`` (its message), ``host``, ``model``) and "translation_unusable" (the
        reply was no translation; params ``languages``).
        """
        failed = [t for t in self.translations if not t.text]
        out: list[tuple[str, dict[str, Any]]] = []
        unavailable = [t for t in failed if t.error_code != "unusable"]
        unusable = [t for t in failed if t.error_code == "unusable"]
        if unavailable:
            first = unavailable[0]
            params = {**first.params, "error_code": first.error_code, "error": first.error}
            out.append(("translation_unavailable", {**params, "languages": _names(unavailable)}))
        if unusable:
            out.append(("translation_unusable", {"languages": _names(unusable)}))
        return out


def _names(translations: Sequence[Translation]) -> str:
    return ", ".join(LANGUAGE_NAMES.get(t.target, t.target) for t in translations)


def _key(doc: Document) -> str:
    return f"{doc.metadata.get('collection', '')}/{doc.id}"


def fuse_rankings(
    rankings: Sequence[Sequence[Document]],
    k: int,
    *,
    rrf_k: int = 60,
    weights: Sequence[float] | None = None,
) -> list[Document]:
    """Fuse the rankings of several queries into the top ``k`` by reciprocal rank fusion.

    A chunk found by several queries keeps the scores that make it most relevant for the
    "not in the documents" gate (:func:`rag_core.retrieval.relevance.is_relevant`): the
    highest ``keyword_coverage`` (so a translation's BM25 coverage counts) and, when any
    query's language is covered by the embedding model, ``embedding_covered`` with the
    highest such ``similarity``.

    Args:
        rankings: per query, its chunks best first (from one retriever).
        k: chunks to return.
        rrf_k: the RRF constant (60, Cormack et al. 2009).
        weights: one weight per ranking (all 1.0 if None).

    Returns:
        At most k Documents with ``rank`` (1-based) and ``score`` (the fused RRF score).
    """
    best: dict[str, Document] = {}
    for ranking in rankings:
        for doc in ranking:
            key = _key(doc)
            kept = best.setdefault(key, doc)
            if kept is doc:
                continue
            meta, other = kept.metadata, doc.metadata
            meta["keyword_coverage"] = max(
                float(meta.get("keyword_coverage", 0.0)), float(other.get("keyword_coverage", 0.0))
            )
            if other.get("embedding_covered", True):
                similarity = float(other.get("similarity", 0.0))
                if not meta.get("embedding_covered", True):
                    meta["embedding_covered"], meta["similarity"] = True, similarity
                else:
                    meta["similarity"] = max(float(meta.get("similarity", 0.0)), similarity)
    fused = reciprocal_rank_fusion(
        [[_key(d) for d in ranking] for ranking in rankings], k=rrf_k, weights=weights
    )[:k]
    docs = []
    for rank, (key, score) in enumerate(fused, start=1):
        doc = best[key]
        doc.metadata["rank"], doc.metadata["score"] = rank, score
        docs.append(doc)
    return docs


@dataclass
class CrossLingualSearch:
    """Searches with the question and, when its language is missing, its translations.

    Attributes:
        retriever: a :class:`~rag_core.retrieval.retrievers.ChunkRetriever` or
            :class:`~rag_core.retrieval.retrievers.MultiCollectionRetriever` (anything
            with ``retrieve(query, k=)``; ``document_languages()`` if it can translate).
        translator: asks the chat model; None = never translate (``RAG_TRANSLATE_QUERIES``
            off).
        k: top-k returned; the retriever's ``k`` if None.
        rrf_k: the RRF constant of the fusion.
        original_weight: RRF weight of the question's own ranking against 1.0 for each
            translation's (see :data:`ORIGINAL_WEIGHT`).
        depth: chunks each query retrieves before the fusion, as a multiple of k.
    """

    retriever: Any
    translator: QueryTranslator | None = None
    k: int | None = None
    rrf_k: int = 60
    original_weight: float = ORIGINAL_WEIGHT
    depth: int = FUSION_DEPTH

    def targets(self, query: str) -> list[str]:
        """Return the languages to translate ``query`` into.

        The documents' languages when the query's own language is not among them; none
        when it is, when the languages are unknown, or without a translator.
        """
        if self.translator is None or not hasattr(self.retriever, "document_languages"):
            return []
        languages = self.retriever.document_languages()
        if not languages or question_language(query) in languages:
            return []
        return sorted(lang for lang in languages if lang in LANGUAGE_NAMES)

    def search(self, query: str) -> SearchResult:
        """Return the top-k chunks for ``query`` and the queries used.

        Raises:
            CollectionDeletedError, StoreUnavailableError: from the store (a translation
                failure never raises: the question as asked is searched alone and the
                result's :attr:`SearchResult.notices` say why).
        """
        top = self.k or int(getattr(self.retriever, "k", 5))
        targets = self.targets(query)
        if not targets:
            return SearchResult(self._retrieve(query, top), [query])
        assert self.translator is not None
        translate: Callable[[str, str], Translation] = self.translator.translate
        pending = [_EXECUTOR.submit(translate, query, target) for target in targets]
        deep = top * self.depth
        rankings = [self._retrieve(query, deep)]  # while the model translates
        translations = [future.result() for future in pending]
        queries = [query]
        for translation in translations:
            if translation.text and translation.text not in queries:
                rankings.append(self._retrieve(translation.text, deep))
                queries.append(translation.text)
        if len(rankings) == 1:
            return SearchResult(rankings[0][:top], queries, translations)
        weights = [self.original_weight] + [1.0] * (len(rankings) - 1)
        fused = fuse_rankings(rankings, top, rrf_k=self.rrf_k, weights=weights)
        return SearchResult(fused, queries, translations)

    def _retrieve(self, query: str, k: int) -> list[Document]:
        if hasattr(self.retriever, "retrieve"):
            return list(self.retriever.retrieve(query, k=k))
        return list(self.retriever.invoke(query))


def build_search(
    retriever: Any, llm: BaseChatModel | None, *, translate: bool = True, rrf_k: int = 60
) -> CrossLingualSearch:
    """The search the chain, ``retrieve`` and ``eval`` use over ``retriever``.

    Args:
        retriever: see :class:`CrossLingualSearch`.
        llm: the chat model that translates; None = no translation.
        translate: the ``translate_queries`` setting (``RAG_TRANSLATE_QUERIES``).
        rrf_k: the RRF constant (setting ``rrf_k``).
    """
    translator = QueryTranslator(llm) if translate and llm is not None else None
    return CrossLingualSearch(retriever, translator, rrf_k=rrf_k)


__all__ = [
    "FUSION_DEPTH",
    "ORIGINAL_WEIGHT",
    "CrossLingualSearch",
    "DocumentLanguages",
    "SearchResult",
    "build_search",
    "fuse_rankings",
]
