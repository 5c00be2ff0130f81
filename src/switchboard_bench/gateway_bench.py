"""``switchboard bench gateway``: the overhead, throughput and memory of our gateway against
a direct connection to the upstream and against LiteLLM's proxy, all in one run.

Every server is a subprocess (two fake upstreams, one per timing profile; our gateway with
auth, rate limits and the request log on, guardrails and cache off; LiteLLM's proxy); the
load generator runs in this process. Figures are ratios and differences measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from switchboard.errors import DependencyUnavailableError, ServiceStartError
from switchboard_bench import litellm_env
from switchboard_bench.gateway_report import (
    LATENCY,
    THROUGHPUT,
    GatewayBenchConfig,
    MemoryTrace,
    UpstreamProfile,
    build_report,
)
from switchboard_bench.http_load import (
    PhaseStats,
    RequestResult,
    Target,
    chat_target,
    run_load,
)
from switchboard_bench.processes import HOST, cpu_s, free_port, rss_mb, server, sigterm_exits

MASTER_KEY = "sk-switchboard-bench"
KEY_RPM = 100_000_000  # rate limiting on, never triggered
KEY_TPM = 10_000_000_000
Say = Callable[[str], None]
Advance = Callable[[str, int], Callable[[RequestResult], None]]  # (label, total) -> per result


def render_gateway_toml(data_dir: Path, upstream_ports: Mapping[str, int]) -> str:
    """Settings for ``switchboard gateway``: auth, rate limits and request log on; one
    provider and one route ``bench-<profile>`` per fake upstream. The guardrails and the
    response cache are off: this measures the gateway's own path (``bench guard`` and
    ``bench cache`` measure theirs)."""
    lines = [
        f"data_dir = {json.dumps(str(data_dir))}",
        "[gateway]",
        'auth = "on"',
        "guard = false",
        "cache = false",
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
        argv = [sys.executable, "-m", "switchboard_bench.fake_upstream", f"--port={port}"]
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


def run_gateway_bench(config: GatewayBenchConfig, say: Say, advance: Advance) -> dict[str, Any]:
    """Run every phase; return the report (see ``build_report``)."""
    litellm, litellm_missing = _litellm(config, say)
    phases: dict[str, dict[str, PhaseStats]] = {}
    with (
        sigterm_exits(),
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
