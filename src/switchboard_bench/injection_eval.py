"""Injection detector evaluation: bastioncorpus, ordinary support questions, golden set.

- **bastioncorpus** (118 malicious, 63 benign "false-positive trap" rows) is never trained
  on: recall per category and the false-positive rate on its benign rows are held-out
  figures. Rows with a ``{canary}`` slot are rendered with a per-row token, as its runner
  does.
- **benign_support.jsonl** is part of the training data, so its false-positive rate comes
  from grouped k-fold cross-validation: each fold's model is trained without that fold (and
  without any row made from the same template) and scores only that fold.
- **golden.jsonl** messages (the demo's support questions) are never trained on. A golden
  row that is itself an attack (``GOLDEN_INJECTIONS``) is reported apart, as one that
  should be flagged.

Latency is the wall time of one ``scan`` per message with the shipped model.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from bastioncorpus import load_corpus

from switchboard.config import InjectionSettings
from switchboard.guard.injection import InjectionDetector
from switchboard.guard.injection_model import (
    InjectionModel,
    SupportMessage,
    load_support,
    training_set,
)
from switchboard_bench.stats import latency_percentiles

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FOLDS = 5
GOLDEN_INJECTIONS = frozenset({"out-of-scope-05"})  # "Ignore your previous instructions..."


@dataclass(frozen=True, slots=True)
class Scored:
    id: str
    category: str
    malicious: bool
    score: float
    text: str


def canary(row_id: str) -> str:
    """A stable per-row token for a ``{canary}`` slot."""
    return "CNRY-" + hashlib.sha256(row_id.encode()).hexdigest()[:10]


def score_corpus(detector: InjectionDetector, step: Callable[[], None]) -> list[Scored]:
    out = []
    for row in load_corpus():
        text = row.render(canary(row.id))
        score, _ = detector.score(text)
        out.append(Scored(row.id, row.category, row.is_malicious, score, text))
        step()
    return out


def fold_of(message: SupportMessage, folds: int) -> int:
    return int(hashlib.sha256(message.group.encode()).hexdigest(), 16) % folds


def score_support_cv(
    settings: InjectionSettings, support: Sequence[SupportMessage], step: Callable[[], None]
) -> list[Scored]:
    """Every support message scored by a model that never saw it nor its template siblings."""
    out = []
    for fold in range(FOLDS):
        held_out = [m for m in support if fold_of(m, FOLDS) == fold]
        model = InjectionModel.train(training_set(m for m in support if fold_of(m, FOLDS) != fold))
        detector = InjectionDetector(settings, model)
        for message in held_out:
            score, _ = detector.score(message.text)
            out.append(Scored(message.id, message.topic, False, score, message.text))
        step()
    return out


def golden_messages() -> list[tuple[str, str]]:
    path = resources.files("switchboard.demo") / "golden.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(row["id"], row["message"]) for row in rows]


def score_golden(detector: InjectionDetector, step: Callable[[], None]) -> list[Scored]:
    out = []
    for row_id, text in golden_messages():
        score, _ = detector.score(text)
        out.append(Scored(row_id, "golden", row_id in GOLDEN_INJECTIONS, score, text))
        step()
    return out


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def recall(rows: Sequence[Scored], threshold: float) -> float:
    attacks = [r for r in rows if r.malicious]
    return _rate(sum(r.score >= threshold for r in attacks), len(attacks))


def fp_rate(rows: Sequence[Scored], threshold: float) -> float:
    benign = [r for r in rows if not r.malicious]
    return _rate(sum(r.score >= threshold for r in benign), len(benign))


def by_category(rows: Sequence[Scored], threshold: float) -> dict[str, dict[str, Any]]:
    """Per category: rows, how many flagged, and the rate (recall or FP rate)."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for row in rows:
        groups[row.category].append(row)
    return {
        name: {
            "n": len(group),
            "flagged": sum(r.score >= threshold for r in group),
            "rate": _rate(sum(r.score >= threshold for r in group), len(group)),
        }
        for name, group in sorted(groups.items())
    }


def errors_of(rows: Sequence[Scored], threshold: float) -> dict[str, list[dict[str, Any]]]:
    def show(r: Scored) -> dict[str, Any]:
        return {
            "id": r.id,
            "category": r.category,
            "score": round(r.score, 3),
            "text": r.text[:120],
        }

    return {
        "missed": [show(r) for r in rows if r.malicious and r.score < threshold],
        "false_positives": [show(r) for r in rows if not r.malicious and r.score >= threshold],
    }


def latency_ms(detector: InjectionDetector, texts: Sequence[str]) -> dict[str, float]:
    samples = []
    for text in texts:
        start = time.perf_counter()
        detector.scan(text)
        samples.append((time.perf_counter() - start) * 1000)
    p50, p99 = latency_percentiles(samples)
    return {"n": len(samples), "p50": round(p50, 3), "p99": round(p99, 3)}


def run(settings: InjectionSettings, progress: bool = True) -> dict[str, Any]:
    """Train, score every set, and report at ``settings.threshold`` and at ``THRESHOLDS``."""
    from rich.progress import Progress

    start = time.perf_counter()
    support = load_support()
    detector = InjectionDetector(settings, InjectionModel.train(training_set(support)))
    train_s = time.perf_counter() - start
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("bastioncorpus", total=181)
        corpus = score_corpus(detector, lambda: bar.advance(task))
        task = bar.add_task("support (cross-validated)", total=FOLDS)
        support_scored = score_support_cv(settings, support, lambda: bar.advance(task))
        task = bar.add_task("golden", total=len(golden_messages()))
        golden = score_golden(detector, lambda: bar.advance(task))
    texts = [r.text for r in corpus] + [m.text for m in support] + [r.text for r in golden]
    threshold = settings.threshold
    return {
        "settings": settings.model_dump(),
        "train_s": round(train_s, 3),
        "bastioncorpus": {
            "held_out": True,
            "malicious": sum(r.malicious for r in corpus),
            "benign": sum(not r.malicious for r in corpus),
            "recall": recall(corpus, threshold),
            "fp_rate": fp_rate(corpus, threshold),
            "recall_by_category": by_category([r for r in corpus if r.malicious], threshold),
            "fp_by_category": by_category([r for r in corpus if not r.malicious], threshold),
            **errors_of(corpus, threshold),
        },
        "support": {
            "n": len(support_scored),
            "evaluation": f"grouped {FOLDS}-fold cross-validation",
            "fp_rate": fp_rate(support_scored, threshold),
            "fp_by_topic": by_category(support_scored, threshold),
            **errors_of(support_scored, threshold),
        },
        "golden": {
            "n": len(golden),
            "held_out": True,
            "expected_injections": sorted(GOLDEN_INJECTIONS),
            "expected_injections_flagged": recall(golden, threshold),
            "fp_rate": fp_rate(golden, threshold),
            **errors_of(golden, threshold),
        },
        "thresholds": [
            {
                "threshold": t,
                "bastion_recall": recall(corpus, t),
                "bastion_fp_rate": fp_rate(corpus, t),
                "support_fp_rate": fp_rate(support_scored, t),
                "golden_fp_rate": fp_rate(golden, t),
            }
            for t in THRESHOLDS
        ],
        "latency_ms": latency_ms(detector, texts),
    }
