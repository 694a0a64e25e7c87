"""Text -> BM25 terms that understand Korean morphology (shared by BM25 and the support check).

Kiwi (``kiwipiepy``, https://github.com/bab2min/kiwipiepy) splits text into morphemes, so
``검색팀을`` (search team + object particle) gives ``검색``, ``팀`` and matches a query for
``검색팀``. Particles and endings (J*, E*) are dropped; nouns, verb and adjective stems,
roots, numbers, Hanja and Latin words are kept. Latin words are lower-cased, English stop
words (``bm25s``'s list) removed, and stemmed with the Snowball English stemmer
(PyStemmer), so "commands" matches "command".

Each Latin word is handed to Kiwi as one pretokenized span (kiwipiepy's ``pretokenized``
argument, since 0.16): left to itself, Kiwi reads a Latin word before a period as an
abbreviation and splits it ("package." -> "pack" + "age.", "Windows." -> "Wind" + "ows.";
kiwipiepy 0.24). Terms carry :data:`ANALYZER_VERSION`, so an index made by another version
is analysed again (:class:`rag_core.index.keyword.KeywordIndex`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_T = TypeVar("_T")

ANALYZER_VERSION = 2
"""Version of :class:`KiwiAnalyzer`'s terms. 1: Kiwi split a Latin word before a period
("pack" + "age."); 2: each Latin word is one pretokenized span."""

LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*")
"""A Latin word as Kiwi gets it: letters, then letters or digits ("x86", "pdfTeX"), with
inner dots kept ("file.txt", "ko.TeX", as Kiwi reads them); a sentence's final period is not
part of it. Measured against splitting at every dot, which gave the same development-set
recall@5 but lost table cells to file-name terms (HWPX table benchmark 0.95 vs 0.98)."""

KEPT_TAG_PREFIXES = ("NN", "NR", "VV", "VA", "XR", "SL", "SN", "SH", "MM")
"""Kiwi (Sejong) tags kept as terms: nouns, numerals, verb/adjective stems, roots,
Latin words, numbers, Hanja, determiners."""


class KiwiAnalyzer:
    """Text -> BM25 terms, Korean morphemes via Kiwi and stemmed English words."""

    def __init__(self) -> None:
        """Load Kiwi's model (about 2.5 s, from the ``kiwipiepy-model`` package).

        Kiwi finishes loading on its first analysis (1.5 s of the 2.5, holding the GIL),
        so one short text is analysed here rather than in the first ingest or search.
        """
        from kiwipiepy import Kiwi

        self._kiwi = Kiwi()
        self._kiwi.tokenize("warm up")
        self._stemmer = Stemmer.Stemmer("english")
        self._stop = frozenset(STOPWORDS_EN)
        self._lock = threading.Lock()

    def with_kiwi(self, work: Callable[[Any], _T]) -> _T:
        """Run ``work(kiwi)`` on this analyzer's Kiwi, under its lock.

        One Kiwi model per process (about 2.5 s and 200 MB to load) serves BM25 analysis,
        answer sentence splitting (:mod:`rag_core.generation.claims`) and Korean respacing
        (:mod:`rag_core.ingestion.spacing`).
        """
        with self._lock:
            return work(self._kiwi)

    def analyze(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the terms of each text.

        Args:
            texts: n strings.

        Returns:
            n lists of terms, e.g. ``["검색", "팀", "만들"]`` for ``"검색팀을 만들었다"``.
        """
        with self._lock:
            results = list(self._kiwi.tokenize(list(texts), pretokenized=_latin_words))
        return [self._terms(tokens) for tokens in results]

    def _terms(self, tokens: Any) -> list[str]:
        terms: list[str] = []
        latin: list[str] = []
        for token in tokens:
            tag: str = token.tag
            if not tag.startswith(KEPT_TAG_PREFIXES):
                continue
            if tag == "SL":
                word = token.form.lower()
                if word not in self._stop and len(word) > 1:
                    latin.append(word)
            else:
                terms.append(token.form.lower())
        if latin:
            terms.extend(self._stemmer.stemWords(latin))
        return terms


def _latin_words(text: str) -> list[tuple[int, int, str]]:
    """Kiwi pretokenized spans: each Latin word of ``text`` as one SL token."""
    return [(m.start(), m.end(), "SL") for m in LATIN_WORD.finditer(text)]


@lru_cache(maxsize=1)
def shared_analyzer() -> KiwiAnalyzer:
    """Return one process-wide analyzer (Kiwi's model is loaded once)."""
    return KiwiAnalyzer()


__all__ = ["ANALYZER_VERSION", "KEPT_TAG_PREFIXES", "LATIN_WORD", "KiwiAnalyzer", "shared_analyzer"]
