"""Scoring a golden case (``evaluation.metrics``): its intent; a run's summary: the answer
paths taken."""

from __future__ import annotations

import pytest

from switchboard.evaluation.golden import GoldenCase
from switchboard.evaluation.metrics import TurnOutcome, path_mix, score_case, summarize

pytestmark = pytest.mark.unit


def outcome(path: str, error: str | None = None, first: float | None = None) -> TurnOutcome:
    return TurnOutcome(
        "answer", "shipping", 0.9, (), (), None, (), {}, {}, 10.0, error, path, first
    )


def test_the_path_mix_is_the_share_of_each_path_most_taken_first() -> None:
    mix = path_mix(["quoted", "generated", "generated", "generated+repaired"])
    assert mix == {"generated": 0.5, "quoted": 0.25, "generated+repaired": 0.25}
    assert next(iter(mix)) == "generated"
    assert path_mix([]) == {}


def test_the_summary_reports_the_paths_of_the_turns_that_did_not_fail() -> None:
    outcomes = [outcome("generated"), outcome("quoted"), outcome("", error="RuntimeError()")]
    summary = summarize([], outcomes)
    assert summary["answer_paths"] == {"generated": 0.5, "quoted": 0.5}


def test_the_first_token_is_timed_over_the_answers_from_the_articles_only() -> None:
    outcomes = [
        outcome("quoted", first=40.0),
        outcome("generated", first=900.0),
        outcome("generated+repaired", first=1000.0),
        outcome("lookup", first=5.0),  # no article answered: not counted
        outcome("not_sure", first=3.0),
        outcome("generated", first=None),  # said nothing
    ]
    summary = summarize([], outcomes)
    assert summary["first_token_ms"]["p50"] == pytest.approx(900.0)
    assert summary["first_token_ms"]["p95"] == pytest.approx(990.0)


def test_the_intent_scored_is_the_routers_best_not_the_one_the_turn_reports() -> None:
    """An unconfident route answered from the articles reports ``question``; intent
    accuracy measures the router, so it scores the router's best intent."""
    case = GoldenCase(
        "c1", "C1", (), "Do you ship abroad?", "shipping", (), (), (), None, "up", (), "dev"
    )
    reported = TurnOutcome(
        "answer", "question", 0.3, (), (), None, (), {}, {}, 10.0, routed_intent="shipping"
    )
    wrong = TurnOutcome(
        "answer", "question", 0.3, (), (), None, (), {}, {}, 10.0, routed_intent="returns"
    )

    assert score_case(case, reported, 5).intent_ok is True
    assert score_case(case, wrong, 5).intent_ok is False
