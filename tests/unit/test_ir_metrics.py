from math import log2

import pytest

from switchboard_bench.ir_metrics import (
    dcg,
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    ndcg_at_k_leaderboard,
    rank,
    recall_at_k,
    run_from_rankings,
)

pytestmark = pytest.mark.unit

# One query with graded judgments: a=3, b=2, c=1 relevant; x=0 and n=-1 not relevant.
GRADED_QRELS = {"q1": {"a": 3, "b": 2, "c": 1, "x": 0, "n": -1}}
# Ranked x, a, b, z, c: the first three are x(0), a(3), b(2); c (1) only at rank 5.
GRADED_RUN = {"q1": {"x": 0.9, "a": 0.8, "b": 0.7, "z": 0.6, "c": 0.5}}


def test_dcg_uses_linear_gain_and_log2_discount() -> None:
    assert dcg([3, 2, 1]) == pytest.approx(3 + 2 / log2(3) + 1 / 2)
    assert dcg([0, 0, 4]) == pytest.approx(2.0)
    assert dcg([]) == 0.0


def test_rank_orders_by_score_then_docid_descending_like_trec_eval() -> None:
    assert rank({"d1": 0.5, "d2": 0.7, "d10": 0.5}) == ["d2", "d10", "d1"]
    assert rank({"a": 1.0, "b": 1.0, "c": 2.0}) == ["c", "b", "a"]
    assert rank({}) == []


def test_run_from_rankings_keeps_list_order() -> None:
    run = run_from_rankings({"q": ["c", "a", "b"]})
    assert run == {"q": {"c": 3.0, "a": 2.0, "b": 1.0}}
    assert rank(run["q"]) == ["c", "a", "b"]


def test_graded_ndcg_hand_computed() -> None:
    dcg3 = 0 + 3 / log2(3) + 2 / log2(4)
    idcg3 = 3 + 2 / log2(3) + 1 / log2(4)
    assert ndcg_at_k(GRADED_RUN, GRADED_QRELS, k=3) == pytest.approx(dcg3 / idcg3)
    assert ndcg_at_k(GRADED_RUN, GRADED_QRELS, k=3) == pytest.approx(0.607492, abs=1e-6)


def test_graded_ndcg_cut_at_5_includes_the_late_doc() -> None:
    dcg5 = 3 / log2(3) + 2 / log2(4) + 1 / log2(6)
    idcg5 = 3 + 2 / log2(3) + 1 / log2(4)
    assert ndcg_at_k(GRADED_RUN, GRADED_QRELS, k=5) == pytest.approx(dcg5 / idcg5)


def test_gain_is_linear_not_exponential() -> None:
    qrels = {"q": {"a": 3, "b": 1}}
    run = {"q": {"b": 2.0, "a": 1.0}}
    linear = (1 + 3 / log2(3)) / (3 + 1 / log2(3))
    exponential = (1 + 7 / log2(3)) / (7 + 1 / log2(3))
    assert ndcg_at_k(run, qrels, k=2) == pytest.approx(linear)
    assert ndcg_at_k(run, qrels, k=2) != pytest.approx(exponential)


def test_graded_leaderboard_ndcg_uses_retrieved_ideal() -> None:
    # Top 3 gains [0, 3, 2]; their ideal order [3, 2, 0].
    expected = (3 / log2(3) + 2 / log2(4)) / (3 + 2 / log2(3))
    assert ndcg_at_k_leaderboard(GRADED_RUN, GRADED_QRELS, k=3) == pytest.approx(expected)


def test_graded_recall_and_mrr() -> None:
    assert recall_at_k(GRADED_RUN, GRADED_QRELS, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(GRADED_RUN, GRADED_QRELS, k=5) == 1.0
    assert mrr_at_k(GRADED_RUN, GRADED_QRELS, k=3) == 0.5
    assert mrr_at_k(GRADED_RUN, GRADED_QRELS, k=1) == 0.0


def test_leaderboard_and_standard_differ_when_relevant_docs_are_missed() -> None:
    qrels = {"q": {"a": 1, "b": 1, "c": 1}}
    run = {"q": {"a": 0.9, "b": 0.8, "z": 0.7}}  # c never retrieved
    assert ndcg_at_k(run, qrels) == pytest.approx((1 + 1 / log2(3)) / (1 + 1 / log2(3) + 0.5))
    assert ndcg_at_k_leaderboard(run, qrels) == 1.0
    assert recall_at_k(run, qrels) == pytest.approx(2 / 3)


def test_leaderboard_is_zero_without_relevant_docs_in_top_k() -> None:
    qrels = {"q": {"a": 2}}
    run = {"q": {"z": 0.9, "y": 0.8, "a": 0.1}}
    assert ndcg_at_k_leaderboard(run, qrels, k=2) == 0.0
    assert ndcg_at_k(run, qrels, k=2) == 0.0
    # At k=3 the top 3 gains are [0, 0, 2] and their ideal order [2, 0, 0]: (2/2) / 2.
    assert ndcg_at_k_leaderboard(run, qrels, k=3) == pytest.approx(0.5)


def test_leaderboard_penalises_wrong_order_within_top_k() -> None:
    qrels = {"q": {"a": 2, "b": 1, "c": 3}}
    run = {"q": {"b": 0.9, "a": 0.8}}  # c (the best) missed; b and a swapped
    expected = (1 + 2 / log2(3)) / (2 + 1 / log2(3))
    assert ndcg_at_k_leaderboard(run, qrels) == pytest.approx(expected)


def test_ties_are_broken_by_docid_descending() -> None:
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 1.0, "b": 1.0}}  # ranked b, a
    assert ndcg_at_k(run, qrels) == pytest.approx(1 / log2(3))
    assert mrr_at_k(run, qrels) == 0.5
    assert recall_at_k(run, qrels, k=1) == 0.0
    assert ndcg_at_k_leaderboard(run, qrels) == pytest.approx(1 / log2(3))


def test_run_dict_order_is_ignored() -> None:
    forward = {"q1": dict(GRADED_RUN["q1"])}
    backward = {"q1": dict(reversed(list(GRADED_RUN["q1"].items())))}
    assert evaluate(forward, GRADED_QRELS, k=3) == evaluate(backward, GRADED_QRELS, k=3)


def test_non_positive_relevance_counts_as_non_relevant() -> None:
    qrels = {"q": {"a": 1, "n": -1, "x": 0}}
    run = {"q": {"n": 0.9, "x": 0.8, "a": 0.7}}
    assert ndcg_at_k(run, qrels) == pytest.approx(1 / log2(4))
    assert ndcg_at_k_leaderboard(run, qrels) == pytest.approx(1 / log2(4))
    assert mrr_at_k(run, qrels) == pytest.approx(1 / 3)
    assert recall_at_k(run, qrels) == 1.0


def test_missing_and_empty_queries_score_zero_in_the_mean() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}}
    run = {"q1": {"a": 1.0}, "q3": {}, "extra": {"a": 1.0}}
    scores = evaluate(run, qrels)
    assert scores == {
        "ndcg@10": pytest.approx(1 / 3),
        "ndcg@10_leaderboard": pytest.approx(1 / 3),
        "recall@10": pytest.approx(1 / 3),
        "mrr@10": pytest.approx(1 / 3),
    }


def test_query_without_relevant_judgment_scores_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}
    run = {"q1": {"a": 1.0}, "q2": {"b": 1.0}}
    assert evaluate(run, qrels, k=1) == {
        "ndcg@1": 0.5,
        "ndcg@1_leaderboard": 0.5,
        "recall@1": 0.5,
        "mrr@1": 0.5,
    }


def test_evaluate_matches_the_single_metrics_and_names_keys_from_k() -> None:
    qrels = {**GRADED_QRELS, "q2": {"p": 1, "r": 2}}
    run = {**GRADED_RUN, "q2": {"r": 0.3, "s": 0.2, "p": 0.1}}
    assert evaluate(run, qrels, k=3) == {
        "ndcg@3": ndcg_at_k(run, qrels, 3),
        "ndcg@3_leaderboard": ndcg_at_k_leaderboard(run, qrels, 3),
        "recall@3": recall_at_k(run, qrels, 3),
        "mrr@3": mrr_at_k(run, qrels, 3),
    }
    assert mrr_at_k(run, qrels, 3) == pytest.approx((0.5 + 1.0) / 2)


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_rejects_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match="k must be"):
        evaluate(GRADED_RUN, GRADED_QRELS, k=k)
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(GRADED_RUN, GRADED_QRELS, k=k)


def test_rejects_empty_qrels() -> None:
    with pytest.raises(ValueError, match="no query"):
        recall_at_k(GRADED_RUN, {})
