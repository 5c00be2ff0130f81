"""Retrieval quality metrics over a run and its relevance judgments, as BEIR reports them.

A *run* maps each query id to the documents retrieved for it and their scores; *qrels* map
each query id to judged documents and their integer relevance. Everywhere:

- Ranking is trec_eval's: score descending, then document id descending (trec_eval's
  ``comp_sim_docno`` compares ``strcmp(b.docno, a.docno)`` on equal scores; Python's
  code-point order equals ``strcmp``'s byte order on UTF-8). The run's dict order is ignored.
- A document is relevant when its relevance is > 0; relevance <= 0 and unjudged documents
  have gain 0 (trec_eval does the same: a retrieved doc judged -1 neither adds nor subtracts).
- Gain is the relevance value itself (linear, not ``2**rel - 1``) and the document at 1-based
  rank ``i`` is discounted by ``log2(i + 1)``: ``DCG@k = Σ_{i<=k} rel_i / log2(i + 1)``.
- The mean is over every query in qrels; a query absent from the run, or with no relevant
  judgment, scores 0 (trec_eval ``-c``). BEIR divides by the queries present in the run
  instead, so with a complete run the two agree. Queries only in the run are ignored.

``ndcg_at_k`` equals pytrec_eval's ``ndcg_cut_k`` per query. ``ndcg_at_k_leaderboard`` is the
variant of the agentset-ai embedding leaderboard, whose ideal DCG comes from the retrieved
top k rather than from all judgments (see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]
QueryMetric = Callable[[Sequence[str], Mapping[str, int], int], float]


def rank(scores: Mapping[str, float]) -> list[str]:
    """Document ids best first, in trec_eval's order (score desc, then document id desc)."""
    return sorted(scores, key=lambda doc_id: (scores[doc_id], doc_id), reverse=True)


def run_from_rankings(rankings: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """A run from ranked id lists: scores ``n, n-1, ..., 1`` keep each list's order."""
    return {
        query_id: {doc_id: float(len(ids) - i) for i, doc_id in enumerate(ids)}
        for query_id, ids in rankings.items()
    }


def dcg(gains: Sequence[float]) -> float:
    """``Σ gain_i / log2(i + 1)`` over 1-based positions ``i``, summed in rank order."""
    total = 0.0
    for position, gain in enumerate(gains, start=1):
        if gain > 0:
            total += gain / math.log2(position + 1)
    return total


def query_ndcg(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k of one query; the ideal is the top k of *all* its relevant judgments."""
    ideal = dcg(sorted(_relevant(judged).values(), reverse=True)[:k])
    return dcg(_gains(ranking, judged, k)) / ideal if ideal > 0 else 0.0


def query_ndcg_leaderboard(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k of one query against the ideal order of the *retrieved* top k.

    With ``g_1..g_k`` the gains of the retrieved top k and ``g*`` the same gains sorted
    descending, the score is ``DCG(g) / DCG(g*)``, or 0 when the top k holds no relevant
    document. Relevant documents that were not retrieved do not lower the score: any top k
    whose relevant documents are in descending relevance order scores 1.
    """
    gains = _gains(ranking, judged, k)
    ideal = dcg(sorted(gains, reverse=True))
    return dcg(gains) / ideal if ideal > 0 else 0.0


def query_recall(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k over all relevant documents of the query (else 0)."""
    relevant = _relevant(judged)
    hits = sum(1 for doc_id in ranking[:k] if doc_id in relevant)
    return hits / len(relevant) if relevant else 0.0


def query_reciprocal_rank(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """``1 / rank`` of the first relevant document within the top k, else 0."""
    for position, doc_id in enumerate(ranking[:k], start=1):
        if judged.get(doc_id, 0) > 0:
            return 1.0 / position
    return 0.0


def ndcg_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k as pytrec_eval's ``ndcg_cut_k`` computes it per query."""
    return _mean(query_ndcg, run, qrels, k)


def ndcg_at_k_leaderboard(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k with the ideal taken from each query's retrieved top k."""
    return _mean(query_ndcg_leaderboard, run, qrels, k)


def recall_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean recall@k as BEIR (pytrec_eval ``recall_k``) computes it."""
    return _mean(query_recall, run, qrels, k)


def mrr_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant document within the top k."""
    return _mean(query_reciprocal_rank, run, qrels, k)


METRICS: dict[str, QueryMetric] = {
    "ndcg@{k}": query_ndcg,
    "ndcg@{k}_leaderboard": query_ndcg_leaderboard,
    "recall@{k}": query_recall,
    "mrr@{k}": query_reciprocal_rank,
}
"""Report key template → per-query metric, in the order ``evaluate`` reports them."""


def evaluate(run: Run, qrels: Qrels, k: int = 10) -> dict[str, float]:
    """``{"ndcg@k", "ndcg@k_leaderboard", "recall@k", "mrr@k"}`` averaged over qrels' queries."""
    _check(qrels, k)
    rankings = _rankings(run, qrels)
    return {
        template.format(k=k): _mean_of(metric, rankings, qrels, k)
        for template, metric in METRICS.items()
    }


def _relevant(judged: Mapping[str, int]) -> dict[str, int]:
    return {doc_id: rel for doc_id, rel in judged.items() if rel > 0}


def _gains(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> list[float]:
    return [float(max(judged.get(doc_id, 0), 0)) for doc_id in ranking[:k]]


def _rankings(run: Run, qrels: Qrels) -> dict[str, list[str]]:
    return {query_id: rank(run.get(query_id, {})) for query_id in qrels}


def _mean(metric: QueryMetric, run: Run, qrels: Qrels, k: int) -> float:
    _check(qrels, k)
    return _mean_of(metric, _rankings(run, qrels), qrels, k)


def _mean_of(
    metric: QueryMetric, rankings: Mapping[str, Sequence[str]], qrels: Qrels, k: int
) -> float:
    return sum(metric(rankings[q], judged, k) for q, judged in qrels.items()) / len(qrels)


def _check(qrels: Qrels, k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not qrels:
        raise ValueError("qrels hold no query to average over")
