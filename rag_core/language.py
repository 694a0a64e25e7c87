"""Which language a question or a document is in, and whether the embedding model covers it."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable

HANGUL_SHARE_KOREAN = 0.3
"""A question whose letters are at least 30% Hangul syllables is treated as Korean."""


def hangul_share(text: str) -> float:
    """Return the share of letters in ``text`` that are Hangul syllables (U+AC00-U+D7A3)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum("\uac00" <= c <= "\ud7a3" for c in letters) / len(letters)


def question_language(text: str) -> str:
    """Return "ko" for a mostly-Korean question, "en" otherwise (used for messages)."""
    return "ko" if hangul_share(text) >= HANGUL_SHARE_KOREAN else "en"


def embedding_covers(query: str, embedding_languages: str) -> bool:
    """Tell whether the embedding model can embed ``query`` meaningfully.

    all-MiniLM-L6-v2 was trained on English data only (its model card); its vectors for
    Korean text are close to noise (dense recall@5 0.16 on the Korean dev questions against
    0.96 for English), so for such a model a Korean question is "not covered".

    Args:
        query: the question.
        embedding_languages: "multilingual", or a comma-separated list of ISO 639-1 codes
            the model handles, e.g. "en" (the setting ``embedding_languages``).

    Returns:
        True when dense retrieval should be trusted for this question.
    """
    langs = {part.strip().lower() for part in embedding_languages.split(",") if part.strip()}
    if "multilingual" in langs or "*" in langs:
        return True
    return question_language(query) in langs


LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}
"""The languages a document or question is told apart by, with their English names."""

PAGE_MIN_LETTERS = 20
"""A page with fewer letters than this (a blank page, a page number) has no language."""

DOCUMENT_LANGUAGE_MIN_SHARE = 1 / 3
"""A language is recorded for a document when at least this share of its text pages is in
it. ``lshort-ko.pdf`` has 14% Latin-only pages (index, bibliography, code listings) and
records "ko" alone; a document alternating Korean and English pages records "en,ko"."""

_HANGUL_RE = re.compile("[\uac00-\ud7a3]")
_LATIN_RE = re.compile("[A-Za-z\u00c0-\u024f]")
_COMMAND_RE = re.compile(r"\\[A-Za-z]+")


def page_language(text: str) -> str:
    r"""Return the language of one page's text: "ko", "en" or "" (too few letters).

    The rule of :func:`question_language` (Hangul syllables at least
    :data:`HANGUL_SHARE_KOREAN` of the letters: Korean; otherwise Latin-script text counts
    as English), counted with regular expressions (C speed: about 50 ms for the 850,000
    characters of a 311-page manual). LaTeX commands (``\frac``) are not counted, so a
    Korean page with code examples stays Korean.

    Args:
        text: the page's text (or any text).

    Returns:
        "ko", "en", or "" with fewer than :data:`PAGE_MIN_LETTERS` Hangul or Latin letters.
    """
    text = _COMMAND_RE.sub(" ", text)
    hangul = len(_HANGUL_RE.findall(text))
    letters = hangul + len(_LATIN_RE.findall(text))
    if letters < PAGE_MIN_LETTERS:
        return ""
    return "ko" if hangul / letters >= HANGUL_SHARE_KOREAN else "en"


def document_languages(pages: Iterable[str]) -> str:
    """Return the languages of a document from its pages' texts, e.g. "en", "ko", "en,ko".

    Each page gets :func:`page_language`; a language counts when at least
    :data:`DOCUMENT_LANGUAGE_MIN_SHARE` of the pages with text are in it.

    Args:
        pages: the text of each page (a chunk, several chunks of a page joined, ...).

    Returns:
        Sorted comma-separated ISO 639-1 codes; "" when no page has enough letters.
    """
    counts: dict[str, int] = {}
    for text in pages:
        language = page_language(text)
        if language:
            counts[language] = counts.get(language, 0) + 1
    total = sum(counts.values())
    found = [lang for lang, n in counts.items() if n >= DOCUMENT_LANGUAGE_MIN_SHARE * total]
    return ",".join(sorted(found))


def parse_languages(value: str) -> frozenset[str]:
    """Split a recorded languages value ("en,ko") into a set of codes ("" gives none)."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def chunk_languages(chunks: Iterable[tuple[Hashable, str]]) -> str:
    """Return a document's languages from its chunks (:func:`document_languages` by page).

    Args:
        chunks: ``(page, text)`` of each chunk, any order; chunks of one page are joined.

    Returns:
        Sorted comma-separated ISO 639-1 codes, e.g. "ko"; "" when nothing has letters.
    """
    pages: dict[Hashable, list[str]] = {}
    for page, text in chunks:
        pages.setdefault(page, []).append(text)
    return document_languages("\n".join(texts) for texts in pages.values())
