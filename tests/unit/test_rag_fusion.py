import math

import pytest

from switchboard.rag.fusion import Fused, convex, rrf
from switchboard.rag.types import Ranked

pytestmark = pytest.mark.unit


def ranked(*chunk_ids: str) -> list[Ranked]:
    """Results in the given order, ranks 1.., raw scores 10, 9, ..."""
    return [Ranked(chunk_id=c, score=10.0 - i, rank=i + 1) for i, c in enumerate(chunk_ids)]


BM25 = ranked("a", "b", "c")
DENSE = ranked("b", "c", "d")


def test_two_lists_hand_computed_scores_and_order() -> None:
    fused = rrf({"bm25": BM25, "dense": DENSE})
    assert [f.chunk_id for f in fused] == ["b", "c", "a", "d"]
    expected = {
        "a": 1 / 61,
        "b": 1 / 62 + 1 / 61,
        "c": 1 / 63 + 1 / 62,
        "d": 1 / 63,
    }
    for f in fused:
        assert f.score == pytest.approx(expected[f.chunk_id], abs=1e-15)


def test_records_each_retrievers_rank_and_raw_score() -> None:
    by_id = {f.chunk_id: f for f in rrf({"bm25": BM25, "dense": DENSE})}
    assert by_id["b"] == Fused(
        chunk_id="b",
        score=by_id["b"].score,
        ranks={"bm25": 2, "dense": 1},
        scores={"bm25": 9.0, "dense": 10.0},
    )
    assert by_id["a"].ranks == {"bm25": 1}
    assert by_id["d"].scores == {"dense": 8.0}


def test_k_changes_scores() -> None:
    fused = rrf({"bm25": BM25, "dense": DENSE}, k=1)
    assert fused[0].chunk_id == "b"
    assert fused[0].score == pytest.approx(1 / 3 + 1 / 2)


def test_exact_tie_is_broken_by_chunk_id() -> None:
    fused = rrf({"bm25": ranked("y", "x"), "dense": ranked("x", "y")})
    assert fused[0].score == fused[1].score
    assert [f.chunk_id for f in fused] == ["x", "y"]


def test_tie_is_broken_by_best_individual_rank_before_chunk_id() -> None:
    # k=1: "p" scores 2/(1+3) = 0.5 at bm25 rank 3, "q" scores 1/(1+1) = 0.5 at dense rank 1.
    rankings = {"bm25": ranked("m", "n", "p"), "dense": ranked("q")}
    fused = rrf(rankings, k=1, weights={"bm25": 2.0})
    by_id = {f.chunk_id: f for f in fused}
    assert by_id["p"].score == by_id["q"].score == 0.5
    ids = [f.chunk_id for f in fused]
    assert ids.index("q") < ids.index("p")


def test_tie_over_four_retrievers_is_exact() -> None:
    # a: 1/8 + 1/9 + 1/9 + 1/8 and b: 1/9 + 1/8 + 1/8 + 1/9 are summed in different orders.
    rankings = {
        "r1": ranked("a", "b"),
        "r2": ranked("b", "a"),
        "r3": ranked("b", "a"),
        "r4": ranked("a", "b"),
    }
    fused = rrf(rankings, k=7)
    assert fused[0].score == fused[1].score
    assert [f.chunk_id for f in fused] == ["a", "b"]


def test_result_does_not_depend_on_retriever_order() -> None:
    forward = rrf({"bm25": BM25, "dense": DENSE, "x": ranked("d", "a")})
    backward = rrf({"x": ranked("d", "a"), "dense": DENSE, "bm25": BM25})
    assert [(f.chunk_id, f.score) for f in forward] == [(f.chunk_id, f.score) for f in backward]


def test_zero_weight_reproduces_the_other_retrievers_order() -> None:
    fused = rrf({"bm25": BM25, "dense": DENSE}, weights={"bm25": 0.0})
    assert [f.chunk_id for f in fused] == ["b", "c", "d", "a"]
    assert fused[-1].score == 0.0
    assert fused[-1].ranks == {"bm25": 1}

    only_bm25 = rrf({"bm25": BM25, "dense": DENSE}, weights={"dense": 0.0})
    assert [f.chunk_id for f in only_bm25][:3] == ["a", "b", "c"]


def test_weights_scale_contributions() -> None:
    fused = rrf({"bm25": BM25, "dense": DENSE}, weights={"dense": 3.0})
    by_id = {f.chunk_id: f.score for f in fused}
    assert by_id["b"] == pytest.approx(1 / 62 + 3 / 61)
    assert by_id["a"] == pytest.approx(1 / 61)


def test_limit_keeps_the_best() -> None:
    rankings = {"bm25": BM25, "dense": DENSE}
    assert [f.chunk_id for f in rrf(rankings, limit=2)] == ["b", "c"]
    assert rrf(rankings, limit=0) == []
    assert len(rrf(rankings, limit=99)) == 4


def test_empty_inputs() -> None:
    assert rrf({}) == []
    assert rrf({"bm25": [], "dense": []}) == []


def test_single_retriever_keeps_its_order() -> None:
    fused = rrf({"dense": DENSE})
    assert [f.chunk_id for f in fused] == ["b", "c", "d"]
    assert all(f.best_rank == i + 1 for i, f in enumerate(fused))


def test_uses_given_ranks_not_list_positions() -> None:
    shifted = [Ranked("z", 1.0, 5)]
    assert rrf({"dense": shifted})[0].score == pytest.approx(1 / 65)


def test_inputs_are_not_mutated_and_outputs_are_fresh() -> None:
    bm25 = list(BM25)
    rankings = {"bm25": bm25, "dense": list(DENSE)}
    weights = {"bm25": 2.0}
    first = rrf(rankings, weights=weights)
    assert rankings == {"bm25": BM25, "dense": DENSE}
    assert weights == {"bm25": 2.0}
    first[0].ranks["bm25"] = 99
    second = rrf(rankings, weights=weights)
    assert second[0].ranks["bm25"] == 2


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_rejects_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match="k must be"):
        rrf({"bm25": BM25}, k=k)


@pytest.mark.parametrize("weight", [-0.1, math.inf, math.nan])
def test_rejects_bad_weight(weight: float) -> None:
    with pytest.raises(ValueError, match="weight of 'bm25'"):
        rrf({"bm25": BM25}, weights={"bm25": weight})


def test_rejects_unknown_weight_key() -> None:
    with pytest.raises(ValueError, match=r"unknown retrievers \['sparse'\]"):
        rrf({"bm25": BM25}, weights={"sparse": 1.0})


def test_rejects_negative_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        rrf({"bm25": BM25}, limit=-1)


def test_rejects_rank_below_one() -> None:
    with pytest.raises(ValueError, match="ranks start at 1"):
        rrf({"bm25": [Ranked("a", 1.0, 0)]})


def test_rejects_duplicate_chunk_in_one_ranking() -> None:
    with pytest.raises(ValueError, match="more than once"):
        rrf({"bm25": [Ranked("a", 2.0, 1), Ranked("a", 1.0, 2)]})


# -- convex combination -------------------------------------------------------------------


def scored(*pairs: tuple[str, float]) -> list[Ranked]:
    return [Ranked(chunk_id=c, score=s, rank=i) for i, (c, s) in enumerate(pairs, start=1)]


def test_convex_sums_min_max_normalised_scores_with_weights_summing_to_one() -> None:
    bm25 = scored(("a", 12.0), ("b", 7.0), ("c", 2.0))  # normalised 1, 0.5, 0
    dense = scored(("b", 0.9), ("d", 0.5), ("a", 0.4))  # normalised 1, 0.2, 0

    fused = convex({"bm25": bm25, "dense": dense}, weights={"bm25": 1.0, "dense": 3.0})

    expected = {"b": 0.25 * 0.5 + 0.75, "a": 0.25, "d": 0.75 * 0.2, "c": 0.0}
    assert [f.chunk_id for f in fused] == ["b", "a", "d", "c"]
    for f in fused:
        assert f.score == pytest.approx(expected[f.chunk_id])
    assert fused[0].ranks == {"bm25": 2, "dense": 1}
    assert fused[0].scores == {"bm25": 7.0, "dense": 0.9}


def test_convex_keeps_a_wide_score_gap_that_rrf_loses() -> None:
    # BM25's scores are nearly flat, dense is sure of "answer": rank fusion cannot see it.
    bm25 = scored(("x", 2.02), ("y", 2.01), ("answer", 2.0))
    dense = scored(("answer", 0.9), ("x", 0.31), ("y", 0.3))
    assert rrf({"bm25": bm25, "dense": dense})[0].chunk_id == "x"

    fused = convex({"bm25": bm25, "dense": dense}, weights={"bm25": 0.2, "dense": 0.8})

    assert fused[0].chunk_id == "answer"
    assert fused[0].score == pytest.approx(0.8)


def test_convex_of_equal_scores_and_default_weights() -> None:
    fused = convex({"bm25": scored(("a", 3.0), ("b", 3.0)), "dense": scored(("b", 0.5))})
    assert {f.chunk_id: f.score for f in fused} == {"a": 0.5, "b": 1.0}


def test_convex_with_all_weights_zero_lists_everything_at_zero() -> None:
    fused = convex({"bm25": scored(("a", 3.0), ("b", 1.0))}, weights={"bm25": 0.0})
    assert [(f.chunk_id, f.score) for f in fused] == [("a", 0.0), ("b", 0.0)]


def test_convex_refuses_what_rrf_refuses() -> None:
    with pytest.raises(ValueError, match="unknown retrievers"):
        convex({"bm25": BM25}, weights={"dense": 1.0})
    with pytest.raises(ValueError, match="limit"):
        convex({"bm25": BM25}, limit=-1)
    assert len(convex({"bm25": BM25, "dense": DENSE}, limit=2)) == 2
