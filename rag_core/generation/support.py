"""Does a cited passage support a claim? A lexical check, optionally with embeddings.

Design (measured by ``benchmarks/support.py`` on ``tests/data/support_labels.jsonl``):

1. Terms. The claim (citation markers removed) and every sentence of the passage go
   through the project's BM25 analyzer (:class:`rag_core.index.analyzer.KiwiAnalyzer`):
   Kiwi morphemes for Korean (particles and endings dropped, so ``패키지를`` and
   ``패키지가`` meet as ``패키지``), Snowball-stemmed English words, numbers, Latin
   identifiers. Question words and generic verbs (:data:`FUNCTION_WORDS`) are dropped.
   Using the retriever's own analyzer means a claim is "supported" by the same notion of
   a matching term that found the passage.
2. Coverage. For each window of one or two consecutive passage sentences, the share of
   the claim's distinct terms found in it; the best window wins. Two sentences because
   an answer sentence often merges two source sentences; not the whole passage, because
   a 500-character chunk shares common words with almost any claim on its topic.
3. Changed facts. Coverage alone misses a changed number, name or negation ("up to 9
   arguments" vs "up to 3 arguments" share every other term). The score is multiplied
   by :data:`NUMBER_PENALTY` when a number of the claim (digits or number words,
   :func:`numbers_in`: "three", "여덟 개") appears nowhere in the passage, by
   :data:`NAME_PENALTY` when a name (:func:`names_in`: LaTeX commands, identifiers,
   proper nouns; every Latin word of a Korean claim) is missing from the passage, and by
   :data:`NEGATION_PENALTY` when the claim is negated ("not", "never", "n't"; Korean
   않-, 못, 없-, 아니-) and the passage is not. The reverse negation check (passage
   negated, claim not) was measured and dropped: a passage sentence usually carries a
   "not" in a clause the claim does not repeat, and it cost more true "supported" than
   it caught flips.
4. Optional semantics. With ``embed`` (texts -> vectors; e.g. the store's embedding
   model), the score becomes ``(lexical + cosine) / 2`` where ``cosine`` is the claim's
   best cosine similarity to a window; its threshold is :data:`EMBED_THRESHOLD`. The
   default model (all-MiniLM-L6-v2) is English-only, so callers should pass ``embed``
   only for English claims (:func:`rag_core.language.embedding_covers`).

Lexical overlap as an entailment proxy is the classic baseline of the RTE challenges
(Dagan et al., 2006, "The PASCAL Recognising Textual Entailment Challenge"); the number
and negation rules target the two contradiction types it misses most (de Marneffe et al.,
2008, "Finding Contradictions in Text").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rag_core.generation.claims import Claim, sentence_spans, strip_citations

SUPPORT_THRESHOLD = 0.6
"""Score at or above which a claim counts as supported (lexical path). Source:
``benchmarks/support.py`` on ``tests/data/support_labels.jsonl`` (100 pairs): agreement
0.80 (English 0.76, Korean 0.84), precision 0.73, recall 0.94; agreement stays within
0.78-0.81 from 0.45 to 0.85, and 0.6 sits in that plateau rather than on its best
point. Most misses are changed facts that keep every word (an option name swapped for
another one the passage also names, a reversed order, "faster" -> "slower")."""

EMBED_THRESHOLD = 0.85
"""Threshold for the combined lexical + embedding score (``embed`` given). Source:
``benchmarks/support.py --embed`` (English pairs, all-MiniLM-L6-v2): agreement 0.82 at
0.85, against 0.76 for the lexical score at :data:`SUPPORT_THRESHOLD`; the cosine of a
changed-fact sentence stays high, so it is a small gain for a model call per claim."""

NUMBER_PENALTY = 0.5
"""Score factor when a number in the claim is missing from the passage."""

NEGATION_PENALTY = 0.5
"""Score factor when the claim is negated and the passage has no negation at all."""

NAME_PENALTY = 0.5
"""Score factor when a name of the claim (:func:`names_in`) is missing from the passage."""

FUNCTION_WORDS = (
    "what which how why when where who whom whose does do did doing done can could should "
    "would may might must shall you your yours we our ours us my me mine he him his she her "
    "its they them their here there also about above after again all am any because been "
    "before being below between both each few from further had has have having just more "
    "most nor now off once only other out over own same so some than too under until up "
    "very were while get gets make makes use uses used"
)
"""Question words, English function words beyond the BM25 stop list and generic verbs;
dropped after analysis (so "does" is dropped as its stem "doe")."""

KOREAN_GENERIC = frozenset(
    [
        "어떻",
        "어떤",
        "무엇",
        "뭐",
        "왜",
        "언제",
        "어디",
        "누구",
        "몇",
        "것",
        "수",
        "있",
        "하",
        "되",
        "이",
        "그",
        "저",
        "등",
        "때",
        "알리",
        "알",
        "좋",
        "경우",
    ]
)
"""Korean question words and generic morphemes (as Kiwi analyzes them), also dropped."""

_NEGATION_RE = re.compile(
    r"\b(?:not(?! only)|never|cannot|no longer|none)\b|n't\b|않|못\s*하|못한|없|아니(?!라)",
    re.IGNORECASE,
)
_SENTENCE_DOT_RE = re.compile(r"(?<=[A-Za-z])([.!?])(?=\s|$)")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_EN_NUMBERS = {
    word: str(value)
    for value, words in enumerate(
        [
            "zero",
            "one single",
            "two twice",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
    for word in words.split()
}
_KO_NUMBERS = {
    word: str(value)
    for value, words in enumerate(
        ["", "하나 한", "둘 두", "셋 세", "넷 네", "다섯", "여섯", "일곱", "여덟", "아홉", "열"]
    )
    for word in words.split()
}
_EN_NUMBER_RE = re.compile(rf"\b(?:{'|'.join(_EN_NUMBERS)})\b", re.IGNORECASE)
_KO_NUMBER_RE = re.compile(
    r"(?<![\uac00-\ud7a3])(하나|둘|셋|넷|다섯|여섯|일곱|여덟|아홉|열|한|두|세|네)"
    r"(?=\s*(?:개|번|가지|줄|장|명|권|쪽|단계|종류|글자|칸)|(?:의|이|가|를|은|는|도)?\s)"
)
_NAME_RE = re.compile(
    r"\\[A-Za-z]+"  # a LaTeX command
    r"|\b[A-Za-z]*\d[\w.-]*"  # with a digit: UTF-8, 10pt, a4paper
    r"|\b[A-Za-z]*[a-z][A-Z]\w*|\b[A-Z]{2,}\w*"  # CamelCase, capitals: MiKTeX, ANSI
    r"|(?<=[\w,;:] )[A-Z][a-z]+"  # a capitalised word inside a sentence: Roman, Knuth
)
_LATIN_WORD_RE = re.compile(r"\\?[A-Za-z][A-Za-z0-9_.-]*")
_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")


class TermAnalyzer(Protocol):
    """Text -> terms, like :meth:`rag_core.index.analyzer.KiwiAnalyzer.analyze`."""

    def analyze(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the terms of each text."""
        ...


Embed = Callable[[list[str]], list[list[float]]]
"""n texts -> n vectors (e.g. ``Embeddings.embed_documents``)."""


@dataclass(frozen=True)
class Support:
    """The verdict of :func:`supports` for one claim and one passage.

    Attributes:
        supported: the decision (``score >= threshold``).
        score: the final score in [0, 1].
        lexical: the best window's weighted term coverage in [0, 1], before penalties.
        semantic: the best window's cosine similarity, or None without ``embed``.
        spans: ``(start, end)`` character offsets in the passage of the supporting
            sentence(s), to highlight; empty when not supported.
        best_spans: the same offsets for the best-matching window, whatever the decision.
    """

    supported: bool
    score: float
    lexical: float
    semantic: float | None
    spans: tuple[tuple[int, int], ...]
    best_spans: tuple[tuple[int, int], ...]


@lru_cache(maxsize=4)
def _generic_terms(analyzer: TermAnalyzer) -> frozenset[str]:
    return frozenset(analyzer.analyze([FUNCTION_WORDS])[0]) | KOREAN_GENERIC


def _analyze(texts: Sequence[str], analyzer: TermAnalyzer) -> list[set[str]]:
    """Analyze texts; a sentence-final period is split off Latin words first.

    Kiwi 0.24 reads "package." at a sentence end as the two Latin tokens "pa" + "ckage."
    (so it never meets "package"); a space before the period avoids that.
    """
    generic = _generic_terms(analyzer)
    prepared = [_SENTENCE_DOT_RE.sub(r" \1", text) for text in texts]
    return [set(terms) - generic for terms in analyzer.analyze(prepared)]


def content_terms(text: str, analyzer: TermAnalyzer) -> set[str]:
    """Return the content terms of ``text``: analyzer terms without :data:`FUNCTION_WORDS`.

    Args:
        text: a claim or a question (citation markers are removed here).
        analyzer: e.g. :func:`rag_core.index.analyzer.shared_analyzer`.

    Returns:
        Distinct terms, e.g. ``{"default", "paper", "size"}``.
    """
    return _analyze([strip_citations(text)], analyzer)[0]


def _windows(n: int) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(n)] + [(i, i + 2) for i in range(n - 1)]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def numbers_in(text: str) -> set[str]:
    """Return the numbers a text states: digits, English and Korean number words.

    Args:
        text: a claim or a passage.

    Returns:
        Numbers as digit strings, e.g. ``{"8", "4.3"}`` for "여덟 개 ... 4.3pt".
    """
    found = set(_NUMBER_RE.findall(text))
    found.update(_EN_NUMBERS[m.group().lower()] for m in _EN_NUMBER_RE.finditer(text))
    found.update(_KO_NUMBERS[m.group(1)] for m in _KO_NUMBER_RE.finditer(text))
    return found


def names_in(claim: str) -> set[str]:
    r"""Return the names a claim mentions, lower-cased: commands, identifiers, proper nouns.

    In a Korean claim every Latin word is a name (package, command, product); in an
    English one, LaTeX commands, words with digits, CamelCase or capitals, and capitalised
    words inside the sentence.

    Args:
        claim: one sentence, citation markers removed.

    Returns:
        e.g. ``{"\noindent", "hyperref"}``.
    """
    pattern = _LATIN_WORD_RE if _HANGUL_RE.search(claim) else _NAME_RE
    return {m.group().lower().strip(".-") for m in pattern.finditer(claim)} - {""}


def _penalty(claim: str, passage: str) -> float:
    """Return the score factor for facts of ``claim`` that ``passage`` does not state."""
    factor = 1.0
    flat = re.sub(r"-?\s+", "", passage).lower()
    if numbers_in(claim) - numbers_in(passage):
        factor *= NUMBER_PENALTY
    if any(re.sub(r"\s+", "", name) not in flat for name in names_in(claim)):
        factor *= NAME_PENALTY
    if _NEGATION_RE.search(claim) and not _NEGATION_RE.search(passage):
        factor *= NEGATION_PENALTY
    return factor


def supports(
    claim: str,
    passage: str,
    *,
    analyzer: TermAnalyzer,
    embed: Embed | None = None,
    threshold: float | None = None,
) -> Support:
    """Decide whether ``passage`` supports ``claim`` (design in the module docstring).

    Args:
        claim: one answer sentence; citation markers may be left in.
        passage: the cited passage (a chunk's text, as shown to the model).
        analyzer: the BM25 analyzer (``shared_analyzer()``), or anything with its
            ``analyze`` method.
        embed: optional texts -> vectors for the semantic part (English claims with the
            default model).
        threshold: override :data:`SUPPORT_THRESHOLD` / :data:`EMBED_THRESHOLD`
            (the benchmark's sweep).

    Returns:
        The :class:`Support`. A claim without content terms ("Yes.") is not supported.

    Raises:
        Whatever ``analyzer`` or ``embed`` raise (nothing is caught here).
    """
    plain = strip_citations(claim)
    claim_terms = content_terms(plain, analyzer)
    spans = sentence_spans(passage)
    if not claim_terms or not spans:
        return Support(False, 0.0, 0.0, None, (), ())
    sentence_terms = _analyze([passage[s:e] for s, e in spans], analyzer)
    windows = _windows(len(spans))
    coverage = [
        len(claim_terms & set().union(*sentence_terms[a:b])) / len(claim_terms) for a, b in windows
    ]
    cosines: list[float] | None = None
    if embed is not None:
        texts = [plain, *(passage[spans[a][0] : spans[b - 1][1]] for a, b in windows)]
        vectors = embed(texts)
        cosines = [_cosine(vectors[0], v) for v in vectors[1:]]
    combined = [
        c if cosines is None else (c + max(0.0, cosines[i])) / 2 for i, c in enumerate(coverage)
    ]
    best = max(range(len(windows)), key=lambda i: (combined[i], -(windows[i][1] - windows[i][0])))
    a, b = windows[best]
    score = combined[best] * _penalty(plain, passage)
    if threshold is None:
        threshold = SUPPORT_THRESHOLD if embed is None else EMBED_THRESHOLD
    best_spans = tuple(spans[a:b])
    supported = score >= threshold
    return Support(
        supported=supported,
        score=score,
        lexical=coverage[best],
        semantic=None if cosines is None else cosines[best],
        spans=best_spans if supported else (),
        best_spans=best_spans,
    )


def claim_support(
    claim: Claim,
    passages: Sequence[str],
    *,
    analyzer: TermAnalyzer,
    embed: Embed | None = None,
) -> tuple[int, Support] | None:
    """Check a claim against each passage it cites and keep the best verdict.

    Args:
        claim: from :func:`rag_core.generation.claims.parse_citations`.
        passages: the numbered passages' texts; ``passages[n - 1]`` is passage ``[n]``.
        analyzer: as in :func:`supports`.
        embed: as in :func:`supports`.

    Returns:
        ``(number, support)`` for the cited passage with the highest score (a supporting
        one if any), or None when the claim cites no valid number.
    """
    verdicts = [
        (n, supports(claim.plain, passages[n - 1], analyzer=analyzer, embed=embed))
        for n in claim.citations
        if 1 <= n <= len(passages)
    ]
    if not verdicts:
        return None
    return max(verdicts, key=lambda pair: (pair[1].supported, pair[1].score))


__all__ = [
    "EMBED_THRESHOLD",
    "FUNCTION_WORDS",
    "KOREAN_GENERIC",
    "NAME_PENALTY",
    "NEGATION_PENALTY",
    "NUMBER_PENALTY",
    "SUPPORT_THRESHOLD",
    "Embed",
    "Support",
    "TermAnalyzer",
    "claim_support",
    "content_terms",
    "names_in",
    "numbers_in",
    "supports",
]
