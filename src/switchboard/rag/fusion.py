"""Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009) and a convex combination
of normalised scores, as pure functions.

Each retriever ``r`` returns a ranked list; a chunk ``d`` scores

    score(d) = Σ_r  w_r / (k + rank_r(d))

over the retrievers that returned ``d`` (``rank_r`` 1-based, ``w_r`` defaults to 1). The
fused list is sorted by score descending; ties go to the better (smaller) best individual
rank, then to the smaller chunk id, so the order never depends on input order. Scores are
summed with ``math.fsum``, so equal sums compare equal whatever the retrievers' order.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from switchboard.rag.types import Ranked

DEFAULT_K = 60
"""The constant of the original paper, also Elasticsearch's and OpenSearch's default."""


class Fusion(enum.StrEnum):
    """How hybrid search fuses its retrievers: reciprocal ranks (``rrf``) or a convex
    combination of normalised scores (``convex``)."""

    RRF = "rrf"
    CONVEX = "convex"


@dataclass(frozen=True)
class Fused:
    """One fused result: its RRF score and each retriever's 1-based rank and raw score."""

    chunk_id: str
    score: float
    ranks: dict[str, int]
    scores: dict[str, float]

    @property
    def best_rank(self) -> int:
        return min(self.ranks.values())


def rrf(
    rankings: Mapping[str, Sequence[Ranked]],
    *,
    k: int = DEFAULT_K,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Fused]:
    """Fuse ``rankings`` (retriever name → its ranked results) into one list, best first.

    ``weights`` maps retriever names to weights >= 0 (missing names weigh 1); a chunk returned
    only by zero-weight retrievers scores 0 but is still listed. ``limit`` keeps the first
    ``limit`` results. Raises ``ValueError`` for ``k < 1``, a negative, non-finite or unknown
    weight, a negative ``limit``, a rank below 1 or a chunk listed twice by one retriever.
    """
    _check_k(k)
    resolved = _resolve_weights(rankings, weights)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    ranks, raw_scores = _collect(rankings)
    fused = [
        Fused(
            chunk_id=chunk_id,
            score=_rrf_score(ranks[chunk_id], resolved, k),
            ranks=ranks[chunk_id],
            scores=raw_scores[chunk_id],
        )
        for chunk_id in ranks
    ]
    fused.sort(key=lambda f: (-f.score, f.best_rank, f.chunk_id))
    return fused if limit is None else fused[:limit]


def convex(
    rankings: Mapping[str, Sequence[Ranked]],
    *,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Fused]:
    """Fuse by raw scores: each retriever's scores min-max normalised over what it returned,
    combined with ``weights`` scaled to sum to 1 (a retriever that did not return a chunk
    adds 0 for it; one whose scores are all equal gives each of its results 1).

    Rank fusion discards how far apart the scores are; a convex combination keeps it and,
    with weights measured on the corpus, does not fall below its better retriever where RRF
    does (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval",
    TOIS 2023). Ties and errors as for ``rrf``."""
    resolved = _resolve_weights(rankings, weights)
    total = math.fsum(resolved.values())
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    ranks, raw_scores = _collect(rankings)
    bounds = {name: _bounds([hit.score for hit in hits]) for name, hits in rankings.items()}
    share = {name: (w / total if total > 0 else 0.0) for name, w in resolved.items()}
    fused = [
        Fused(
            chunk_id=chunk_id,
            score=math.fsum(
                share[r] * _unit(raw_scores[chunk_id][r], bounds[r]) for r in ranks[chunk_id]
            ),
            ranks=ranks[chunk_id],
            scores=raw_scores[chunk_id],
        )
        for chunk_id in ranks
    ]
    fused.sort(key=lambda f: (-f.score, f.best_rank, f.chunk_id))
    return fused if limit is None else fused[:limit]


def _bounds(scores: Sequence[float]) -> tuple[float, float]:
    return (min(scores), max(scores)) if scores else (0.0, 0.0)


def _unit(score: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return (score - low) / (high - low) if high > low else 1.0


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")


def _resolve_weights(
    rankings: Mapping[str, Sequence[Ranked]], weights: Mapping[str, float] | None
) -> dict[str, float]:
    given = dict(weights or {})
    unknown = sorted(set(given) - set(rankings))
    if unknown:
        raise ValueError(f"weights name unknown retrievers {unknown}; known: {sorted(rankings)}")
    for name, weight in given.items():
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {name!r} must be finite and >= 0, got {weight}")
    return {name: float(given.get(name, 1.0)) for name in rankings}


def _collect(
    rankings: Mapping[str, Sequence[Ranked]],
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """Per chunk id: each retriever's rank and raw score (fresh dicts, inputs untouched)."""
    ranks: dict[str, dict[str, int]] = {}
    scores: dict[str, dict[str, float]] = {}
    for retriever, results in rankings.items():
        for hit in results:
            if hit.rank < 1:
                raise ValueError(
                    f"{retriever!r} ranks {hit.chunk_id!r} at {hit.rank}; ranks start at 1"
                )
            if retriever in ranks.get(hit.chunk_id, {}):
                raise ValueError(f"{retriever!r} returned {hit.chunk_id!r} more than once")
            ranks.setdefault(hit.chunk_id, {})[retriever] = hit.rank
            scores.setdefault(hit.chunk_id, {})[retriever] = hit.score
    return ranks, scores


def _rrf_score(ranks: Mapping[str, int], weights: Mapping[str, float], k: int) -> float:
    return math.fsum(weights[r] / (k + rank) for r, rank in ranks.items())
