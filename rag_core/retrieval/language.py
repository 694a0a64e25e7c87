"""Which language a question is in, and whether the embedding model covers it."""

from __future__ import annotations

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
