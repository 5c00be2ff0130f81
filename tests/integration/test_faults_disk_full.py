"""The disk under the request log fills up, then space returns: the gateway database
(API keys, spend, the request log) on a small tmpfs of its own, filled by another file,
the gateway served over loopback with the fake engine (generation does not matter here).

While the disk is full requests are still served; the log's writer fails its batches,
counts the records lost (``/metrics``), says so in one line naming the file and the fix,
and ``/health`` shows the gateway store degraded. When space returns the next records are
written again, and every row written before the fault is still there.

Why a tmpfs: it is a real full disk (``ENOSPC`` under SQLite, as in production), needs no
seam in the log writer's private connection, and is torn down even when the test fails.
It needs root, as the test suite has in CI (the Debian packages it installs need it too).
SQLite's ``max_page_count`` would reach the same ``SQLITE_FULL`` without root, but only on
a connection the test holds, and the writer's connection is its own.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchboard.api import create_app
from switchboard.observability.request_log import RequestLog
from switchboard_bench.uvicorn_thread import serve
from tests.integration import gateway_harness
from tests.integration.fault_harness import (
    fake_chat,
    gateway_settings,
    health,
    logged,
    tracebacks,
    until,
)
from tests.unit.test_api_routes import FakeServedEngine

pytestmark = pytest.mark.integration

DISK_BYTES = 8 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 8 MiB tmpfs, unmounted after the test whatever happens (lazily: a file the
    server still holds open cannot keep it mounted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"mounting a tmpfs needs root (CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left; returns it (delete it to free space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def metric(base_url: str, name: str) -> float:
    for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def settled(log: RequestLog) -> tuple[int, int]:
    """Written and failed records, once everything submitted has been tried."""
    assert log.flush()
    return log.written, log.failed_records


def test_a_full_disk_loses_only_the_records_of_its_time_and_logging_resumes(
    small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = small_disk / "gateway.sqlite3"
    engine = FakeServedEngine()
    app = create_app(engine, gateway_settings(tmp_path, db))
    try:
        with serve(app) as url:
            before = [fake_chat(url) for _ in range(3)]
            rows_before = gateway_harness.logged(app, 3)
            filler = fill(small_disk)
            caplog.clear()
            during = [fake_chat(url) for _ in range(3)]
            log: RequestLog = app.state.request_log
            written, failed = until(lambda: settled(log), lambda wf: wf[1] == 3, 10)
            health_during = health(url)
            failed_metric = metric(url, "switchboard_request_log_failed_records_total")
            lines_during = logged(caplog)
            filler.unlink()  # space returns
            after = [fake_chat(url) for _ in range(2)]
            rows_after = gateway_harness.logged(app, 5)
            written_after, failed_after = settled(log)
            lines_after = logged(caplog)
            spend = app.state.log_store.spend_report("default", "")
    finally:
        engine.async_engine.shutdown()

    # what the user sees: every request served; /health names the full disk
    assert [r.status_code for r in before + during + after] == [200] * 8
    status, body = health_during
    assert (status, body["status"]) == (200, "degraded")
    gateway = body["stores"]["gateway"]
    assert gateway["status"] == "degraded"
    assert gateway["last_error"].startswith(f"{db} cannot grow: the disk is full")
    assert gateway["last_error"].endswith("free space on its disk")
    # what is logged: one line naming the file and the fix, no traceback per batch
    assert (written, failed, failed_metric) == (3, 3, 3.0)
    assert lines_during == [f"request log: records are being lost: {gateway['last_error']}"]
    assert not tracebacks(caplog)
    assert lines_after[len(lines_during) :] == [
        "request log: writing again; 3 records were lost while it failed"
    ]
    # nothing committed is lost, and logging resumes
    assert (written_after, failed_after) == (5, 3)
    ids_before = {r.record.request_id for r in rows_before}
    assert ids_before <= {r.record.request_id for r in rows_after}
    assert len(rows_after) == 5
    day_rows = [row for row in spend if row.scope == "tenant" and len(row.period) == 10]
    assert [row.requests for row in day_rows] == [5]
