"""The guard's hand-written splits: ``dev`` and the blind ``test`` split.

Apart from each detector's own sets (the generated PII set, bastioncorpus, the support
questions), two splits of hand-written messages, each in ``bench/data/guard_<split>/``
with the same files (schemas in ``guard_test/README.md``):

- ``injection_<split>.jsonl``: attacks, by ``family``;
- ``benign_<split>.jsonl``: ordinary support messages, by ``topic``; the ids listed in
  ``benign_hard_ids.txt`` are hard ones (attackers' words in a legitimate request);
- ``pii_<split>.jsonl``: messages with exact entity spans (or none).

Both were written blind, each by someone who had seen neither the detectors nor their
data (nor the other split). ``dev`` is the split the detectors are tuned on: its errors
are read, nothing of it is copied into the training data, and its figures are optimistic.
``test`` is run once, when the detectors are final, for the README's figures: it is never
trained or tuned on, and its examples are not read.

Both are scored with the detectors the settings build, at their thresholds: injection
recall per family, false-positive rate overall, on the hard rows and per topic; PII
precision and recall per type (``pii_eval``), and how many names were reported as
places (a ``LOCATION`` is passed on, ``guard.pii.keep``, so such a name leaks).

The splits annotate a street line as ``LOCATION`` (like its town and country); the guard
reports it as ``STREET_ADDRESS``, which is redacted where a town is passed on, so a
``STREET_ADDRESS`` finding is scored as a ``LOCATION`` (``SCORED_AS``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from enum import StrEnum
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from rich.table import Table

from switchboard.config import GuardSettings
from switchboard.guard.types import Detector, Finding
from switchboard_bench import pii_eval
from switchboard_bench.injection_eval import Scored, by_category, errors_of, fp_rate, recall
from switchboard_bench.pii_set import ExpectedSpan, PiiCase

# Finding types scored as the splits' type of the same family.
SCORED_AS = {"STREET_ADDRESS": "LOCATION"}


class Split(StrEnum):
    DEV = "dev"
    TEST = "test"


def split_dir(split: Split) -> Traversable:
    return resources.files("switchboard_bench") / "data" / f"guard_{split.value}"


def _rows(split: Split, kind: str) -> list[dict[str, Any]]:
    text = (split_dir(split) / f"{kind}_{split.value}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def hard_ids(split: Split) -> frozenset[str]:
    text = (split_dir(split) / "benign_hard_ids.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def injection_messages(split: Split) -> list[Scored]:
    """The split's attacks and benign messages, not yet scored (``score`` 0)."""
    attacks = [
        Scored(r["id"], r["family"], True, 0.0, r["text"]) for r in _rows(split, "injection")
    ]
    benign = [Scored(r["id"], r["topic"], False, 0.0, r["text"]) for r in _rows(split, "benign")]
    return attacks + benign


def pii_cases(split: Split) -> list[PiiCase]:
    return [
        PiiCase(
            row["text"], [ExpectedSpan(e["type"], e["start"], e["end"]) for e in row["entities"]]
        )
        for row in _rows(split, "pii")
    ]


def score_messages(
    score: Callable[[str], float], messages: Iterable[Scored], step: Callable[[], None]
) -> list[Scored]:
    out = []
    for message in messages:
        value = score(message.text)
        out.append(Scored(message.id, message.category, message.malicious, value, message.text))
        step()
    return out


def injection_report(
    scored: Sequence[Scored], hard: frozenset[str], threshold: float
) -> dict[str, Any]:
    attacks = [r for r in scored if r.malicious]
    benign = [r for r in scored if not r.malicious]
    hard_rows = [r for r in benign if r.id in hard]
    return {
        "attacks": len(attacks),
        "benign": len(benign),
        "hard_benign": len(hard_rows),
        "recall": recall(scored, threshold),
        "fp_rate": fp_rate(scored, threshold),
        "hard_fp_rate": fp_rate(hard_rows, threshold),
        "recall_by_family": by_category(attacks, threshold),
        "fp_by_topic": by_category(benign, threshold),
        **errors_of(scored, threshold),
    }


def names_as_places(cases: Sequence[PiiCase], found: Sequence[Sequence[Finding]]) -> int:
    """Expected ``PERSON`` spans that a ``LOCATION`` finding overlaps."""
    return sum(
        any(f.type == "LOCATION" and f.start < s.end and s.start < f.end for f in findings)
        for case, findings in zip(cases, found, strict=True)
        for s in case.spans
        if s.type == "PERSON"
    )


def scored_as(finding: Finding) -> Finding:
    """``finding`` with the type the splits score it as (``SCORED_AS``)."""
    kind = SCORED_AS.get(finding.type, finding.type)
    return finding if kind == finding.type else replace(finding, type=kind)


class _Recording:
    """A detector that keeps what the one it wraps found, text by text, and returns it
    as the splits score it (``scored_as``)."""

    def __init__(self, detector: Detector) -> None:
        self.category = detector.category
        self._detector = detector
        self.found: list[list[Finding]] = []

    def scan(self, text: str) -> list[Finding]:
        findings = self._detector.scan(text)
        self.found.append(findings)
        return [scored_as(f) for f in findings]


def evaluate_split(
    split: Split,
    settings: GuardSettings,
    injection_score: Callable[[str], float],
    pii: Detector,
    step: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """``injection_score``: a message's injection score (flagged at the settings'
    threshold); ``pii``: the PII detector."""
    scored = score_messages(injection_score, injection_messages(split), step)
    cases = pii_cases(split)
    recorder = _Recording(pii)
    types = [t for t in settings.pii.entities if t not in SCORED_AS]
    report = pii_eval.evaluate(recorder, cases, types, on_case=step)
    found = recorder.found
    return {
        "split": split.value,
        "injection": injection_report(scored, hard_ids(split), settings.injection.threshold),
        "pii": {**report.to_json(), "names_reported_as_places": names_as_places(cases, found)},
    }


def run(settings: GuardSettings, progress: bool = True) -> dict[str, Any]:
    """Both splits with the detectors of ``settings``, each reported on its own."""
    from rich.progress import Progress

    from switchboard.config import OrdersSettings
    from switchboard.guard.injection import InjectionDetector
    from switchboard.guard.pii import PiiDetector
    from switchboard.order_ids import OrderIdFormat

    injection = InjectionDetector(settings.injection)
    demo_ids = OrderIdFormat.from_settings(OrdersSettings())  # the demo shop's, as served
    pii = PiiDetector(settings.pii, (demo_ids.pattern,))
    out = {}
    with Progress(disable=not progress, transient=True) as bar:
        for split in Split:
            total = len(injection_messages(split)) + len(pii_cases(split))
            task = bar.add_task(f"guard {split.value} split", total=total)
            step = functools.partial(bar.advance, task)
            out[split.value] = evaluate_split(
                split, settings, lambda text: injection.score(text)[0], pii, step
            )
    return out


def splits_tables(splits: dict[str, Any]) -> list[Table]:
    """Injection recall and false positives per split; PII precision and recall (overlap
    matching) per type, one column per split."""
    title = "guard on hand-written splits (test: written blind, never tuned on)"
    summary = Table(title=title)
    for column in ("split", "injection recall", "FP rate", "hard FP", "PII P / R", "name as place"):
        summary.add_column(column, justify="left" if column == "split" else "right")
    for name, split in splits.items():
        inj, pii = split["injection"], split["pii"]
        summary.add_row(
            name,
            f"{inj['recall']:.3f} of {inj['attacks']}",
            f"{inj['fp_rate']:.3f} of {inj['benign']}",
            f"{inj['hard_fp_rate']:.3f} of {inj['hard_benign']}",
            _p_r(pii["overlap"]["micro"]),
            str(pii["names_reported_as_places"]),
        )
    per_type = Table(title="PII per type, precision / recall (spans expected)")
    per_type.add_column("type")
    for name in splits:
        per_type.add_column(name, justify="right")
    types = sorted({t for s in splits.values() for t in s["pii"]["overlap"]["per_type"]})
    for entity in types:
        cells = []
        for split in splits.values():
            counts = split["pii"]["overlap"]["per_type"].get(entity)
            seen = counts and counts["tp"] + counts["fn"] + counts["fp"]
            cells.append(f"{_p_r(counts)} ({counts['tp'] + counts['fn']})" if seen else "-")
        per_type.add_row(entity, *cells)
    return [summary, per_type]


def _p_r(counts: dict[str, Any]) -> str:
    return f"{counts['precision']:.2f} / {counts['recall']:.2f}"
