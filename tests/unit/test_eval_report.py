"""The eval report page (``evaluation.report``) on a hand-made run: it holds the provenance,
the figures and their intervals, one SVG per plot, the failures with their escaped answers,
and references nothing outside itself."""

from __future__ import annotations

import re
from typing import Any

import pytest

from switchboard.evaluation.metrics import CaseScore, TurnOutcome
from switchboard.evaluation.report import failures, interval_plot, render
from switchboard.evaluation.runner import RunResult

pytestmark = pytest.mark.unit

EVIL = "<script>alert('x')</script>"


def case(case_id: str, **fields: Any) -> dict[str, Any]:
    passed = {"case_id": case_id, "tags": ["policy"], "intent_ok": None, "hit": True,
              "citation_precision": 1.0, "facts_found": 1, "facts_total": 1,
              "forbidden_checked": False, "forbidden_found": [], "leak": False,
              "invented_statuses": [], "handoff_ok": True, "error": None, "missing_facts": [],
              "message": f"question {case_id}", "answer": f"answer {case_id}",
              "cited": ["a.md"], "answer_path": "quoted"}  # fmt: skip
    return {**passed, **fields}


def report() -> dict[str, Any]:
    summary = {
        "key_fact_recall": 0.75, "citation_precision": 0.5, "handoff_accuracy": 2 / 3,
        "intent_accuracy": None, "cross_customer_leaks": 1, "invented_statuses": 1,
        "errors": 0,
        "intervals": {"key_fact_recall": [0.5, 1.0], "citation_precision": [0.25, 0.875]},
        "by_tag": {
            "policy": {"cases": 2, "key_fact_recall": 0.5,
                       "key_fact_recall_interval": [0.125, 0.9375]},
            "order": {"cases": 1, "key_fact_recall": None, "key_fact_recall_interval": None},
        },
    }  # fmt: skip
    cases = [
        case("ok-01"),
        case("miss-01", facts_found=0, missing_facts=["12 hours"], answer=EVIL,
             message="how long <b>is</b> a session?"),
        case("leak-01", tags=["probe"], leak=True, forbidden_found=["ORD-2"]),
        case("status-01", tags=["order"], invented_statuses=["shipped"], answer_path="lookup"),
        case("cite-01", citation_precision=0.0),
        case("handoff-01", handoff_ok=False),
    ]  # fmt: skip
    run = {"model": "tiny:q8_0", "chunk_tokens": 64, "settings_hash": "abc123",
           "timings": {"wall_s": 1.5}, "summary": summary, "cases": cases}  # fmt: skip
    return {"commit": "deadbeef", "started_at": "2026-12-08T00:00:00Z", "cases": 6,
            "split": "dev", "tags": ["policy", "order"], "limit": 40, "runs": [run]}  # fmt: skip


def test_the_page_holds_the_provenance_and_each_figure_with_its_interval() -> None:
    page = render(report())
    assert "<td>first N cases only</td><td>40</td>" in page
    for text in ("deadbeef", "tiny:q8_0", "abc123", "dev", "policy, order",
                 "2026-12-08T00:00:00Z"):  # fmt: skip
        assert text in page
    assert "75.0% [50.0%, 100.0%]" in page  # key-fact recall
    assert "50.0% [25.0%, 87.5%]" in page  # citation precision
    assert "66.7%" in page  # handoff accuracy, no interval
    assert "50.0% [12.5%, 93.8%]" in page  # policy's key-fact recall


def test_each_plot_is_an_svg_with_a_dot_per_figure_and_a_bar_per_interval() -> None:
    page = render(report())
    assert page.count("<svg") == 2  # the metrics, key-fact recall per tag
    metrics = page.split("<svg")[1]
    assert metrics.count("<circle") == 3  # the three metrics with a value
    assert metrics.count('stroke-width="4"') == 2  # the two with an interval
    assert metrics.startswith(' role="img" aria-label="metrics"')
    per_tag = page.split("<svg")[2]
    assert per_tag.startswith(' role="img" aria-label="key-fact recall per tag"')
    assert per_tag.count("<circle") == 1  # only "policy" has a key-fact recall


def test_a_dot_and_its_bar_sit_where_the_value_and_interval_fall_on_the_axis() -> None:
    svg = interval_plot("recall", [("recall", 0.5, [0.25, 1.0])])
    assert re.search(r'<circle cx="390\.0"', svg)  # 190 + 400 * 0.5
    assert '<line x1="290.0" y1="13.0" x2="590.0"' in svg


def test_every_failure_is_listed_with_why_and_the_passing_case_is_not() -> None:
    page = render(report())
    assert "Failures (5 of 6 cases)" in page
    expected = (
        "missed key facts", "12 hours", "cross-customer leak", "said a forbidden fact",
        "invented status: shipped", "cited a wrong article", "wrong handoff", "lookup",
    )  # fmt: skip
    for text in expected:
        assert text in page
    assert "answer ok-01" not in page
    assert failures(case("ok-01")) == []


def test_answers_and_messages_are_escaped_so_a_script_is_inert() -> None:
    page = render(report())
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "how long &lt;b&gt;is&lt;/b&gt; a session?" in page


def test_the_page_references_nothing_outside_itself() -> None:
    page = render(report())
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"\b(src|href)\s*=|@import|url\(", page)


def test_a_file_without_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="no runs"):
        render({"commit": "x"})


@pytest.mark.parametrize(
    ("runs", "reason"),
    [
        (["not a run"], "a run without a summary"),
        ([{"summary": {}, "cases": ["not a case"]}], "a run without its cases"),
        ([{"summary": {"key_fact_recall": "high"}, "cases": []}], "key_fact_recall is 'high'"),
        ([{"summary": {"key_fact_recall": 1.5}, "cases": []}], "not a rate"),
        (
            [{"summary": {"intervals": {"citation_precision": [0.1]}}, "cases": []}],
            "citation_precision's interval is",
        ),
        ([{"summary": {"by_tag": {"policy": 3}}, "cases": []}], "a bad by_tag"),
        (
            [{"summary": {"by_tag": {"policy": {"handoff_accuracy": [1]}}}, "cases": []}],
            "handoff_accuracy is",
        ),
    ],
)
def test_a_malformed_run_is_refused_with_its_reason(runs: list[Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        render({"runs": runs})


def test_the_run_file_carries_each_case_message() -> None:
    outcome = TurnOutcome("an answer", "question", 1.0, (), (), None, (), {}, {}, 1.0)
    score = CaseScore("c1", ("policy",), None, None, None, 0, 0, False, (), False, (), True, None)
    result = RunResult("m", 64, {}, [score], [outcome], messages=("how long?",))
    assert result.to_json()["cases"][0]["message"] == "how long?"
