"""The soak benchmark's pure parts: per-window aggregation, the flatness verdict, the report,
the SVG chart, the run's configuration and the server's environment."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.orders.dataset import generate_dataset
from switchboard_bench.proc_sample import ProcSample
from switchboard_bench.soak import SoakConfig, demo_customers, server_env
from switchboard_bench.soak_plot import soak_svg
from switchboard_bench.soak_report import Sample, SoakRun, build_report, flat_series
from switchboard_bench.soak_stats import (
    Kind,
    KindStats,
    Outcome,
    flatness,
    split_windows,
    verdict,
    warmup_samples,
)

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def ok(kind: Kind, end_s: float, latency_s: float = 0.1, status: int = 200) -> Outcome:
    return Outcome(kind, end_s, latency_s, status)


def proc(rss_mb: float, fds: int = 50, pid: int = 10) -> ProcSample:
    return ProcSample(pid, rss_mb, fds, sqlite_fds=20, sockets=5, threads=12)


def sample(t_s: float, rss_mb: float, fds: int = 50, orders_pid: int | None = 11) -> Sample:
    orders = proc(100.0, 16, orders_pid) if orders_pid is not None else None
    return Sample(t_s, proc(rss_mb, fds), orders)


# --- per-window aggregation -------------------------------------------------------------


def test_outcomes_fall_in_the_window_they_finished_in() -> None:
    outcomes = [ok(Kind.CHAT, 0.0), ok(Kind.CHAT, 59.9), ok(Kind.SEARCH, 60.0), ok(Kind.CHAT, 185)]
    windows = split_windows(outcomes, 60.0, 3)
    assert [len(w) for w in windows] == [2, 1, 1]  # past the last window: counted in it
    assert windows[1][0].kind is Kind.SEARCH


def test_split_windows_refuses_an_empty_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        split_windows([], 0.0, 3)


def test_kind_stats_count_statuses_and_leave_unanswered_out_of_latency() -> None:
    outcomes = [ok(Kind.CHAT, 1, latency_s=s / 1000) for s in range(1, 101)]
    outcomes += [
        ok(Kind.CHAT, 1, latency_s=60.0, status=0),  # a timeout: no latency of an answer
        Outcome(Kind.CHAT, 1, 0.5, 503, "HTTP 503", body='{"error": {}}'),
        Outcome(Kind.CHAT, 1, 0.5, 200, "stream error", stream_error="server_error"),
        Outcome(Kind.CHAT, 1, 0.5, 200, "stream error", stream_error="invalid_request_error"),
    ]
    stats = KindStats.of(outcomes)
    assert stats.count == 104
    assert stats.statuses == {"0": 1, "200": 102, "503": 1}
    assert stats.server_errors == 2  # the 503 and the server error inside a 200 stream
    assert stats.no_response == 1
    assert stats.stream_errors == 2
    assert stats.p50_ms == 52.0  # 1..100 ms and three of 500 ms
    assert stats.p99_ms == 500.0  # the timeout's 60 s is not a latency


def test_a_kind_with_no_answer_has_no_latency() -> None:
    stats = KindStats.of([ok(Kind.UPLOAD, 1, status=0)])
    assert (stats.p50_ms, stats.p99_ms) == (None, None)


# --- the verdict ----------------------------------------------------------------------


@pytest.mark.parametrize(("samples", "warmup"), [(30, 6), (10, 2), (5, 1), (3, 1), (2, 1), (1, 1)])
def test_warmup_is_a_fifth_of_the_samples_leaving_one_to_compare(samples: int, warmup: int) -> None:
    assert warmup_samples(samples) == warmup


def test_flatness_measures_the_largest_deviation_from_the_baseline() -> None:
    check = flatness([100.0, 104.0, 95.0, 109.0])
    assert check.ok
    assert check.max_deviation_pct == pytest.approx(9.0)
    assert (check.low, check.high) == (95.0, 109.0)
    assert not flatness([100.0, 111.0]).ok
    assert not flatness([0.0, 1.0]).ok
    assert flatness([0.0, 0.0]).ok


def test_verdict_passes_flat_series_and_ignores_growth_during_the_warm_up() -> None:
    rss = [500.0, 1000.0, 1020.0, 990.0, 1050.0, 1000.0, 1010.0, 1040.0, 1000.0, 1030.0]
    result = verdict({"server_rss_mb": rss}, [ok(Kind.CHAT, 1)])
    assert result["pass"], result["reasons"]
    assert result["warmup_samples"] == 2
    assert result["checks"]["server_rss_mb"]["baseline"] == 1000.0  # the sample ending it
    assert not verdict({"server_rss_mb": rss}, [ok(Kind.CHAT, 1)], warmup_fraction=0.1)["pass"]


def test_verdict_fails_a_series_that_keeps_growing_naming_it() -> None:
    fds = [50.0 + 2 * i for i in range(10)]
    result = verdict({"server_rss_mb": [500.0] * 10, "server_fds": fds}, [])
    assert not result["pass"]
    assert result["checks"]["server_rss_mb"]["ok"]
    assert not result["checks"]["server_fds"]["ok"]
    assert len(result["reasons"]) == 1
    assert result["reasons"][0].startswith("server_fds strayed 30.8% from 52 ")


def test_verdict_fails_on_any_server_error_or_unanswered_request() -> None:
    flat = {"server_rss_mb": [500.0] * 5}
    error = Outcome(Kind.ASSISTANT, 3, 1.0, 500, "HTTP 500", body="boom")
    result = verdict(flat, [ok(Kind.CHAT, 1), error, ok(Kind.SEARCH, 2, status=0)])
    assert not result["pass"]
    assert (result["server_errors"], result["no_response"]) == (1, 1)
    assert result["reasons"] == ["1 server error(s)", "1 request(s) without a response"]


def test_verdict_cannot_judge_a_single_sample() -> None:
    result = verdict({"server_rss_mb": [500.0]}, [])
    assert not result["pass"]
    assert "too short to judge" in result["reasons"][0]


# --- the report and the chart ---------------------------------------------------------


def soak_run(samples: list[Sample], outcomes: list[Outcome], exit_: str | None = None) -> SoakRun:
    return SoakRun({"minutes": 1}, 10.0, sample(0, 400), samples, outcomes, 0.2, 0.1, exit_)


def test_report_has_a_series_entry_per_window_with_its_requests() -> None:
    samples = [sample(10.0 * (i + 1), 500 + i) for i in range(5)]
    error = Outcome(Kind.CHAT, 31.0, 1.0, 502, "HTTP 502", body='{"error": "upstream"}')
    outcomes = [ok(Kind.CHAT, 1), ok(Kind.SEARCH, 12), ok(Kind.SEARCH, 13), error]
    report = build_report(soak_run(samples, outcomes))
    series = report["series"]
    assert [w["window"] for w in series] == [1, 2, 3, 4, 5]
    assert series[0]["requests"]["chat"]["count"] == 1
    assert series[1]["requests"]["search"]["count"] == 2
    assert series[3]["requests"]["chat"]["server_errors"] == 1
    assert series[2]["requests"] == {}
    assert series[4]["server"]["rss_mb"] == 504
    assert report["requests"] == 4
    assert report["totals"]["search"]["count"] == 2
    assert report["first_server_errors"] == [
        {"kind": "chat", "t_s": 31.0, "status": 502, "error": "HTTP 502",
         "body": '{"error": "upstream"}'}
    ]  # fmt: skip
    assert not report["verdict"]["pass"]
    assert report["idle"]["server"]["rss_mb"] == 400


def test_report_counts_order_api_restarts_and_then_judges_the_server_alone() -> None:
    samples = [sample(10, 500), sample(20, 500, orders_pid=None), sample(30, 500, orders_pid=12)]
    report = build_report(soak_run(samples, []))
    assert report["orders_restarts"] == 2  # gone, then back with another pid
    assert set(flat_series(samples)) == {"server_rss_mb", "server_fds"}
    assert set(report["verdict"]["checks"]) == {"server_rss_mb", "server_fds"}


def test_a_server_that_exited_fails_the_verdict_first() -> None:
    samples = [sample(10, 500), sample(20, 500)]
    report = build_report(soak_run(samples, [], "the server exited with code -9 at 25 s: killed"))
    assert not report["verdict"]["pass"]
    assert report["verdict"]["reasons"][0].startswith("the server exited with code -9")


def test_chart_is_svg_with_a_line_per_series_and_the_verdict() -> None:
    samples = [sample(60.0 * (i + 1), 500 + i) for i in range(5)]
    outcomes = [ok(Kind.CHAT, 30), ok(Kind.SEARCH, 90), ok(Kind.CHAT, 150)]
    root = ET.fromstring(soak_svg(build_report(soak_run(samples, outcomes))))
    lines = {p.findtext(f"{SVG}title"): p.get("points", "") for p in root.iter(f"{SVG}polyline")}
    assert {"server", "Order API", "server SQLite", "chat", "search"} <= set(lines)
    assert len(lines["server SQLite"].split()) == 6  # the idle sample and five windows
    assert len(lines["search"].split()) == 1
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any("verdict: pass" in t for t in texts)
    assert any(r.findtext(f"{SVG}title") == "warm-up" for r in root.iter(f"{SVG}rect"))


# --- configuration, environment, command line -------------------------------------------


def test_config_splits_the_run_into_equal_windows() -> None:
    assert (SoakConfig(30, "m", Path("d")).windows, SoakConfig(30, "m", Path("d")).window_s) == (
        30,
        60.0,
    )
    short = SoakConfig(0.25, "m", Path("d"), interval_s=4)
    assert (short.windows, short.window_s) == (4, 3.75)
    assert SoakConfig(0.1, "m", Path("d")).windows == 1  # shorter than one interval
    with pytest.raises(ValueError, match="positive"):
        SoakConfig(0, "m", Path("d"))
    with pytest.raises(ValueError, match="concurrency"):
        SoakConfig(1, "m", Path("d"), concurrency=0)


def test_server_env_drops_the_callers_settings_and_turns_auth_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_KNOWLEDGE__STORE", "postgresql://prod/kb")
    monkeypatch.setenv("SWITCHBOARD_GATEWAY__AUTH", "off")
    env = server_env(tmp_path / "data", SoakConfig(1, "smollm2-135m", tmp_path), 18001)
    assert "SWITCHBOARD_KNOWLEDGE__STORE" not in env
    assert env["SWITCHBOARD_GATEWAY__AUTH"] == "on"
    assert env["SWITCHBOARD_DATA_DIR"] == str(tmp_path / "data")
    assert env["SWITCHBOARD_MODEL"] == "smollm2-135m"
    assert env["SWITCHBOARD_ORDERS__PORT"] == "18001"
    assert env["PATH"]  # the rest of the caller's environment is kept


def test_demo_customers_ask_about_orders_they_own() -> None:
    owners = {o.order_id: o.customer_id for o in generate_dataset().orders}
    customers = demo_customers()
    assert len(customers) == len(generate_dataset().customers)
    assert all(owners[order] == customer for customer, order in customers)


def test_bench_soak_refuses_a_non_positive_duration_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["bench", "soak", "--minutes", "0"])
    assert result.exit_code == 1
    assert result.stderr == "error: --minutes and --interval must be positive\n"
