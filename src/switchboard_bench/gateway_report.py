"""The gateway benchmark's pure parts: the upstream timing profiles, the run's configuration,
the RSS trace and the JSON report built from the phases' statistics."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from switchboard_bench import litellm_env
from switchboard_bench.http_load import PhaseStats


@dataclass(frozen=True)
class UpstreamProfile:
    """Timing of the fake upstream: time to first chunk, gap between chunks, chunk count."""

    name: str
    ttft_ms: float
    chunk_ms: float
    chunks: int

    def args(self) -> list[str]:
        return [
            f"--ttft-ms={self.ttft_ms:g}",
            f"--chunk-ms={self.chunk_ms:g}",
            f"--chunks={self.chunks}",
        ]

    @property
    def duration_s(self) -> float:
        """One request's nominal length: the clients' start is spread over it."""
        return (self.ttft_ms + self.chunk_ms * max(self.chunks - 1, 0)) / 1000


# A fast model server: 50 ms to the first token, then 100 tokens/s per stream.
LATENCY = UpstreamProfile("latency", ttft_ms=50, chunk_ms=10, chunks=16)
THROUGHPUT = UpstreamProfile("throughput", ttft_ms=0, chunk_ms=0, chunks=16)  # no delays


@dataclass(frozen=True)
class GatewayBenchConfig:
    data_dir: Path  # the LiteLLM venv is cached under data_dir/bench
    concurrency: int = 32
    requests: int = 5_000  # per target, in the latency and the throughput phase
    warmup_requests: int = 200  # per target, before each measured run
    memory_requests: int = 100_000
    memory_warmup: int = 5_000
    memory_sample_every: int = 5_000
    skip_litellm: bool = False

    @classmethod
    def scaled(
        cls, data_dir: Path, requests: int, memory_requests: int, concurrency: int, skip: bool
    ) -> GatewayBenchConfig:
        """Warm-ups and RSS sampling sized to the run: 5,000 each at full size, less (at
        least five samples) for a quick run."""
        warmup = min(5_000, memory_requests // 4)
        every = max(1, min(5_000, (memory_requests - warmup) // 4))
        return cls(
            data_dir,
            concurrency,
            requests,
            min(200, requests),
            memory_requests,
            warmup,
            every,
            skip,
        )

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.requests < 1 or self.memory_sample_every < 1:
            raise ValueError("concurrency, requests and the sampling interval must be >= 1")
        if self.memory_requests < self.memory_warmup:
            raise ValueError("memory_requests must be at least the memory warm-up")


@dataclass
class MemoryTrace:
    """RSS (MiB) of the gateway sampled at request counts, from the end of the warm-up."""

    samples: list[tuple[int, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            keys = ("rss_start_mb", "rss_end_mb", "rss_max_mb", "memory_drift_pct")
            return {**dict.fromkeys(keys), "rss_samples": []}
        start, end = self.samples[0][1], self.samples[-1][1]
        return {
            "rss_start_mb": round(start, 1),
            "rss_end_mb": round(end, 1),
            "rss_max_mb": round(max(rss for _, rss in self.samples), 1),
            "memory_drift_pct": round((end - start) / start * 100, 2),
            "rss_samples": [[n, round(rss, 1)] for n, rss in self.samples],
        }


_OVERHEADS = {  # report key -> the PhaseStats percentile it is the difference of
    "overhead_p50_ms": "total_p50_ms",
    "overhead_p99_ms": "total_p99_ms",
    "ttft_overhead_p50_ms": "ttft_p50_ms",
    "ttft_overhead_p99_ms": "ttft_p99_ms",
}


def overheads(via: PhaseStats | None, direct: PhaseStats, prefix: str = "") -> dict[str, Any]:
    """Latency added by a proxy: its percentiles minus the direct ones (None without it)."""
    return {
        prefix + key: None if via is None else round(getattr(via, f) - getattr(direct, f), 2)
        for key, f in _OVERHEADS.items()
    }


def build_report(
    config: GatewayBenchConfig,
    phases: Mapping[str, Mapping[str, PhaseStats]],
    memory: PhaseStats,
    trace: MemoryTrace,
    litellm: litellm_env.LiteLLMInstall | None,
    litellm_missing: str | None,
) -> dict[str, Any]:
    """The JSON report: headline figures first, then every phase in full."""
    lat, thr = phases["latency"], phases["throughput"]
    direct, ours, theirs = lat["direct"], lat["gateway"], lat.get("litellm")
    ll_rps = thr["litellm"].rps if "litellm" in thr else None
    report: dict[str, Any] = {
        **overheads(ours, direct),
        **overheads(theirs, direct, "litellm_"),
        "throughput_rps": thr["gateway"].rps,
        "litellm_throughput_rps": ll_rps,
        "direct_throughput_rps": thr["direct"].rps,
        "throughput_ratio_vs_litellm": round(thr["gateway"].rps / ll_rps, 3) if ll_rps else None,
        "cpu_ms_per_request": thr["gateway"].server_cpu_ms_per_request,
        "litellm_cpu_ms_per_request": thr["litellm"].server_cpu_ms_per_request if ll_rps else None,
        **trace.summary(),
        "concurrency": config.concurrency,
        "requests": {
            "latency": config.requests,
            "throughput": config.requests,
            "memory": config.memory_requests,
            "warmup_per_target": config.warmup_requests,
            "memory_warmup": config.memory_warmup,
        },
        "errors": {
            **{
                phase: {label: s.errors for label, s in runs.items()}
                for phase, runs in phases.items()
            },
            "memory": memory.errors,
        },
        "phases": {
            **{
                phase: {label: asdict(s) for label, s in runs.items()}
                for phase, runs in phases.items()
            },
            "memory": asdict(memory),
        },
        "profiles": {p.name: asdict(p) for p in (LATENCY, THROUGHPUT)},
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {"litellm": litellm.version if litellm else None},
        "litellm": {
            "available": litellm is not None,
            "reason_missing": litellm_missing,
            "install_s": litellm.install_s if litellm else None,
        },
        "notes": NOTES,
    }
    return report


NOTES = [
    "All servers run on this machine as separate processes; the load generator (an asyncio "
    "HTTP/1.1 client, one keep-alive connection per client) runs in the bench process.",
    "Overheads are percentile differences (through the proxy minus direct) of client-side "
    "TTFT and total latency in the latency phase; rps counts successful requests only.",
    "Our gateway runs with auth, rate limits (in memory, set never to trigger) and the "
    "request log on.",
    "LiteLLM's proxy runs with one worker (its default), master-key auth and no database: "
    "its virtual keys, rate limits and spend logs need PostgreSQL, so it does less per "
    "request than our gateway here.",
    "RSS is the gateway process tree's, sampled every memory_sample_every requests after "
    "the warm-up; memory_drift_pct = (end - start) / start * 100.",
]
