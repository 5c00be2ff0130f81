"""``switchboard bench gateway``: the overhead, throughput and memory of our gateway against
a direct connection to the upstream and against LiteLLM's proxy, all in one run.

Every server is a subprocess (two fake upstreams, one per timing profile; our gateway with
auth, rate limits and the request log on; LiteLLM's proxy); the load generator runs in this
process. Figures are ratios and differences measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from switchboard.bench import litellm_env
from switchboard.bench.http_load import (
    PhaseStats,
    RequestResult,
    Target,
    chat_target,
    http_status,
    run_load,
)
from switchboard.errors import DependencyUnavailableError, ServiceStartError

HOST = "127.0.0.1"
MASTER_KEY = "sk-switchboard-bench"
KEY_RPM = 100_000_000  # rate limiting on, never triggered
KEY_TPM = 10_000_000_000
Say = Callable[[str], None]
Advance = Callable[[str, int], Callable[[RequestResult], None]]  # (label, total) -> per result


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


def render_gateway_toml(data_dir: Path, upstream_ports: Mapping[str, int]) -> str:
    """Settings for ``switchboard gateway``: auth, rate limits and request log on; one
    provider and one route ``bench-<profile>`` per fake upstream."""
    lines = [
        f"data_dir = {json.dumps(str(data_dir))}",
        "[gateway]",
        'auth = "on"',
        "[gateway.limits]",
        f"default_rpm = {KEY_RPM}",
        f"default_tpm = {KEY_TPM}",
        "[gateway.log]",
        "enabled = true",
    ]
    for profile, port in upstream_ports.items():
        lines += [
            "[[gateway.providers]]",
            f'name = "upstream-{profile}"',
            'kind = "openai"',
            f'base_url = "http://{HOST}:{port}/v1"',
        ]
    for profile in upstream_ports:
        lines += [
            f"[gateway.routes.bench-{profile}]",
            f'targets = [{{provider = "upstream-{profile}", model = "fake"}}]',
        ]
    return "\n".join(lines) + "\n"


def parse_token(cli_output: str) -> str:
    """The token in ``switchboard keys create --json`` output."""
    try:
        token = json.loads(cli_output)["token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceStartError(f"keys create printed no token: {cli_output[:200]!r}") from exc
    if not isinstance(token, str) or not token:
        raise ServiceStartError("keys create printed an empty token")
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MiB."""
    return sum(p.memory_info().rss for p in _tree(pid)) / 2**20


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    return sum(sum(p.cpu_times()[:2]) for p in _tree(pid))


def _log_tail(log: Path, lines: int = 8) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())


@contextmanager
def server(
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    port: int,
    health: str,
    logs: Path,
    timeout_s: float = 120.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one server until the block ends (also on Ctrl-C); wait until ``health`` answers 200."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout_s
        while asyncio.run(http_status(HOST, port, health)) != 200:
            if process.poll() is not None:
                raise ServiceStartError(f"{name} exited ({process.returncode}): {_log_tail(log)}")
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"{name} not ready after {timeout_s:.0f} s: {_log_tail(log)}"
                )
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _switchboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "switchboard", *args]


def create_key(env: Mapping[str, str]) -> str:
    """A chat key for tenant ``bench`` with rate limits that never trigger, via the CLI."""
    args = shlex.split("keys create --tenant bench --name bench --scopes chat --json")
    argv = _switchboard(*args, f"--rpm={KEY_RPM}", f"--tpm={KEY_TPM}")
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ServiceStartError(f"keys create failed: {done.stderr.strip()[-300:]}")
    return parse_token(done.stdout)


@dataclass(frozen=True)
class Endpoint:
    """One way to reach an upstream: the server to send to and the process that serves it."""

    port: int
    model: str
    token: str | None
    pid: int  # for its CPU time and RSS

    def target(self) -> Target:
        return chat_target(HOST, self.port, self.model, self.token)


Endpoints = dict[str, dict[str, Endpoint]]  # profile -> "direct" | "gateway" | "litellm" -> ...


def start_servers(
    stack: ExitStack, work: Path, litellm: litellm_env.LiteLLMInstall | None, say: Say
) -> Endpoints:
    """Fake upstreams, then a key and our gateway, then LiteLLM; all stop with ``stack``."""
    ports = {p.name: free_port() for p in (LATENCY, THROUGHPUT)}
    pids = {}
    for profile in (LATENCY, THROUGHPUT):
        name, port = profile.name, ports[profile.name]
        argv = [sys.executable, "-m", "switchboard.bench.fake_upstream", f"--port={port}"]
        upstream = server(
            f"upstream-{name}", argv + profile.args(), os.environ, port, "/_stats", work
        )
        pids[name] = stack.enter_context(upstream).pid
    (work / "switchboard.toml").write_text(render_gateway_toml(work / "data", ports))
    env = {**os.environ, "SWITCHBOARD_CONFIG": str(work / "switchboard.toml")}
    token, gw_port = create_key(env), free_port()
    argv = _switchboard("gateway", "--host", HOST, "--port", str(gw_port))
    gateway = stack.enter_context(server("gateway", argv, env, gw_port, "/health", work))
    say(f"fake upstreams on {ports}, gateway on {gw_port}")
    endpoints: Endpoints = {
        p: {
            "direct": Endpoint(port, "fake", None, pids[p]),
            "gateway": Endpoint(gw_port, f"bench-{p}", token, gateway.pid),
        }
        for p, port in ports.items()
    }
    if litellm is not None:
        ll_port, ll_config = free_port(), work / "litellm.yaml"
        bases = {f"bench-{p}": f"http://{HOST}:{port}/v1" for p, port in ports.items()}
        ll_config.write_text(litellm_env.render_config(bases, MASTER_KEY))
        argv = litellm_env.proxy_command(litellm, ll_config, ll_port)
        env = litellm_env.proxy_env()
        health = litellm_env.HEALTH_PATH
        proxy = stack.enter_context(server("litellm", argv, env, ll_port, health, work, 180))
        for name, runs in endpoints.items():
            runs["litellm"] = Endpoint(ll_port, f"bench-{name}", MASTER_KEY, proxy.pid)
        say(f"LiteLLM proxy on {ll_port}")
    return endpoints


def _measure(
    endpoint: Endpoint,
    n: int,
    concurrency: int,
    on_result: Callable[[RequestResult], None],
    ramp_s: float = 0.0,
) -> PhaseStats:
    """One load run, with the CPU time its server spent per request."""
    cpu = cpu_s(endpoint.pid)
    stats = asyncio.run(run_load(endpoint.target(), concurrency, n, on_result, ramp_s=ramp_s))
    per_request = (cpu_s(endpoint.pid) - cpu) * 1000 / max(stats.requests, 1)
    return replace(stats, server_cpu_ms_per_request=round(per_request, 3))


def _phase(
    endpoint: Endpoint,
    config: GatewayBenchConfig,
    profile: UpstreamProfile,
    label: str,
    advance: Advance,
) -> PhaseStats:
    """Warm up, then the measured run, the clients' start spread over one request."""
    asyncio.run(run_load(endpoint.target(), config.concurrency, config.warmup_requests))
    n = config.requests
    return _measure(endpoint, n, config.concurrency, advance(label, n), profile.duration_s)


def _memory_phase(
    gateway: Endpoint, config: GatewayBenchConfig, advance: Advance
) -> tuple[PhaseStats, MemoryTrace]:
    trace, done = MemoryTrace(), [0]
    tick = advance("memory gateway", config.memory_requests)

    def on_result(result: RequestResult) -> None:
        tick(result)
        done[0] += 1
        past = done[0] - config.memory_warmup
        if past >= 0 and past % config.memory_sample_every == 0:
            trace.samples.append((done[0], rss_mb(gateway.pid)))

    stats = _measure(gateway, config.memory_requests, config.concurrency, on_result)
    if not trace.samples or trace.samples[-1][0] != done[0]:
        trace.samples.append((done[0], rss_mb(gateway.pid)))
    return stats, trace


def _litellm(
    config: GatewayBenchConfig, say: Say
) -> tuple[litellm_env.LiteLLMInstall | None, str | None]:
    """LiteLLM's install, or why there is none."""
    if config.skip_litellm:
        return None, "skipped (--skip-litellm)"
    try:
        return litellm_env.ensure_litellm(config.data_dir / "bench" / "litellm-venv", say), None
    except DependencyUnavailableError as exc:
        say(f"LiteLLM unavailable, benchmarking without it: {exc}")
        return None, str(exc)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit`` so that the servers are stopped as on Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_gateway_bench(config: GatewayBenchConfig, say: Say, advance: Advance) -> dict[str, Any]:
    """Run every phase; return the report (see ``build_report``)."""
    litellm, litellm_missing = _litellm(config, say)
    phases: dict[str, dict[str, PhaseStats]] = {}
    with (
        _sigterm_exits(),
        tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp,
        ExitStack() as stack,
    ):
        endpoints = start_servers(stack, Path(tmp), litellm, say)
        profiles = {p.name: p for p in (LATENCY, THROUGHPUT)}
        for profile, runs in endpoints.items():
            phases[profile] = {
                label: _phase(endpoint, config, profiles[profile], f"{profile} {label}", advance)
                for label, endpoint in runs.items()
            }
        memory, trace = _memory_phase(endpoints[THROUGHPUT.name]["gateway"], config, advance)
    return build_report(config, phases, memory, trace, litellm, litellm_missing)


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
