"""The regression gate: a candidate eval run against a baseline, metric by metric.

Rate metrics are compared over the cases both runs share (by case id) where the metric
applies in both: the candidate's figure minus the baseline's, with its 95% paired-bootstrap
interval (``intervals.paired_difference``). A change is significant when the interval
excludes zero. The gate fails on:

- a significant drop of a guarded metric (key-fact recall, citation precision, handoff
  accuracy);
- any cross-customer leak or invented order status in the candidate (more than 0 is
  always a failure, significant or not);
- a time to first token p95 (answers from the articles, as the client saw them) more than
  ``ttft_ratio`` times the baseline's.

Other rate metrics are reported with their significance but do not fail the gate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from switchboard.evaluation.intervals import (
    RATE_METRICS,
    case_outcomes,
    paired_difference,
    ratio,
)

GUARDED = frozenset({"key_fact_recall", "citation_precision", "handoff_accuracy"})
LOWER_IS_BETTER = frozenset({"forbidden_fact_rate"})
ZERO_COUNTS = ("cross_customer_leaks", "invented_statuses")
TTFT = "first_token_ms"


@dataclass(frozen=True)
class MetricChange:
    metric: str
    baseline: float | None  # over the paired cases
    candidate: float | None
    difference: float | None  # candidate - baseline
    interval: tuple[float, float] | None  # of the difference
    cases: int  # paired cases the metric applies to in both runs
    significant: bool
    guarded: bool
    failed: bool  # a significant regression of a guarded metric


@dataclass(frozen=True)
class Check:
    """A figure the gate bounds outright: a count that must be 0, or the TTFT p95 ratio."""

    name: str
    baseline: float | None
    candidate: float | None
    failed: bool


@dataclass(frozen=True)
class Comparison:
    shared_cases: int
    changes: list[MetricChange]
    checks: list[Check]
    same_settings: bool | None  # None: a run has no settings hash

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.changes) or any(c.failed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def read_report(path: Path) -> dict[str, Any]:
    """An eval JSON file's top-level object; ``ValueError`` if it is not JSON or not one."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not an eval run's JSON ({exc})") from None
    if not isinstance(report, dict):
        raise ValueError(f"{path}: not an eval run's JSON (not an object)")
    return report


def load_run(path: Path) -> dict[str, Any]:
    """The one run of an eval JSON file, with the file's metadata; ``ValueError`` if bad."""
    report = read_report(path)
    runs = report.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"{path}: not an eval run's JSON (no runs)")
    if len(runs) != 1:
        raise ValueError(
            f"{path}: holds {len(runs)} runs; compare files of one model and chunk size"
        )
    run = runs[0]
    if not isinstance(run, dict) or not isinstance(run.get("summary"), dict):
        raise ValueError(f"{path}: not an eval run's JSON (no summary)")
    if not isinstance(run.get("cases"), list):
        raise ValueError(f"{path}: not an eval run's JSON (no cases)")
    if not all(isinstance(c, dict) and "case_id" in c for c in run["cases"]):
        raise ValueError(f"{path}: not an eval run's JSON (a case without case_id)")
    return {**run, "commit": report.get("commit")}


def compare(
    baseline: dict[str, Any], candidate: dict[str, Any], ttft_ratio: float | None = 1.5
) -> Comparison:
    """The gate's verdict on ``candidate`` (runs as ``load_run`` returns them); ``ttft_ratio``
    None leaves time to first token unchecked."""
    base_cases, cand_cases = baseline["cases"], candidate["cases"]
    shared = {c["case_id"] for c in base_cases} & {c["case_id"] for c in cand_cases}
    if not shared:
        raise ValueError("the two runs share no case (by case id): nothing to compare")
    changes = [_change(metric, base_cases, cand_cases) for metric in RATE_METRICS]
    checks = [_zero_count(name, baseline, candidate) for name in ZERO_COUNTS]
    if ttft_ratio is not None:
        checks.append(_ttft(baseline, candidate, ttft_ratio))
    hashes = baseline.get("settings_hash"), candidate.get("settings_hash")
    same = None if None in hashes else hashes[0] == hashes[1]
    return Comparison(len(shared), changes, checks, same)


def _change(metric: str, base_cases: list[Any], cand_cases: list[Any]) -> MetricChange:
    base, cand = case_outcomes(metric, base_cases), case_outcomes(metric, cand_cases)
    paired = sorted(base.keys() & cand.keys())
    result = paired_difference([base[i] for i in paired], [cand[i] for i in paired])
    guarded = metric in GUARDED
    if result is None:
        return MetricChange(metric, None, None, None, None, 0, False, guarded, False)
    difference, (lo, hi) = result
    significant = lo > 0 or hi < 0
    worse = difference > 0 if metric in LOWER_IS_BETTER else difference < 0
    return MetricChange(
        metric,
        ratio([base[i] for i in paired]),
        ratio([cand[i] for i in paired]),
        difference,
        (lo, hi),
        len(paired),
        significant,
        guarded,
        guarded and significant and worse,
    )


def _zero_count(name: str, baseline: dict[str, Any], candidate: dict[str, Any]) -> Check:
    before, after = baseline["summary"].get(name), candidate["summary"].get(name)
    return Check(name, before, after, bool(after))


def _ttft(baseline: dict[str, Any], candidate: dict[str, Any], limit: float) -> Check:
    before, after = _p95(baseline), _p95(candidate)
    failed = before is not None and after is not None and after > limit * before
    return Check(f"{TTFT} p95 (at most {limit:g}x)", before, after, failed)


def _p95(run: dict[str, Any]) -> float | None:
    figures = run["summary"].get(TTFT)
    return float(figures["p95"]) if figures else None
