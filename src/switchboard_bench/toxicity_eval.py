"""Toxicity detector evaluation on ``guard/data/toxicity_eval.jsonl``.

The set holds messages to a support agent labelled ``toxic`` (abuse, insults, threats)
or ``ok``, the latter in three kinds: civil, frustrated-but-civil ("this is ridiculous,
my parcel is two weeks late", including mild swearing at the situation rather than at a
person) and look-alikes (product words such as "cocktail shaker" or "Scunthorpe").
The model is alt-profanity-check's, never trained on this set, so every figure is held-out.
A message counts as flagged when any of its sentences is at or above the threshold.

The ordinary support messages of the injection evaluation (``benign_support.jsonl`` and the
demo's golden questions, all civil) are scored too: their false-positive rate is what
blocking toxic input would cost real customers.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.config import ToxicitySettings
from switchboard.guard.injection_model import data_path, load_support
from switchboard.guard.toxicity import ToxicityDetector
from switchboard_bench.injection_eval import golden_messages
from switchboard_bench.stats import latency_percentiles

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True, slots=True)
class Scored:
    id: str
    kind: str
    toxic: bool
    score: float
    text: str


def load_set() -> list[dict[str, str]]:
    lines = data_path("toxicity_eval.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def figures(rows: Sequence[Scored], threshold: float) -> dict[str, Any]:
    tp = sum(r.toxic and r.score >= threshold for r in rows)
    fp = sum(not r.toxic and r.score >= threshold for r in rows)
    toxic = sum(r.toxic for r in rows)
    kinds: dict[str, list[Scored]] = defaultdict(list)
    for row in rows:
        kinds[row.kind].append(row)
    return {
        "threshold": threshold,
        "precision": _rate(tp, tp + fp),
        "recall": _rate(tp, toxic),
        "fp_rate": _rate(fp, len(rows) - toxic),
        "flagged_by_kind": {
            kind: _rate(sum(r.score >= threshold for r in group), len(group))
            for kind, group in sorted(kinds.items())
        },
    }


def run(settings: ToxicitySettings, progress: bool = True) -> dict[str, Any]:
    """Score the set; figures at ``settings.threshold`` and at ``THRESHOLDS``."""
    from rich.progress import Progress

    from switchboard.guard.toxicity import packaged_model

    start = time.perf_counter()
    detector = ToxicityDetector(settings, packaged_model())
    load_s = time.perf_counter() - start
    rows, samples = [], []
    cases = load_set()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("toxicity eval", total=len(cases))
        for case in cases:
            began = time.perf_counter()
            detector.scan(case["text"])
            samples.append((time.perf_counter() - began) * 1000)
            score = detector.score(case["text"])
            rows.append(
                Scored(case["id"], case["kind"], case["label"] == "toxic", score, case["text"])
            )
            bar.advance(task)
        support = [m.text for m in load_support()] + [text for _, text in golden_messages()]
        task = bar.add_task("support messages", total=len(support))
        support_scores = []
        for text in support:
            support_scores.append(detector.score(text))
            bar.advance(task)
    threshold = settings.threshold
    p50, p99 = latency_percentiles(samples)

    def show(r: Scored) -> dict[str, Any]:
        return {"id": r.id, "score": round(r.score, 3), "text": r.text}

    return {
        "settings": settings.model_dump(),
        "load_s": round(load_s, 3),
        "n": len(rows),
        "toxic": sum(r.toxic for r in rows),
        **figures(rows, threshold),
        "missed": [show(r) for r in rows if r.toxic and r.score < threshold],
        "false_positives": [show(r) for r in rows if not r.toxic and r.score >= threshold],
        "support_messages": {
            "n": len(support),
            "fp_rate": _rate(sum(s >= threshold for s in support_scores), len(support)),
            "false_positives": [
                {"score": round(s, 3), "text": t}
                for s, t in zip(support_scores, support, strict=True)
                if s >= threshold
            ],
        },
        "thresholds": [
            {
                **figures(rows, t),
                "support_fp_rate": _rate(sum(s >= t for s in support_scores), len(support)),
            }
            for t in THRESHOLDS
        ],
        "latency_ms": {"n": len(samples), "p50": round(p50, 3), "p99": round(p99, 3)},
    }
