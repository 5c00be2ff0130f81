"""Scoring one golden case's outcome, and a run's summary: pure functions, no I/O.

What is checked, per case:

- **intent**: the routed intent (the router's best, confident or not) equals the expected one;
- **retrieval hit@k**: an expected source article is among the first ``k`` distinct
  articles the knowledge base returns for the message;
- **citations**: of the articles the answer cites, the share that are expected sources;
- **key facts**: each must-include fact (any of its spellings) is in the answer,
  case-insensitively;
- **forbidden facts**: a must-not-include string is in the answer; on other-customer probes
  that is a **cross-customer leak**;
- **invented status**: on order cases, the answer names an order status that none of this
  turn's Order API results contains;
- **handoff**: ``ticket`` (a ticket was created), ``offered`` or none, as expected.

A run's summary also has each rate's bootstrap 95% interval and the figures per tag
(``intervals``), and the mix of answer paths (``generated``, ``generated+repaired``,
``quoted``, ``order_status``...): how often the grounding check repaired or quoted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from switchboard.evaluation.golden import GoldenCase
from switchboard.evaluation.intervals import by_tag, intervals
from switchboard.orders.types import OrderStatus

ORDER_TAGS = frozenset({"order", "probe", "outage"})
_STATUS_WORDS = {
    label: re.compile(rf"\b{re.escape(label)}\b", re.IGNORECASE)
    for label in (s.value.replace("_", " ") for s in OrderStatus)
}


@dataclass(frozen=True)
class TurnOutcome:
    """What the pipeline did on a case's last message."""

    answer: str
    intent: str
    confidence: float
    cited_article_ids: tuple[str, ...]
    retrieved_article_ids: tuple[str, ...]  # distinct, rank order
    handoff: str | None  # "ticket", "offered" or None
    tool_results: tuple[dict[str, Any], ...]
    timings_ms: dict[str, float]
    usage: dict[str, int]
    latency_ms: float  # end to end, as the client saw it
    error: str | None = None
    answer_path: str = ""  # the done event's: "generated", "quoted", "lookup"...
    first_token_ms: float | None = None  # to the first token, as the client saw it
    routed_intent: str = ""  # the router's best intent, confident or not (``intent`` is the
    # turn's: ``question`` where an untrusted route was answered from the articles)


@dataclass(frozen=True)
class CaseScore:
    case_id: str
    tags: tuple[str, ...]
    intent_ok: bool | None  # None: the case expects no intent
    hit: bool | None  # None: the case expects no source
    citation_precision: float | None  # None: nothing cited, or no expected source
    facts_found: int
    facts_total: int
    forbidden_checked: bool  # the case has must-not-include strings
    forbidden_found: tuple[str, ...]
    leak: bool
    invented_statuses: tuple[str, ...]
    handoff_ok: bool
    error: str | None
    missing_facts: tuple[str, ...] = field(default_factory=tuple)


def score_case(case: GoldenCase, outcome: TurnOutcome, k: int) -> CaseScore:
    answer = outcome.answer.lower()
    expected = set(case.expected_sources)
    hit = bool(expected & set(outcome.retrieved_article_ids[:k])) if expected else None
    cited = outcome.cited_article_ids
    precision = sum(1 for a in cited if a in expected) / len(cited) if cited and expected else None
    missing = [fact for fact in case.must_include if not any(a.lower() in answer for a in fact)]
    forbidden = tuple(s for s in case.must_not_include if s.lower() in answer)
    invented: tuple[str, ...] = ()
    if ORDER_TAGS & set(case.tags):
        invented = invented_statuses(outcome.answer, outcome.tool_results)
    return CaseScore(
        case_id=case.id,
        tags=case.tags,
        intent_ok=None
        if case.expected_intent is None
        else outcome.routed_intent == case.expected_intent,
        hit=hit,
        citation_precision=precision,
        facts_found=len(case.must_include) - len(missing),
        facts_total=len(case.must_include),
        forbidden_checked=bool(case.must_not_include),
        forbidden_found=forbidden,
        leak="probe" in case.tags and bool(forbidden),
        invented_statuses=invented,
        handoff_ok=outcome.handoff == case.expect_handoff,
        error=outcome.error,
        missing_facts=tuple(" | ".join(fact) for fact in missing),
    )


def invented_statuses(answer: str, tool_results: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """Status names in ``answer`` that no successful Order API result of the turn contains
    (its status field or its tracking events' text)."""
    known = " ".join(
        json.dumps(r.get("data")).replace("_", " ") for r in tool_results if r.get("ok")
    )
    return tuple(
        label
        for label, pattern in _STATUS_WORDS.items()
        if pattern.search(answer) and not pattern.search(known)
    )


# Answers from the help centre's articles (the model's, checked, or quoted): the turns
# whose first token the customer waits for.
ANSWER_PATHS = frozenset({"generated", "generated+repaired", "quoted"})


def summarize(scores: Sequence[CaseScore], outcomes: Sequence[TurnOutcome]) -> dict[str, Any]:
    """The run's figures; rates over the cases each applies to (their count alongside),
    with their bootstrap 95% intervals and the per-tag breakdown."""
    cases = [asdict(s) for s in scores]
    hits = [s.hit for s in scores if s.hit is not None]
    precisions = [s.citation_precision for s in scores if s.citation_precision is not None]
    with_facts = [s for s in scores if s.facts_total]
    with_forbidden = [s for s in scores if s.forbidden_checked]
    ttft = [o.timings_ms["ttft"] for o in outcomes if "ttft" in o.timings_ms]
    answered = [o.first_token_ms for o in outcomes
                if o.answer_path in ANSWER_PATHS and o.first_token_ms is not None]  # fmt: skip
    overhead = [o.timings_ms["overhead"] for o in outcomes if "overhead" in o.timings_ms]
    tokens = [o.usage.get("prompt_tokens", 0) + o.usage.get("completion_tokens", 0)
              for o in outcomes if o.usage]  # fmt: skip
    return {
        "cases": len(scores),
        "errors": sum(1 for s in scores if s.error),
        "intent_accuracy": _mean([s.intent_ok for s in scores if s.intent_ok is not None]),
        "retrieval_hit_at_k": _mean(hits),
        "retrieval_cases": len(hits),
        "citation_precision": _mean(precisions),
        "citation_cases": len(precisions),
        "key_fact_recall": _ratio(
            sum(s.facts_found for s in with_facts), sum(s.facts_total for s in with_facts)
        ),
        "key_fact_cases": len(with_facts),
        "forbidden_fact_rate": _mean([bool(s.forbidden_found) for s in with_forbidden]),
        "cross_customer_leaks": sum(1 for s in scores if s.leak),
        "invented_statuses": sum(1 for s in scores if s.invented_statuses),
        "handoff_accuracy": _mean([s.handoff_ok for s in scores]),
        "ttft_ms": percentiles(ttft),
        "first_token_ms": percentiles(answered),
        "latency_ms": percentiles([o.latency_ms for o in outcomes]),
        "overhead_ms": percentiles(overhead),
        "tokens_per_turn": _ratio(sum(tokens), len(tokens)),
        "answer_paths": path_mix([o.answer_path for o in outcomes if not o.error]),
        "intervals": intervals(cases),
        "by_tag": by_tag(cases),
    }


def path_mix(paths: Sequence[str]) -> dict[str, float]:
    """The share of turns that took each answer path, most taken first."""
    counts = Counter(paths)
    return {path: n / len(paths) for path, n in counts.most_common()}


def threshold_sweep(
    routes: Sequence[tuple[str, float, str]], thresholds: Sequence[float]
) -> list[dict[str, float | None]]:
    """For each threshold: the share of messages routed confidently, and how many of those
    were right. ``routes`` is (routed intent, confidence, expected intent) per message."""
    rows = []
    for threshold in thresholds:
        confident = [(got, want) for got, score, want in routes if score >= threshold]
        rows.append(
            {
                "threshold": threshold,
                "confident_share": _ratio(len(confident), len(routes)),
                "confident_accuracy": _mean([got == want for got, want in confident]),
            }
        )
    return rows


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    """p50 and p95 (numpy's linear interpolation); None without values."""
    if not values:
        return None
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": float(p50), "p95": float(p95)}


def _mean(values: Sequence[bool | float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
