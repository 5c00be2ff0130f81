"""``switchboard bench soak`` for a few seconds: the real server (default model, demo shop,
Order API, auth on) under the mix, sampled every window; the JSON and the chart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

DATA_DIR = Path(__file__).resolve().parents[2] / "data"  # the models cache
WINDOWS = 3


def test_a_short_soak_samples_every_window_and_sees_no_server_error(
    default_model_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env |= {"SWITCHBOARD_DATA_DIR": str(DATA_DIR), "SWITCHBOARD_CONFIG": str(tmp_path / "no")}
    argv = [sys.executable, "-m", "switchboard", "bench", "soak", "--minutes", "0.3",
            "--interval", "6", "--concurrency", "3", "--json", str(out)]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 2), done.stderr[-3000:]  # 2: a failed verdict
    report = json.loads(out.read_text())

    series = report["series"]
    assert [w["window"] for w in series] == list(range(1, WINDOWS + 1))
    for window in series:
        server, orders = window["server"], window["orders"]
        assert server["rss_mb"] > 50
        assert server["threads"] > 1
        assert server["fds"] > server["sqlite_fds"] > 0
        assert {"knowledge.sqlite3", "gateway.sqlite3"} <= set(server["sqlite_files"])
        assert orders is not None
        assert orders["pid"] != server["pid"]
        assert orders["rss_mb"] > 10
    assert report["requests"] >= 1
    for kind, stats in report["totals"].items():
        assert set(stats["statuses"]) <= {"200", "202"}, (kind, stats)  # auth, body, route ok
    verdict = report["verdict"]
    assert verdict["server_errors"] == 0, report["first_server_errors"]
    assert verdict["warmup_samples"] == 1
    assert set(verdict["checks"]) == {"server_rss_mb", "server_fds", "orders_rss_mb", "orders_fds"}
    assert (done.returncode == 0) == verdict["pass"]

    chart = ET.parse(out.with_suffix(".svg")).getroot()
    assert chart.tag == "{http://www.w3.org/2000/svg}svg"
    for pid in (series[0]["server"]["pid"], series[0]["orders"]["pid"]):
        assert stopped(pid)  # the server and its child were stopped


def stopped(pid: int) -> bool:
    """Not running: gone, or a zombie its new parent has yet to reap."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
