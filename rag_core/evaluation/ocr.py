"""OCR quality: character error rate (CER) of recognised text against known text.

CER is the Levenshtein distance (insertions, deletions and substitutions of one character)
between the recognised and the reference text divided by the reference's length, the usual
OCR measure (e.g. Neudecker et al., "A survey of OCR evaluation tools and metrics", HIP
2021). Here all whitespace is removed from both texts first: Korean OCR output is
respaced afterwards (:mod:`rag_core.ingestion.spacing`), so spacing is not what is scored.
Used by ``benchmarks/ocr_cer.py`` and the OCR tests.
"""

from __future__ import annotations


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings (Wagner-Fischer, one row of the table kept).

    Args:
        a: first string.
        b: second string.

    Returns:
        The least number of one-character insertions, deletions and substitutions that
        turn ``a`` into ``b``; O(len(a) * len(b)) time, O(min(len)) memory.
    """
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def character_error_rate(recognised: str, reference: str) -> float:
    """CER of ``recognised`` against ``reference``, whitespace removed from both.

    Args:
        recognised: OCR output.
        reference: the known text of the same page.

    Returns:
        Edit distance / reference length (0.0 is perfect; it can exceed 1.0 when the
        output is longer than the reference); the distance itself for an empty reference.
    """
    hyp, ref = "".join(recognised.split()), "".join(reference.split())
    return levenshtein(hyp, ref) / max(1, len(ref))


__all__ = ["character_error_rate", "levenshtein"]
