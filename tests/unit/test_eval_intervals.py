"""Bootstrap intervals of a run's rate metrics and the per-tag breakdown
(``evaluation.intervals``), and their place in a run's summary (``metrics.summarize``)."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.evaluation.golden import GoldenCase
from switchboard.evaluation.intervals import (
    bootstrap_interval,
    by_tag,
    case_outcomes,
    intervals,
    paired_difference,
)
from switchboard.evaluation.metrics import TurnOutcome, score_case, summarize

pytestmark = pytest.mark.unit


def case(case_id: str, *, found: int = 1, total: int = 1, handoff_ok: bool = True,
         tags: tuple[str, ...] = ("policy",)) -> dict[str, Any]:  # fmt: skip
    return {
        "case_id": case_id, "tags": list(tags), "intent_ok": True, "hit": None,
        "citation_precision": None, "facts_found": found, "facts_total": total,
        "forbidden_checked": False, "forbidden_found": [], "handoff_ok": handoff_ok,
    }  # fmt: skip


def test_key_fact_recall_counts_facts_not_cases() -> None:
    cases = [case("a", found=2, total=3), case("b", found=0, total=0), case("c", found=1)]
    assert case_outcomes("key_fact_recall", cases) == {"a": (2.0, 3.0), "c": (1.0, 1.0)}


def test_the_interval_holds_the_point_figure_and_is_the_same_on_a_rerun() -> None:
    outcomes = [(1.0, 1.0)] * 30 + [(0.0, 1.0)] * 10
    interval = bootstrap_interval(outcomes)
    assert interval is not None
    lo, hi = interval
    assert 0.55 < lo < 0.75 < hi < 0.9
    assert bootstrap_interval(list(outcomes)) == interval


def test_more_cases_give_a_narrower_interval() -> None:
    small = bootstrap_interval([(1.0, 1.0)] * 6 + [(0.0, 1.0)] * 2)
    large = bootstrap_interval([(1.0, 1.0)] * 60 + [(0.0, 1.0)] * 20)
    assert small is not None
    assert large is not None
    assert large[1] - large[0] < small[1] - small[0]


def test_a_metric_no_case_applies_to_has_no_interval() -> None:
    assert bootstrap_interval([]) is None
    assert intervals([case("a")])["citation_precision"] is None


def test_identical_outcomes_differ_by_exactly_zero() -> None:
    outcomes = [(1.0, 1.0), (0.0, 1.0), (2.0, 3.0)] * 5
    result = paired_difference(outcomes, list(outcomes))
    assert result == (0.0, (0.0, 0.0))


def test_a_paired_difference_needs_the_same_cases() -> None:
    with pytest.raises(ValueError, match="same cases"):
        paired_difference([(1.0, 1.0)], [])


def test_the_breakdown_has_each_tags_count_figures_and_intervals() -> None:
    cases = [case("a", tags=("policy",)), case("b", found=0, tags=("policy", "order")),
             case("c", handoff_ok=False, tags=("order",))]  # fmt: skip
    breakdown = by_tag(cases)
    assert list(breakdown) == ["order", "policy"]
    assert breakdown["policy"]["cases"] == 2
    assert breakdown["policy"]["key_fact_recall"] == 0.5
    assert breakdown["order"]["handoff_accuracy"] == 0.5
    assert breakdown["order"]["citation_precision"] is None
    assert breakdown["order"]["handoff_accuracy_interval"] == [0.0, 1.0]


def test_a_runs_summary_has_intervals_beside_its_figures_and_a_breakdown() -> None:
    golden = [
        GoldenCase(f"c{i}", "C1", (), "When?", "shipping", (), (("3 days",),), (), None,
                   "up", ("policy",), "dev")
        for i in range(10)
    ]  # fmt: skip
    outcomes = [
        TurnOutcome("It takes 3 days." if i < 7 else "Soon.", "shipping", 0.9, (), (), None,
                    (), {}, {}, 10.0, routed_intent="shipping")
        for i in range(10)
    ]  # fmt: skip
    summary = summarize(
        [score_case(c, o, 5) for c, o in zip(golden, outcomes, strict=True)], outcomes
    )
    assert summary["key_fact_recall"] == pytest.approx(0.7)
    lo, hi = summary["intervals"]["key_fact_recall"]
    assert lo < 0.7 < hi
    assert summary["intervals"]["intent_accuracy"] == [1.0, 1.0]
    assert summary["by_tag"]["policy"]["cases"] == 10


def test_the_eval_table_shows_a_rate_with_its_interval() -> None:
    from switchboard.cli.eval_cmds import _cell

    summary = {"key_fact_recall": 0.688, "intervals": {"key_fact_recall": [0.542, 0.824]}}
    assert _cell(summary, "key_fact_recall", "pct") == "68.8% [54.2%, 82.4%]"
    assert _cell({"errors": 0}, "errors", "int") == "0"  # a run written before intervals
