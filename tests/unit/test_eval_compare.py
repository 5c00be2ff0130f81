"""The regression gate (``evaluation.compare``) on hand-made runs: a planted regression
fails it, an identical run and noise below significance pass it, counts above zero and a
slower first token fail it, and bad files get one clear reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from switchboard.evaluation.compare import compare, load_run

pytestmark = pytest.mark.unit


def run(facts: list[int], *, leaks: int = 0, p95: float = 100.0,
        settings_hash: str | None = "h1") -> dict[str, Any]:  # fmt: skip
    """A run of one case per entry of ``facts`` (1: its key fact found, 0: missed)."""
    cases = [
        {"case_id": f"c{i}", "tags": ["policy"], "intent_ok": True, "hit": True,
         "citation_precision": 1.0, "facts_found": found, "facts_total": 1,
         "forbidden_checked": False, "forbidden_found": [], "handoff_ok": True}
        for i, found in enumerate(facts)
    ]  # fmt: skip
    summary = {"cross_customer_leaks": leaks, "invented_statuses": 0,
               "first_token_ms": {"p50": p95 / 2, "p95": p95}}  # fmt: skip
    return {"summary": summary, "cases": cases, "settings_hash": settings_hash}


def change(result: Any, metric: str) -> Any:
    return next(c for c in result.changes if c.metric == metric)


def test_an_identical_rerun_passes() -> None:
    baseline = run([1] * 30 + [0] * 10)
    result = compare(baseline, run([1] * 30 + [0] * 10))
    assert not result.failed
    recall = change(result, "key_fact_recall")
    assert recall.difference == 0.0
    assert not recall.significant
    assert result.shared_cases == 40
    assert result.same_settings is True


def test_a_planted_regression_of_key_fact_recall_fails_the_gate() -> None:
    baseline = run([1] * 30 + [0] * 10)
    candidate = run([1] * 12 + [0] * 28)  # 18 of the 30 found facts lost
    result = compare(baseline, candidate)
    recall = change(result, "key_fact_recall")
    assert recall.baseline == 0.75
    assert recall.candidate == 0.3
    assert recall.difference == pytest.approx(-0.45)
    assert recall.significant
    assert recall.failed
    assert recall.interval is not None
    assert recall.interval[1] < 0
    assert result.failed


def test_noise_below_significance_passes() -> None:
    baseline = run([1] * 30 + [0] * 10)
    candidate = run([1] * 29 + [0, 1] + [0] * 9)  # one case lost, another won
    candidate["cases"][28]["facts_found"] = 0  # and one more lost: -1 of 40
    result = compare(baseline, candidate)
    recall = change(result, "key_fact_recall")
    assert recall.difference == pytest.approx(-0.025)
    assert not recall.significant
    assert not result.failed


def test_a_significant_improvement_passes() -> None:
    result = compare(run([0] * 30 + [1] * 10), run([1] * 40))
    recall = change(result, "key_fact_recall")
    assert recall.significant
    assert not recall.failed
    assert not result.failed


def test_only_the_cases_both_runs_share_are_paired() -> None:
    baseline = run([1] * 10)
    candidate = run([1] * 10 + [0] * 20)  # 20 new cases, all misses
    result = compare(baseline, candidate)
    assert result.shared_cases == 10
    assert change(result, "key_fact_recall").difference == 0.0
    assert not result.failed


def test_any_leak_fails_the_gate_even_if_the_baseline_leaked_too() -> None:
    result = compare(run([1] * 10, leaks=1), run([1] * 10, leaks=1))
    [leaks] = [c for c in result.checks if c.name == "cross_customer_leaks"]
    assert leaks.failed
    assert result.failed


def test_a_first_token_p95_beyond_the_ratio_fails_and_none_turns_it_off() -> None:
    slower = run([1] * 10, p95=160.0)
    assert compare(run([1] * 10), slower, ttft_ratio=1.5).failed
    assert not compare(run([1] * 10), slower, ttft_ratio=2.0).failed
    assert not compare(run([1] * 10), slower, ttft_ratio=None).failed


def test_runs_without_a_shared_case_are_an_error() -> None:
    candidate = run([1])
    candidate["cases"][0]["case_id"] = "other"
    with pytest.raises(ValueError, match="share no case"):
        compare(run([1]), candidate)


def test_the_verdict_is_json_with_its_failure() -> None:
    verdict = compare(run([1] * 30 + [0] * 10), run([0] * 40)).to_json()
    assert verdict["failed"] is True
    json.dumps(verdict)
    assert verdict["same_settings"] is True


def test_a_file_is_loaded_with_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    one = run([1], settings_hash="h2")
    path.write_text(json.dumps({"commit": "abc", "runs": [one]}))
    loaded = load_run(path)
    assert loaded["commit"] == "abc"
    assert loaded["settings_hash"] == "h2"
    assert loaded["cases"] == one["cases"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        ("{not json", "not an eval run's JSON"),
        ('{"runs": []}', "no runs"),
        ('{"runs": [{"summary": {}, "cases": []}, {"summary": {}, "cases": []}]}', "holds 2 runs"),
        ('{"runs": [{"cases": []}]}', "no summary"),
        ('{"runs": [{"summary": {}, "cases": [{"id": 1}]}]}', "without case_id"),
    ],
)
def test_a_bad_file_gets_one_clear_reason(tmp_path: Path, content: str | None, reason: str) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        load_run(path)


def write_run(path: Path, facts: list[int]) -> Path:
    path.write_text(json.dumps({"commit": None, "runs": [run(facts)]}))
    return path


def test_the_command_exits_1_on_a_regression_and_0_on_a_rerun(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from switchboard.cli import app

    baseline = write_run(tmp_path / "base.json", [1] * 30 + [0] * 10)
    worse = write_run(tmp_path / "worse.json", [0] * 40)
    out = tmp_path / "verdict.json"

    same = CliRunner().invoke(app, ["eval", "compare", str(baseline), str(baseline)])
    failed = CliRunner().invoke(
        app, ["eval", "compare", str(baseline), str(worse), "--json", str(out)]
    )
    missing = CliRunner().invoke(app, ["eval", "compare", str(baseline), "nope.json"])

    assert same.exit_code == 0, same.output
    assert "eval compare: 40 shared cases" in same.output
    assert failed.exit_code == 1
    assert "gate failed: key_fact_recall" in failed.output
    assert json.loads(out.read_text())["failed"] is True
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines()[-1] == "error: nope.json: no such file"
