"""The soak benchmark's pure parts: what one request came to, per-window statistics of each
kind of request, and the verdict (flat memory and descriptors after a warm-up, no 5xx).

    Kind          the kinds of request in the mix
    Outcome       one finished request (when, how long, its status, any error)
    KindStats     count, p50/p99 latency and status counts of one kind in one window
    split_windows outcomes binned by the window in which they finished
    flatness      how far a series strays from its first value
    verdict       the run's pass/fail with its reasons
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from switchboard_bench.stats import latency_percentiles

WARMUP_FRACTION = 0.2
TOLERANCE = 0.10  # the target: within +-10% of the first sample after the warm-up
BODY_CHARS = 500  # of a 5xx's body, kept for the report


class Kind(StrEnum):
    CHAT = "chat"  # /v1/chat/completions, one JSON answer
    CHAT_STREAM = "chat_stream"  # /v1/chat/completions, SSE
    ASSISTANT = "assistant"  # /v1/assistant/chat, SSE
    SEARCH = "search"  # /v1/search
    UPLOAD = "upload"  # /v1/collections/{c}/documents, a small Markdown file
    DISCONNECT = "disconnect"  # a stream left after its first event


@dataclass(frozen=True)
class Outcome:
    """One finished request, timed from its first byte sent."""

    kind: Kind
    end_s: float  # seconds since the soak started
    latency_s: float
    status: int  # the HTTP status; 0 when no response came (timeout, connection error)
    error: str | None = None  # what went wrong, for people
    stream_error: str | None = None  # the ``type`` of an error event inside a 200 stream
    body: str | None = None  # the start of the response body of a 5xx

    @property
    def server_error(self) -> bool:
        """A 5xx, or a stream that broke off with a server error after its 200."""
        return self.status >= 500 or self.stream_error == "server_error"

    @property
    def answered(self) -> bool:
        return self.status != 0


@dataclass(frozen=True)
class KindStats:
    count: int
    p50_ms: float | None  # None when nothing of the kind was answered
    p99_ms: float | None
    statuses: dict[str, int]  # "200": n ("0": no response)
    server_errors: int
    no_response: int
    stream_errors: int

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> KindStats:
        answered = [o.latency_s * 1000 for o in outcomes if o.answered]
        p50, p99 = latency_percentiles(answered)
        return cls(
            count=len(outcomes),
            p50_ms=round(p50, 1) if answered else None,
            p99_ms=round(p99, 1) if answered else None,
            statuses={str(k): v for k, v in sorted(Counter(o.status for o in outcomes).items())},
            server_errors=sum(o.server_error for o in outcomes),
            no_response=sum(not o.answered for o in outcomes),
            stream_errors=sum(o.stream_error is not None for o in outcomes),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def by_kind(outcomes: Sequence[Outcome]) -> dict[Kind, KindStats]:
    """Statistics of each kind that occurs in ``outcomes``, in the order of ``Kind``."""
    return {
        kind: KindStats.of(group)
        for kind in Kind
        if (group := [o for o in outcomes if o.kind is kind])
    }


def split_windows(
    outcomes: Sequence[Outcome], interval_s: float, windows: int
) -> list[list[Outcome]]:
    """Outcomes by the window ``[k * interval_s, (k + 1) * interval_s)`` they finished in;
    one that finished after the last window (as the run stopped) counts in the last."""
    if interval_s <= 0 or windows < 1:
        raise ValueError("interval_s must be > 0 and windows >= 1")
    bins: list[list[Outcome]] = [[] for _ in range(windows)]
    for outcome in outcomes:
        bins[min(max(int(outcome.end_s // interval_s), 0), windows - 1)].append(outcome)
    return bins


def warmup_samples(samples: int, fraction: float = WARMUP_FRACTION) -> int:
    """Samples taken during the warm-up, the last of them (taken as it ends) the baseline:
    ``ceil(fraction * samples)``, at least 1, leaving at least one sample to compare."""
    if not 0 <= fraction < 1:
        raise ValueError("the warm-up fraction must be in [0, 1)")
    return min(max(1, math.ceil(fraction * samples)), max(samples - 1, 1))


@dataclass(frozen=True)
class Flatness:
    """How far the values after a baseline strayed from it, in percent of it."""

    baseline: float
    low: float
    high: float
    max_deviation_pct: float
    ok: bool

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def flatness(values: Sequence[float], tolerance: float = TOLERANCE) -> Flatness:
    """``values[0]`` is the baseline; ok when every value is within ``+-tolerance`` of it."""
    if not values:
        raise ValueError("flatness needs at least the baseline")
    base = values[0]
    deviation = max(abs(v - base) for v in values) / base * 100 if base else 0.0
    if not base and any(values):
        deviation = math.inf
    return Flatness(base, min(values), max(values), deviation, deviation <= tolerance * 100)


def verdict(
    series: Mapping[str, Sequence[float]],
    outcomes: Sequence[Outcome],
    warmup_fraction: float = WARMUP_FRACTION,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """Pass when every series (one value per sample, e.g. ``server_rss_mb``) stays within
    ``tolerance`` of its value at the end of the warm-up, no request got a 5xx (or a server
    error inside its stream) and every request got an answer."""
    lengths = {len(values) for values in series.values()}
    samples = min(lengths, default=0)
    server_errors = sum(o.server_error for o in outcomes)
    no_response = sum(not o.answered for o in outcomes)
    reasons = []
    checks: dict[str, Any] = {}
    if samples < 2:
        reasons.append(f"{samples} sample(s): too short to judge (a warm-up and one more needed)")
    else:
        warmup = warmup_samples(samples, warmup_fraction)
        for name, values in series.items():
            check = flatness(values[warmup - 1 :], tolerance)
            checks[name] = check.to_json()
            if not check.ok:
                reasons.append(
                    f"{name} strayed {check.max_deviation_pct:.1f}% from {check.baseline:g} "
                    f"(limit {tolerance:.0%})"
                )
    if server_errors:
        reasons.append(f"{server_errors} server error(s)")
    if no_response:
        reasons.append(f"{no_response} request(s) without a response")
    return {
        "pass": not reasons,
        "reasons": reasons,
        "warmup_samples": warmup_samples(samples, warmup_fraction) if samples >= 2 else None,
        "tolerance_pct": tolerance * 100,
        "checks": checks,
        "server_errors": server_errors,
        "no_response": no_response,
    }
