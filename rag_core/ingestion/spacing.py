"""Restore the spaces between Korean words that a PDF's text layer has lost.

Some PDFs (TeX-made ones in particular) place Korean words without space glyphs, and
pypdf's text then glues them ("가운데정렬한다"). A page is respaced when its share of long
Hangul tokens shows lost spacing (:func:`lost_spacing`); Kiwi's ``space()``
(https://github.com/bab2min/kiwipiepy, ``Kiwi.space``, batched over the page's lines)
proposes the spacing, and only the spaces it *inserts* between two characters are kept:
the original whitespace (line breaks included) stays, and a result whose non-space
characters differ from the input is rejected. Every character of the respaced text maps
back to its offset in the original text (:attr:`Respaced.offsets`), so a chunk cut from
the respaced text knows where it lies in the extractor's text, and the page view, which
matches non-space characters, lands on the same glyphs either way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag_core.index.analyzer import shared_analyzer

logger = logging.getLogger(__name__)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
"""Precomposed Hangul syllables (U+AC00-U+D7A3)."""
LONG_TOKEN_CHARS = 10
"""A whitespace-delimited Hangul token longer than this counts as glued words: Korean
words (eojeol) are rarely longer (lshort-ko.pdf, as pypdf reads it: 1.1% of its Hangul
tokens)."""
LOST_SPACING_SHARE = 0.15
"""A page whose share of long Hangul tokens reaches this has lost its spacing. Pages of
lshort-ko.pdf, a normally spaced Korean PDF, reach at most 0.10 (median 0.007)."""
MIN_HANGUL_TOKENS = 5
"""Pages with fewer Hangul tokens are not judged (too little evidence)."""
SPLIT_SYLLABLE_SHARE = 0.3
"""A text whose Hangul tokens are single syllables at least this often has its words split
into syllables ("교 차 참 조"), as Tesseract's Korean model writes them: 61-71% of the
tokens on OCR'd lshort-ko.pdf pages, 7-9% in the same pages' text layer."""
HANGUL_GAP = re.compile(r"(?<=[\uac00-\ud7a3]) (?=[\uac00-\ud7a3])")
RESPACED_KEY = "_respaced"
"""Page metadata key holding the page's :class:`Respaced` until it is split (never stored)."""


@dataclass(frozen=True)
class Respaced:
    """A page text with restored spaces.

    Attributes:
        text: the respaced text.
        offsets: for each character of ``text``, its offset in the original text, or the
            offset of the next original character for an inserted space; one more entry
            at the end (the original's length), so ``offsets[end]`` maps an end offset.
        inserted: how many spaces were inserted.
    """

    text: str
    offsets: list[int]
    inserted: int

    def to_original(self, index: int) -> int:
        """Map a character offset in :attr:`text` (0..len) to the original text."""
        return self.offsets[max(0, min(index, len(self.offsets) - 1))]


def hangul_tokens(text: str) -> list[str]:
    """Whitespace-delimited tokens of ``text`` that contain a Hangul syllable."""
    return [token for token in text.split() if HANGUL.search(token)]


def long_token_share(text: str) -> float | None:
    """Share of Hangul tokens longer than :data:`LONG_TOKEN_CHARS` characters.

    Args:
        text: a page's text.

    Returns:
        The share in [0, 1], or None when the text has no Hangul token.
    """
    tokens = hangul_tokens(text)
    if not tokens:
        return None
    return sum(len(token) > LONG_TOKEN_CHARS for token in tokens) / len(tokens)


def lost_spacing(text: str, threshold: float = LOST_SPACING_SHARE) -> bool:
    """Whether a page's Korean text has lost the spaces between words.

    Args:
        text: a page's text.
        threshold: the share of long Hangul tokens (:func:`long_token_share`) from which
            spacing counts as lost; 0 respaces every page with enough Hangul.

    Returns:
        True when the page has at least :data:`MIN_HANGUL_TOKENS` Hangul tokens and
        their long share reaches ``threshold``.
    """
    if not HANGUL.search(text):
        return False
    tokens = hangul_tokens(text)
    if len(tokens) < MIN_HANGUL_TOKENS:
        return False
    return sum(len(t) > LONG_TOKEN_CHARS for t in tokens) / len(tokens) >= threshold


def split_syllables(text: str) -> bool:
    """Whether ``text`` writes Korean words as space-separated syllables (OCR output)."""
    tokens = hangul_tokens(text)
    if len(tokens) < MIN_HANGUL_TOKENS:
        return False
    return sum(len(token) == 1 for token in tokens) / len(tokens) >= SPLIT_SYLLABLE_SHARE


def rejoin_syllables(text: str, *, kiwi: Any | None = None) -> str:
    """Join syllables split by single spaces, then let Kiwi space the words again.

    Only spaces between two Hangul syllables are removed, and Kiwi only inserts spaces
    (:func:`respace`), so the non-space characters (and the OCR word boxes they map to)
    stay as they were.

    Args:
        text: OCR output (see :func:`split_syllables`).
        kiwi: a ``kiwipiepy.Kiwi``; the process-wide one (the BM25 analyzer's) if None.

    Returns:
        The text with Korean words spaced by Kiwi.
    """
    joined = HANGUL_GAP.sub("", text)
    respaced = respace(joined, kiwi=kiwi)
    return respaced.text if respaced is not None else joined


def insert_spaces(original: str, proposed: str) -> Respaced | None:
    """Keep only the spaces ``proposed`` inserts between two non-space characters.

    Args:
        original: the text as extracted.
        proposed: Kiwi's spacing of it (may also remove or move whitespace).

    Returns:
        ``original`` with the inserted spaces, and its offset map; None when the
        non-space characters of the two texts differ (the proposal is rejected).
    """
    if [c for c in original if not c.isspace()] != [c for c in proposed if not c.isspace()]:
        return None
    # positions (in original) before which the proposal puts a space between non-spaces
    gaps: set[int] = set()
    j = 0
    for i, char in enumerate(original):
        if char.isspace():
            continue
        spaced = False
        while proposed[j].isspace():
            spaced = True
            j += 1
        j += 1
        if spaced and i > 0 and not original[i - 1].isspace():
            gaps.add(i)
    chars: list[str] = []
    offsets: list[int] = []
    for i, char in enumerate(original):
        if i in gaps:
            chars.append(" ")
            offsets.append(i)
        chars.append(char)
        offsets.append(i)
    offsets.append(len(original))
    return Respaced("".join(chars), offsets, len(gaps))


def respace(text: str, *, kiwi: Any | None = None) -> Respaced | None:
    """Restore the spaces of one page, its Hangul lines in one batched ``Kiwi.space`` call.

    Args:
        text: the page's text.
        kiwi: a ``kiwipiepy.Kiwi``; the process-wide one (the BM25 analyzer's) if None.

    Returns:
        The respaced page, or None when Kiwi changed a non-space character or inserted
        nothing.
    """
    lines = text.split("\n")
    todo = [i for i, line in enumerate(lines) if HANGUL.search(line)]
    if not todo:
        return None
    wanted = [lines[i] for i in todo]
    spaced: Sequence[str] = (
        list(kiwi.space(wanted))
        if kiwi is not None
        else shared_analyzer().with_kiwi(lambda shared: list(shared.space(wanted)))
    )
    proposed = list(lines)
    for i, line in zip(todo, spaced, strict=True):
        proposed[i] = line
    result = insert_spaces(text, "\n".join(proposed))
    if result is None:
        logger.info("Kiwi changed characters while respacing a page; kept the original")
        return None
    return result if result.inserted else None


__all__ = [
    "LOST_SPACING_SHARE",
    "RESPACED_KEY",
    "Respaced",
    "insert_spaces",
    "long_token_share",
    "lost_spacing",
    "rejoin_syllables",
    "respace",
    "split_syllables",
]
