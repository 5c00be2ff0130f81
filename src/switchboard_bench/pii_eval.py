"""Precision, recall and latency of a PII detector on the synthetic set of ``pii_set``.

Two matchings: *strict* (same type, exact span) and *overlap* (same type, spans share at
least one character). Each expected span is matched at most once and each finding at
most once, so a name found as two pieces counts one true positive and one false positive.
Findings whose type is not among the scored types (``types``) are ignored, so a detector
configured with extra entities is not penalised for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from switchboard.config import PiiSettings
from switchboard.guard.types import Detector, Finding
from switchboard_bench.pii_set import ExpectedSpan, PiiCase, generate


class Matching(StrEnum):
    STRICT = "strict"
    OVERLAP = "overlap"


def _matches(mode: Matching, expected: ExpectedSpan, found: Finding) -> bool:
    if expected.type != found.type:
        return False
    if mode is Matching.STRICT:
        return (expected.start, expected.end) == (found.start, found.end)
    return expected.start < found.end and found.start < expected.end


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class MatchReport:
    """Counts per entity type and summed over types (micro average)."""

    per_type: dict[str, Counts] = field(default_factory=dict)

    def counts(self, entity: str) -> Counts:
        return self.per_type.setdefault(entity, Counts())

    @property
    def micro(self) -> Counts:
        total = Counts()
        for c in self.per_type.values():
            total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "micro": self.micro.to_json(),
            "per_type": {t: c.to_json() for t, c in sorted(self.per_type.items())},
        }


def score_case(
    mode: Matching, expected: Sequence[ExpectedSpan], found: Sequence[Finding], report: MatchReport
) -> None:
    """Greedy one-to-one matching of one text's findings against its expected spans."""
    unmatched = list(found)
    for span in expected:
        hit = next((f for f in unmatched if _matches(mode, span, f)), None)
        if hit is None:
            report.counts(span.type).fn += 1
        else:
            unmatched.remove(hit)
            report.counts(span.type).tp += 1
    for finding in unmatched:
        report.counts(finding.type).fp += 1


@dataclass
class PiiReport:
    cases: int
    reports: dict[Matching, MatchReport]
    negatives: int  # hard-negative texts (no PII)
    negatives_flagged: int  # of those, texts with at least one finding
    negative_false_positives: dict[str, int]  # findings on hard negatives, by type
    latencies_ms: list[float]
    errors: list[dict[str, Any]] = field(default_factory=list)  # a sample of misses/FPs

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            **{mode.value: report.to_json() for mode, report in self.reports.items()},
            "hard_negatives": {
                "texts": self.negatives,
                "texts_flagged": self.negatives_flagged,
                "false_positives_by_type": dict(sorted(self.negative_false_positives.items())),
            },
            "latency_ms": {"p50": round(self.latency(50), 3), "p95": round(self.latency(95), 3)},
            "errors_sample": self.errors[:40],
        }


def _error_record(case: PiiCase, found: Sequence[Finding]) -> dict[str, Any] | None:
    expected = {(s.type, s.start, s.end) for s in case.spans}
    got = {(f.type, f.start, f.end) for f in found}
    if expected == got:
        return None
    return {
        "text": case.text,
        "missed": [(t, case.text[s:e]) for t, s, e in sorted(expected - got)],
        "extra": [(t, case.text[s:e]) for t, s, e in sorted(got - expected)],
    }


def evaluate(
    detector: Detector,
    cases: Iterable[PiiCase],
    types: Iterable[str] | None = None,
    on_case: Any = None,
) -> PiiReport:
    """Scan every case with ``detector``; ``types`` limits scoring to those entity types
    (default: every type that is expected somewhere in ``cases``). ``on_case`` is called
    after each case (a progress hook)."""
    case_list = list(cases)
    scored = set(types) if types is not None else {s.type for c in case_list for s in c.spans}
    reports = {mode: MatchReport() for mode in Matching}
    for report in reports.values():
        for entity in scored:
            report.counts(entity)
    negatives = flagged = 0
    negative_fps: dict[str, int] = {}
    latencies: list[float] = []
    errors: list[dict[str, Any]] = []
    for case in case_list:
        started = time.perf_counter()
        findings = detector.scan(case.text)
        latencies.append((time.perf_counter() - started) * 1000.0)
        found = [f for f in findings if f.type in scored]
        for mode, report in reports.items():
            score_case(mode, case.spans, found, report)
        if case.is_negative:
            negatives += 1
            flagged += bool(found)
            for f in found:
                negative_fps[f.type] = negative_fps.get(f.type, 0) + 1
        record = _error_record(case, found)
        if record is not None:
            errors.append(record)
        if on_case is not None:
            on_case()
    return PiiReport(len(case_list), reports, negatives, flagged, negative_fps, latencies, errors)


def run(
    settings: PiiSettings, n: int = 500, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Generate ``n`` cases with ``seed``, load the detector, evaluate; the report as JSON
    with the detector's load time. ``progress`` shows a rich progress bar on stderr."""
    from rich.progress import Progress

    from switchboard.config import OrdersSettings
    from switchboard.guard.pii import PiiDetector
    from switchboard.order_ids import OrderIdFormat

    demo_ids = OrderIdFormat.from_settings(OrdersSettings())  # the demo shop's, as served
    detector = PiiDetector(settings, (demo_ids.pattern,))
    load_s = detector.load()
    cases = generate(n, seed)
    types = [t for t in settings.entities]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("PII eval", total=len(cases))
        report = evaluate(detector, cases, types, on_case=lambda: bar.advance(task))
    return {
        "settings": settings.model_dump(),
        "n": n,
        "seed": seed,
        "load_s": round(load_s, 3),
        **report.to_json(),
    }
