"""The soak's report: the per-window series (the server and its Order API child as sampled
from ``/proc``, each kind of request's statistics), totals, the first server errors with
their bodies, and the verdict. Pure: built from samples and outcomes, no I/O."""

from __future__ import annotations

import itertools
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from switchboard_bench.proc_sample import ProcSample
from switchboard_bench.soak_stats import Outcome, by_kind, split_windows, verdict

FIRST_ERRORS = 5  # server errors reported with their bodies


@dataclass(frozen=True)
class Sample:
    """The server and its Order API child (None while it is not running) at ``t_s``."""

    t_s: float
    server: ProcSample
    orders: ProcSample | None

    def to_json(self) -> dict[str, Any]:
        return {
            "t_s": round(self.t_s, 1),
            "server": self.server.to_json(),
            "orders": self.orders.to_json() if self.orders else None,
        }


@dataclass(frozen=True)
class SoakRun:
    """What one soak observed: the settings it ran with, the samples and the requests."""

    settings: dict[str, Any]  # minutes, window_s, concurrency, model, mix, ...
    window_s: float
    idle: Sample  # before any traffic
    samples: list[Sample]  # one at the end of each window
    outcomes: list[Outcome]
    warmup_fraction: float
    tolerance: float
    server_exit: str | None = None  # how the server ended, when it died during the run


def flat_series(samples: Sequence[Sample]) -> dict[str, list[float]]:
    """The series the verdict holds flat: the server's RSS and descriptors, and its Order
    API child's when every sample found it (a restarted child is a new process)."""
    series = {
        "server_rss_mb": [s.server.rss_mb for s in samples],
        "server_fds": [float(s.server.fds) for s in samples],
    }
    orders = [s.orders for s in samples]
    if orders and all(o is not None for o in orders):
        series["orders_rss_mb"] = [o.rss_mb for o in orders if o is not None]
        series["orders_fds"] = [float(o.fds) for o in orders if o is not None]
    return series


def orders_restarts(samples: Sequence[Sample]) -> int:
    """How often the Order API child's pid changed (or it went missing) between samples."""
    pids = [s.orders.pid if s.orders else None for s in samples]
    return sum(a != b for a, b in itertools.pairwise(pids))


def first_server_errors(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [
        {
            "kind": o.kind.value,
            "t_s": round(o.end_s, 1),
            "status": o.status,
            "error": o.error,
            "body": o.body,
        }
        for o in [o for o in outcomes if o.server_error][:FIRST_ERRORS]
    ]


def build_report(run: SoakRun) -> dict[str, Any]:
    """The JSON report: verdict first, then totals, then the series, one entry per window."""
    windows = split_windows(run.outcomes, run.window_s, max(len(run.samples), 1))
    judged = verdict(flat_series(run.samples), run.outcomes, run.warmup_fraction, run.tolerance)
    if run.server_exit is not None:
        judged = {**judged, "pass": False, "reasons": [run.server_exit, *judged["reasons"]]}
    errors = [o for o in run.outcomes if not o.server_error and o.error][:FIRST_ERRORS]
    return {
        "verdict": judged,
        "settings": run.settings,
        "requests": len(run.outcomes),
        "totals": {k.value: s.to_json() for k, s in by_kind(run.outcomes).items()},
        "first_server_errors": first_server_errors(run.outcomes),
        "first_other_errors": [
            {"kind": o.kind.value, "t_s": round(o.end_s, 1), "status": o.status, "error": o.error}
            for o in errors
        ],
        "orders_restarts": orders_restarts([run.idle, *run.samples]),
        "idle": run.idle.to_json(),
        "series": [
            {
                "window": i + 1,
                **sample.to_json(),
                "requests": {k.value: s.to_json() for k, s in by_kind(window).items()},
            }
            for i, (sample, window) in enumerate(zip(run.samples, windows, strict=False))
        ],
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
