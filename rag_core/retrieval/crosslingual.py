"""Cross-lingual search: the question, its translations, one fused ranking.

The languages of the documents searched are recorded at ingest (see
:class:`DocumentLanguages`). When any of them differs from the question's
(:func:`~rag_core.language.question_language`), :class:`CrossLingualSearch` asks
the chat model for the question in each other language (:class:`~rag_core.retrieval.
translation.QueryTranslator`) on a worker thread while the question as asked is already
being searched, then:

* **mixed collection** (the question's language is among the documents'): each query
  searches only the documents in its own language (the Korean question the Korean
  documents, its English translation the English ones), and the per-language rankings
  are fused by weighted reciprocal rank fusion (k = :data:`LANGUAGE_RRF_K`) with each
  ranking's :func:`match_strength` as its weight, the question's own language counting
  :data:`OWN_LANGUAGE_WEIGHT` times;
* **the question's language is in none of the documents**: the question over every
  document is fused with its translations, at :data:`ORIGINAL_WEIGHT` against 1.0.

Reciprocal rank fusion: Cormack, Clarke & Buettcher, SIGIR 2009. When every document is
in the question's language, the question alone is searched: no model call, no extra work
beyond reading the document list's languages. The app's chain, ``rag_core retrieve`` and
``rag_core eval`` all search through it.
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
from rag_core.language import (
    LANGUAGE_NAMES,
    chunk_languages,
    parse_languages,
    question_language,
)
from rag_core.retrieval.fusion import reciprocal_rank_fusion
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

_BY_VERSION: dict[tuple[str, str], dict[str, frozenset[str]]] = {}
"""Each collection's documents by language, by (registry name, document-list version)."""

_BY_VERSION_SIZE = 64
"""Entries of :data:`_BY_VERSION` kept (old versions are never asked for again)."""


class DocumentLanguages:
    """The languages of a collection's complete documents, from its document list.

    Documents indexed before languages were recorded (``languages`` "") get theirs from
    their stored chunks on first use (:func:`~rag_core.language.chunk_languages`,
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
        """Return the union of the complete documents' languages (e.g. ``{"en", "ko"}``).

        Raises:
            CollectionDeletedError, StoreUnavailableError: from the registry or store.
        """
        return frozenset(language for language in self.by_language() if language)

    def by_language(self) -> dict[str, frozenset[str]]:
        """Return language -> the sha256s of the complete documents in it.

        A document in two languages ("en,ko") is listed under both; one without letters
        ("") under "". Read from the document list once per version of it: afterwards a
        question costs one read of the version token (by id, as the BM25 index's
        freshness check).

        Raises:
            CollectionDeletedError, StoreUnavailableError: from the registry or store.
        """
        key = (self.registry.name, self.registry.version())
        if key[1] and key in _BY_VERSION:
            return _BY_VERSION[key]
        found = self._read()
        if key[1]:
            if len(_BY_VERSION) >= _BY_VERSION_SIZE:
                _BY_VERSION.clear()
            _BY_VERSION[key] = found
        return found

    def _read(self) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        for record in self.registry.list():
            recorded = record.languages or _LANGUAGES_OF.get(record.sha256)
            if recorded is None:
                chunks = self.store.document_chunks(record.sha256)
                recorded = chunk_languages((meta.get("page"), text) for _, text, meta in chunks)
                _LANGUAGES_OF[record.sha256] = recorded
                logger.info("languages of %s worked out from its chunks: %s", record.name, recorded)
            for language in parse_languages(recorded) or {""}:
                found.setdefault(language, set()).add(record.sha256)
        return {language: frozenset(docs) for language, docs in found.items()}


@dataclass
class SearchResult:
    """What one search found and how.

    Attributes:
        docs: the top-k chunks, best first (fused when there were translations).
        queries: the queries searched with: the question as asked first, then each
            translation used.
        translations: every translation attempted (including failed ones).
        required: whether the translations were needed to search at all: the question's
            language is in none of the documents. In a mixed collection (the question's
            language among others) a failed translation only narrows the search to the
            question as asked, over every document, and gives no notice.
    """

    docs: list[Document]
    queries: list[str]
    translations: list[Translation] = field(default_factory=list)
    required: bool = True

    @property
    def notices(self) -> list[tuple[str, dict[str, Any]]]:
        """``(code, params)`` of each translation that could not be used.

        Codes: "translation_unavailable" (the model could not be asked: params
        ``languages``, ``error_code`` (the :class:`~rag_core.errors.OllamaError` code),
        ``error`` (its message), ``host``, ``model``) and "translation_unusable" (the
        reply was no translation; params ``languages``). None when the translations were
        not :attr:`required`.
        """
        if not self.required:
            return []
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


STRENGTH_TOP = 3
"""How many of a ranking's first chunks :func:`match_strength` looks at."""

LANGUAGE_RRF_K = 2
"""RRF constant of the fusion of per-language rankings in a mixed collection: small, so
the weights (:func:`match_strength`) interleave the rankings (equal strengths alternate
them; a ranking half as strong places its first chunk after the other's third) instead
of putting one wholly before the other as k = 60 would."""


OWN_LANGUAGE_WEIGHT = 1.5
"""Factor on the :func:`match_strength` of the question's own-language ranking in a mixed
collection: people mostly ask about documents in their own language, and a paraphrased
question often matches its answer less well than a translation matches some page of an
unrelated document. On the hard development set (``benchmarks/hard_set.py``; factors 1,
1.25, 1.5, 2 and RRF constants 2 and 10 tried) 1.5 with k = 2 kept same-language recall@5
at that of searching without translation (0.69 vs 0.68; 0.64 at factor 1) while
cross-lingual recall@5 went from 0.16 untranslated to 0.75 (0.77 at factor 1, 0.68 at 2)."""


def match_strength(ranking: Sequence[Document]) -> float:
    """How well a query matched the documents it searched, in [0, 1].

    The best keyword coverage (share of the query's content terms found in a chunk,
    :func:`~rag_core.retrieval.relevance.keyword_coverage`) among its first
    :data:`STRENGTH_TOP` chunks, or their best cosine similarity when the embedding model
    covers the query's language and that is higher. Both are on the same scale whatever
    the language, so a Korean query over the Korean documents and its English
    translation over the English ones can be weighed against each other.

    Args:
        ranking: a retriever's chunks for one query, best first (with ``keyword_coverage``,
            ``similarity`` and ``embedding_covered`` metadata).

    Returns:
        The strength; 0 for an empty ranking.
    """
    best = 0.0
    for doc in ranking[:STRENGTH_TOP]:
        meta = doc.metadata
        best = max(best, float(meta.get("keyword_coverage", 0.0)))
        if meta.get("embedding_covered", False):
            best = max(best, float(meta.get("similarity", 0.0)))
    return best


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

        The documents' languages other than the query's own; none when the documents are
        all in the query's language, when their languages are unknown, or without a
        translator.
        """
        if self.translator is None or not hasattr(self.retriever, "document_languages"):
            return []
        asked = question_language(query)
        languages = self.retriever.document_languages()
        return sorted(lang for lang in languages if lang != asked and lang in LANGUAGE_NAMES)

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
        by_language = self._by_language()
        asked = question_language(query)
        mixed = asked in by_language
        # while the model translates: the question in the documents of its own language
        # (and those without one); in all documents when none is in its language
        own = by_language.get(asked, frozenset()) | by_language.get("", frozenset())
        rankings = [self._retrieve(query, deep, own if mixed else None)]
        translations = [future.result() for future in pending]
        queries = [query]
        for translation in translations:
            if translation.text and translation.text not in queries:
                documents = by_language.get(translation.target) if mixed else None
                rankings.append(self._retrieve(translation.text, deep, documents))
                queries.append(translation.text)
        if len(rankings) == 1:
            if mixed:  # no usable translation: the question over every document
                rankings = [self._retrieve(query, top)]
            return SearchResult(rankings[0][:top], queries, translations, not mixed)
        if mixed:
            weights = [max(match_strength(ranking), 0.01) for ranking in rankings]
            weights[0] *= OWN_LANGUAGE_WEIGHT
            fused = fuse_rankings(rankings, top, rrf_k=LANGUAGE_RRF_K, weights=weights)
        else:
            weights = [self.original_weight] + [1.0] * (len(rankings) - 1)
            fused = fuse_rankings(rankings, top, rrf_k=self.rrf_k, weights=weights)
        return SearchResult(fused, queries, translations, not mixed)

    def _by_language(self) -> dict[str, frozenset[str]]:
        by_language = getattr(self.retriever, "documents_by_language", None)
        return by_language() if by_language is not None else {}

    def _retrieve(
        self, query: str, k: int, documents: frozenset[str] | None = None
    ) -> list[Document]:
        if hasattr(self.retriever, "retrieve"):
            if documents is None:
                return list(self.retriever.retrieve(query, k=k))
            return list(self.retriever.retrieve(query, k=k, documents=documents))
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
