"""Reciprocal rank fusion of several rankings (Cormack, Clarke & Buettcher, SIGIR 2009)."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: list[list[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked id lists by (weighted) reciprocal rank fusion (Cormack et al., SIGIR 2009).

    Args:
        rankings: several rankings, each a list of ids, best first.
        k: the RRF constant (60 in the paper).
        weights: one weight per ranking (all 1.0 if None: plain RRF); a weight of 0 leaves
            that ranking out.

    Returns:
        ``(id, score)`` pairs sorted by descending fused score, score = sum over rankings of
        weight / (k + rank); ties keep first-seen order; ids with score 0 are dropped.
    """
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if weight <= 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)
