"""How sure a run's rate metrics are: percentile-bootstrap 95% intervals from the per-case
outcomes, the paired difference between two runs, and the per-tag breakdown. Pure, no I/O.

Every rate metric is a ratio of sums over the cases it applies to: a case contributes a
numerator and a denominator (``(1, 1)`` for a right intent, ``(2, 3)`` for two of three key
facts). A bootstrap resample draws cases with replacement and recomputes the ratio; the
2.5th and 97.5th percentiles of 2000 resamples are the interval. The generator's seed is
fixed, so a rerun of the same outcomes gives the same interval.

Cases are read as the run's JSON holds them (``CaseScore``'s fields by name), so a run
written yesterday is compared the same way as one scored now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

RESAMPLES = 2000
SEED = 20261208
LEVEL = 0.95

Case = Mapping[str, Any]  # one case of a run: CaseScore's fields by name
Outcome = tuple[float, float]  # (numerator, denominator) of one case


def _flag(field: str) -> Callable[[Case], Outcome | None]:
    return lambda c: None if c.get(field) is None else (float(bool(c[field])), 1.0)


def _precision(c: Case) -> Outcome | None:
    value = c.get("citation_precision")
    return None if value is None else (float(value), 1.0)


def _facts(c: Case) -> Outcome | None:
    total = c.get("facts_total") or 0
    return (float(c["facts_found"]), float(total)) if total else None


def _forbidden(c: Case) -> Outcome | None:
    return (float(bool(c["forbidden_found"])), 1.0) if c.get("forbidden_checked") else None


# metric (its summary key) -> what one case contributes to it (None: it does not apply)
RATE_METRICS: dict[str, Callable[[Case], Outcome | None]] = {
    "intent_accuracy": _flag("intent_ok"),
    "retrieval_hit_at_k": _flag("hit"),
    "citation_precision": _precision,
    "key_fact_recall": _facts,
    "forbidden_fact_rate": _forbidden,
    "handoff_accuracy": _flag("handoff_ok"),
}


def case_outcomes(metric: str, cases: Sequence[Case]) -> dict[str, Outcome]:
    """Each case's contribution to ``metric``, by case id (cases it does not apply to left out)."""
    outcome = RATE_METRICS[metric]
    return {c["case_id"]: o for c in cases if (o := outcome(c)) is not None}


def ratio(outcomes: Sequence[Outcome]) -> float | None:
    total = sum(den for _, den in outcomes)
    return sum(num for num, _ in outcomes) / total if total else None


def bootstrap_interval(outcomes: Sequence[Outcome]) -> tuple[float, float] | None:
    """The 95% percentile-bootstrap interval of the outcomes' ratio; None without outcomes."""
    if not outcomes:
        return None
    values = np.asarray(outcomes, dtype=float)
    return _percentiles(_resampled_ratios(values, _draws(len(values))))


def paired_difference(
    baseline: Sequence[Outcome], candidate: Sequence[Outcome]
) -> tuple[float, tuple[float, float]] | None:
    """Candidate minus baseline over the same cases (position ``i`` is one case in both),
    and its 95% paired-bootstrap interval: each resample draws the same cases from both."""
    if len(baseline) != len(candidate):
        raise ValueError("a paired difference needs the same cases in both runs")
    if not baseline:
        return None
    base, cand = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    draws = _draws(len(base))
    differences = _resampled_ratios(cand, draws) - _resampled_ratios(base, draws)
    point = _ratio_of(cand) - _ratio_of(base)
    return point, _percentiles(differences)


def intervals(cases: Sequence[Case]) -> dict[str, list[float] | None]:
    """Every rate metric's interval, ``[lo, hi]`` (None where no case applies)."""
    result: dict[str, list[float] | None] = {}
    for metric in RATE_METRICS:
        interval = bootstrap_interval(list(case_outcomes(metric, cases).values()))
        result[metric] = list(interval) if interval is not None else None
    return result


def by_tag(cases: Sequence[Case]) -> dict[str, dict[str, Any]]:
    """Per tag (alphabetical): its case count and each rate metric's point figure and interval."""
    tags = sorted({tag for c in cases for tag in c.get("tags", ())})
    breakdown = {}
    for tag in tags:
        tagged = [c for c in cases if tag in c.get("tags", ())]
        figures: dict[str, Any] = {"cases": len(tagged)}
        for metric in RATE_METRICS:
            outcomes = list(case_outcomes(metric, tagged).values())
            interval = bootstrap_interval(outcomes)
            figures[metric] = ratio(outcomes)
            figures[f"{metric}_interval"] = list(interval) if interval is not None else None
        breakdown[tag] = figures
    return breakdown


def _draws(n: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, n, size=(RESAMPLES, n))


def _resampled_ratios(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    sampled = values[draws]  # (resamples, n, 2)
    numerators, denominators = sampled[..., 0].sum(axis=1), sampled[..., 1].sum(axis=1)
    return np.divide(numerators, denominators, out=np.zeros_like(numerators),
                     where=denominators > 0)  # fmt: skip


def _ratio_of(values: np.ndarray) -> float:
    total = float(values[:, 1].sum())
    return float(values[:, 0].sum()) / total if total else 0.0


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)
