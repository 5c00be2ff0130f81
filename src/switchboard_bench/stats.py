"""Latency statistics of one benchmark run, in the shape vLLM's serving benchmark reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class RequestTrace:
    """Client-side timestamps (``time.perf_counter``) of one request."""

    submitted: float
    token_times: list[float] = field(default_factory=list)

    @property
    def ttft(self) -> float:
        return self.token_times[0] - self.submitted

    @property
    def inter_token(self) -> list[float]:
        return list(np.diff(self.token_times))

    @property
    def decode_tok_s(self) -> float:
        span = self.token_times[-1] - self.token_times[0]
        return (len(self.token_times) - 1) / span if span > 0 else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else 0.0


def _pct(values: Sequence[float], q: float) -> float:
    """Percentile ``q`` of durations in seconds, in milliseconds."""
    return _percentile(values, q) * 1000.0


def percentiles_ms(samples_s: Sequence[float], *qs: float) -> dict[str, float]:
    """``{"n": .., "p50_ms": .., ...}`` of durations in seconds, for each percentile ``qs``
    (``100`` is reported as ``max_ms``), rounded to the microsecond."""
    out: dict[str, float] = {"n": len(samples_s)}
    for q in qs:
        out["max_ms" if q == 100 else f"p{q:g}_ms"] = round(_pct(samples_s, q), 3)
    return out


def latency_percentiles(samples_ms: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) of latencies in milliseconds, numpy's linear interpolation; (0, 0) if empty."""
    return _percentile(samples_ms, 50), _percentile(samples_ms, 99)


@dataclass(frozen=True)
class RunStats:
    concurrency: int
    requests: int
    output_tokens: int
    duration_s: float
    output_tok_s: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    ttit_p50_ms: float
    ttit_p99_ms: float
    decode_tok_s_per_stream: float

    @classmethod
    def from_traces(
        cls, concurrency: int, traces: Sequence[RequestTrace], duration_s: float
    ) -> RunStats:
        ttfts = [t.ttft for t in traces]
        itls = [gap for t in traces for gap in t.inter_token]
        tokens = sum(len(t.token_times) for t in traces)
        return cls(
            concurrency=concurrency,
            requests=len(traces),
            output_tokens=tokens,
            duration_s=round(duration_s, 3),
            output_tok_s=round(tokens / duration_s, 2),
            ttft_p50_ms=round(_pct(ttfts, 50), 1),
            ttft_p99_ms=round(_pct(ttfts, 99), 1),
            ttit_p50_ms=round(_pct(itls, 50), 2),
            ttit_p99_ms=round(_pct(itls, 99), 2),
            decode_tok_s_per_stream=round(float(np.mean([t.decode_tok_s for t in traces])), 2),
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)
