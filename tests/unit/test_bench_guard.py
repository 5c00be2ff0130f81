"""``bench guard``'s latency measurement on a guard of regex detectors."""

from __future__ import annotations

import pytest

from switchboard_bench.guard_bench import (
    answer_texts,
    golden_messages,
    input_latency,
    output_latency,
)
from tests.unit.guard_fakes import make_guard

pytestmark = pytest.mark.unit


def test_output_latency_counts_the_hold_back_at_the_token_pace() -> None:
    guard, _ = make_guard()
    prose = ["you can send it back within thirty days, free of charge, from anywhere."]
    result = output_latency(guard, prose, 100.0, lambda: None)
    # the first word goes out when the second arrives (10 ms later at 100 tokens/s)
    assert 10 <= result["added_ttft"]["p50_ms"] < 20
    assert result["answers_passed_unchanged"] == 1

    names = ["Alice Smith Alice Smith Alice Smith will write to you, ok."]
    held = output_latency(guard, names, 100.0, lambda: None, exempt_sources=False)
    assert held["added_ttft"]["p50_ms"] >= 60  # six capitalised words held, then checked
    assert held["answers_passed_unchanged"] == 0  # the name was redacted
    exempt = output_latency(guard, names, 100.0, lambda: None)
    assert exempt["answers_passed_unchanged"] == 1  # the source's own name is no leak


def test_input_latency_times_the_turn_and_each_detector() -> None:
    guard, _ = make_guard()
    ticks: list[None] = []
    result = input_latency(guard, golden_messages()[:5], lambda: ticks.append(None))
    assert result["messages"] == 5
    assert len(ticks) == 5
    assert set(result["per_detector"]) == {"pii", "injection", "toxicity"}


def test_answer_texts_are_article_paragraphs() -> None:
    texts = answer_texts()
    assert len(texts) >= 40
    assert all(120 <= len(t) <= 500 for t in texts)
    assert not any(t.startswith(("---", "#")) for t in texts)
