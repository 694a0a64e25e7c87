"""Fusing rankings: reciprocal rank fusion and a convex combination of normalised scores.

* Reciprocal rank fusion: Cormack, Clarke & Buettcher, SIGIR 2009.
* Convex combination: Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
  Retrieval", ACM TOIS 42(1), 2023: with min-max normalised scores it beat RRF on in- and
  out-of-domain sets and is robust to its one weight; RRF with k = 60 ranks any chunk
  found by both retrievers above one found by a single retriever, however good.
"""

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


def min_max(scores: Sequence[float]) -> list[float]:
    """Min-max normalise scores to [0, 1] (all 1.0 when they are equal)."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high <= low:
        return [1.0] * len(scores)
    return [(s - low) / (high - low) for s in scores]


def convex_combination(
    dense: Sequence[tuple[str, float]],
    keyword: Sequence[tuple[str, float]],
    *,
    alpha: float,
) -> list[tuple[str, float]]:
    """Fuse dense and keyword candidates by ``alpha * dense + (1 - alpha) * keyword``.

    Each side's scores are min-max normalised over its own candidates (Bruch et al. 2023,
    "MM"); a chunk missing from one side gets 0 there (it scored below that side's
    candidates).

    Args:
        dense: ``(id, cosine similarity)`` candidates of the dense retriever.
        keyword: ``(id, BM25 score)`` candidates of the keyword retriever.
        alpha: weight of the dense side in [0, 1]; 0 = keyword order only (dense-only
            candidates follow at score 0).

    Returns:
        ``(id, fused score in [0, 1])`` pairs, best first; ties keep the dense-then-keyword
        first-seen order.
    """
    fused: dict[str, float] = {}
    for (chunk_id, _), score in zip(dense, min_max([s for _, s in dense]), strict=True):
        fused[chunk_id] = alpha * score
    for (chunk_id, _), score in zip(keyword, min_max([s for _, s in keyword]), strict=True):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + (1.0 - alpha) * score
    return sorted(fused.items(), key=lambda pair: pair[1], reverse=True)
