"""``switchboard bench soak``: the real server under mixed traffic for minutes, sampled
once a window (a minute by default) for leaks.

The server runs as ``switchboard serve`` runs it: its own process, the configured model, the
demo shop ingested into a temporary data directory (the models directory is linked in, not
copied), the Order API as its child and authentication on with a key created beforehand in
the temporary gateway database. Closed-loop clients in this process send the mix of
``soak_traffic``; at the end of each window the server and its child are sampled from
``/proc``. Nothing of the caller's data directory is written but the models cache.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from switchboard.config import KnowledgeSettings
from switchboard.errors import ServiceStartError
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import Scope
from switchboard.orders.dataset import generate_dataset
from switchboard_bench.proc_sample import find_child, sample_process
from switchboard_bench.processes import HOST, free_port, log_tail, server, sigterm_exits
from switchboard_bench.soak_report import Sample, SoakRun, build_report
from switchboard_bench.soak_stats import TOLERANCE, WARMUP_FRACTION, Outcome
from switchboard_bench.soak_traffic import MIX, Traffic, run_client

ORDERS_CHILD = ("orders", "serve")  # words of the Order API child's command line
SCOPES = (Scope.CHAT, Scope.SEARCH, Scope.ASSISTANT)
DEMO_LOAD_TIMEOUT_S = 600.0
# Called about once a second while traffic runs: (seconds elapsed, samples, outcomes so far).
Tick = Callable[[float, Sequence[Sample], Sequence[Outcome]], None]


@dataclass(frozen=True)
class SoakConfig:
    minutes: float
    model: str  # registry name or GGUF path, as ``switchboard serve --model`` takes
    models_dir: Path  # the caller's models cache, linked into the temporary data directory
    interval_s: float = 60.0  # one sample (and one window of statistics) per interval
    concurrency: int = 4
    warmup_fraction: float = WARMUP_FRACTION
    tolerance: float = TOLERANCE
    start_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if not self.minutes > 0 or not self.interval_s > 0:
            raise ValueError("--minutes and --interval must be positive")
        if self.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")

    @property
    def duration_s(self) -> float:
        return self.minutes * 60

    @property
    def windows(self) -> int:
        """Equal windows filling the run, each as near ``interval_s`` as fits."""
        return max(1, round(self.duration_s / self.interval_s))

    @property
    def window_s(self) -> float:
        return self.duration_s / self.windows

    def to_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "window_s": round(self.window_s, 3),
            "windows": self.windows,
            "concurrency": self.concurrency,
            "model": self.model,
            "mix": [kind.value for kind in MIX],
            "warmup_fraction": self.warmup_fraction,
            "tolerance": self.tolerance,
        }


def server_env(data_dir: Path, config: SoakConfig, orders_port: int) -> dict[str, str]:
    """The server's environment: the caller's without its ``SWITCHBOARD_*`` settings (a
    soak must not write to the caller's stores), then the soak's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return env | {
        "SWITCHBOARD_CONFIG": str(data_dir / "absent.toml"),  # no settings file
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_MODEL": config.model,
        "SWITCHBOARD_GATEWAY__AUTH": "on",
        "SWITCHBOARD_ORDERS__PORT": str(orders_port),
    }


def prepare_data_dir(data_dir: Path, models_dir: Path, env: dict[str, str]) -> None:
    """Link the models in and ingest the demo shop (``switchboard demo load``)."""
    data_dir.mkdir(parents=True)
    (data_dir / "models").symlink_to(models_dir.resolve(), target_is_directory=True)
    argv = [sys.executable, "-m", "switchboard", "demo", "load"]
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=DEMO_LOAD_TIMEOUT_S
    )
    if done.returncode != 0:
        raise ServiceStartError(f"demo load failed: {(done.stderr or done.stdout)[-300:]}")


def create_key(data_dir: Path) -> str:
    """A key of the default tenant (the demo shop's) with every scope the mix uses and
    no limits, in the gateway database the server will open."""
    store = KeyStore.open(data_dir / "gateway.sqlite3", cache_ttl_s=0)
    try:
        tenant = KnowledgeSettings().default_tenant
        return store.create(tenant=tenant, scopes=SCOPES, name="soak").token
    finally:
        store.close()


def customer_tokens(data_dir: Path, customers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """A token for each customer, of the default tenant, as long-lived as tokens may be."""
    secrets = CustomerSecrets.open(data_dir / "gateway.sqlite3")
    try:
        tenant = KnowledgeSettings().default_tenant
        return {
            customer: secrets.mint(tenant, customer, secrets.max_ttl_s).token
            for customer, _ in customers
        }
    finally:
        secrets.close()


def demo_customers() -> list[tuple[str, str]]:
    """Each demo customer with their first order, for order questions that can be answered."""
    first: dict[str, str] = {}
    for order in generate_dataset().orders:
        first.setdefault(order.customer_id, order.order_id)
    return sorted(first.items())


def take_sample(server_pid: int, t_s: float) -> Sample:
    orders = find_child(server_pid, ORDERS_CHILD)
    try:
        child = sample_process(orders) if orders is not None else None
    except psutil.NoSuchProcess:  # the child ended between finding and reading it
        child = None
    return Sample(t_s, sample_process(server_pid), child)


@dataclass
class Observed:
    samples: list[Sample]
    outcomes: list[Outcome]
    server_exit: str | None = None


async def drive(
    traffic: Traffic, config: SoakConfig, proc: subprocess.Popen[bytes], log: Path, tick: Tick
) -> Observed:
    """Run the clients for the configured duration, sampling the server at the end of each
    window; stop early if the server dies."""
    seen = Observed([], [])
    started, numbers = time.perf_counter(), itertools.count()
    clients = [
        asyncio.create_task(run_client(traffic, k, numbers, seen.outcomes.append, started))
        for k in range(config.concurrency)
    ]
    try:
        for window in range(1, config.windows + 1):
            due = started + window * config.window_s
            while (now := time.perf_counter()) < due and seen.server_exit is None:
                await asyncio.sleep(min(1.0, due - now))
                _raise_crashed(clients)
                seen.server_exit = _exit_of(proc, time.perf_counter() - started, log)
                tick(time.perf_counter() - started, seen.samples, seen.outcomes)
            if seen.server_exit is not None:
                break
            seen.samples.append(take_sample(proc.pid, time.perf_counter() - started))
    finally:
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    return seen


def _raise_crashed(clients: Sequence[asyncio.Task[None]]) -> None:
    """A client that stopped with an exception is a bug of the benchmark: surface it."""
    for client in clients:
        if client.done() and not client.cancelled() and client.exception() is not None:
            raise RuntimeError("a soak client failed") from client.exception()


def _exit_of(proc: subprocess.Popen[bytes], t_s: float, log: Path) -> str | None:
    if (code := proc.poll()) is None:
        return None
    return f"the server exited with code {code} at {t_s:.0f} s: {log_tail(log)}"


def run_soak(config: SoakConfig, tick: Tick, say: Callable[[str], None]) -> dict[str, Any]:
    """Prepare, start the server, soak it, stop it; return the report (``build_report``)."""
    with sigterm_exits(), tempfile.TemporaryDirectory(prefix="soak-bench-") as tmp:
        work = Path(tmp)
        port, data_dir = free_port(), work / "data"
        env = server_env(data_dir, config, free_port())
        say(f"preparing {data_dir}: demo shop, API key")
        prepare_data_dir(data_dir, config.models_dir, env)
        token = create_key(data_dir)
        argv = [sys.executable, "-m", "switchboard", "serve", "--host", HOST, "--port", str(port)]
        started = server("serve", argv, env, port, "/health", work, config.start_timeout_s)
        with started as proc:
            say(f"server up on {HOST}:{port} (pid {proc.pid}); soaking for {config.minutes:g} min")
            customers = demo_customers()
            traffic = Traffic(
                f"http://{HOST}:{port}",
                token,
                config.model,
                customers,
                customer_tokens(data_dir, customers),
            )
            idle = take_sample(proc.pid, 0.0)
            seen = asyncio.run(drive(traffic, config, proc, work / "serve.log", tick))
        run = SoakRun(
            config.to_json(),
            config.window_s,
            idle,
            seen.samples,
            seen.outcomes,
            config.warmup_fraction,
            config.tolerance,
            seen.server_exit,
        )
        return build_report(run)
