"""``switchboard bench soak``: mixed traffic against a real server for N minutes; RSS, file
descriptors, SQLite connections and latency per window, a verdict, JSON and an SVG chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from switchboard.cli.common import (
    bench_app,
    console,
    load_settings,
    model_path,
    one_line_errors,
    progress_bar,
    write_json,
)


@bench_app.command("soak")
@one_line_errors
def bench_soak(
    minutes: Annotated[float, typer.Option(help="How long the traffic runs (fractions too).")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="SVG chart of RSS, descriptors and p99 (default: --json's, .svg)."),
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds per sample and window.")] = 60.0,
    concurrency: Annotated[int, typer.Option(help="Closed-loop clients.")] = 4,
    model: Annotated[str | None, typer.Option(help="Registry name or GGUF path.")] = None,
) -> None:
    """The real server (demo shop, Order API, auth on) under chat, assistant, search,
    upload and disconnect traffic; passes when RSS and descriptors stay within 10% after
    the warm-up (the first 20% of windows) and no request gets a 5xx. Exit code 2 on a fail."""
    from switchboard_bench.soak import SoakConfig, run_soak
    from switchboard_bench.soak_plot import soak_svg

    settings = load_settings()
    name = model or settings.model
    config = SoakConfig(minutes, name, settings.models_dir, interval, concurrency)
    model_path(settings, name)  # fail fast (or pull) before preparing anything
    with progress_bar() as progress:
        task = progress.add_task("soak", total=round(config.duration_s), start=False)

        def tick(elapsed: float, samples: Sequence[Any], outcomes: Sequence[Any]) -> None:
            errors = sum(o.server_error for o in outcomes)
            line = f"soak: {len(outcomes)} requests, {errors} 5xx"
            if samples:
                last = samples[-1].server
                line += f", RSS {last.rss_mb:.0f} MiB, {last.fds} fds"
            progress.start_task(task)  # the clock runs from the first request on
            progress.update(task, completed=min(elapsed, config.duration_s), description=line)

        result = run_soak(config, tick, progress.console.print)
    _print_soak(result)
    write_json(result, json_path)
    svg = plot or (json_path.with_suffix(".svg") if json_path is not None else None)
    if svg is not None:
        svg.write_text(soak_svg(result))
        console.print(f"wrote {svg}")
    if not result["verdict"]["pass"]:
        raise typer.Exit(2)


def _print_soak(result: dict[str, Any]) -> None:
    windows = Table(
        "window", "min", "RSS", "fds", "SQLite", "threads", "orders RSS", "orders fds",
        "requests", "5xx", title="server per window (RSS in MiB)",
    )  # fmt: skip
    for w in result["series"]:
        server, orders, requests = w["server"], w["orders"] or {}, w["requests"].values()
        windows.add_row(
            str(w["window"]),
            f"{w['t_s'] / 60:.1f}",
            f"{server['rss_mb']:.0f}",
            str(server["fds"]),
            str(server["sqlite_fds"]),
            str(server["threads"]),
            f"{orders.get('rss_mb', 0):.0f}",
            str(orders.get("fds", "-")),
            str(sum(r["count"] for r in requests)),
            str(sum(r["server_errors"] for r in requests)),
        )
    console.print(windows)
    kinds = Table("kind", "requests", "p50 ms", "p99 ms", "statuses", "5xx", "no response",
                  title="requests over the whole run")  # fmt: skip
    for kind, s in result["totals"].items():
        statuses = ", ".join(f"{code}: {n}" for code, n in s["statuses"].items())
        kinds.add_row(kind, str(s["count"]), _ms(s["p50_ms"]), _ms(s["p99_ms"]), statuses,
                      str(s["server_errors"]), str(s["no_response"]))  # fmt: skip
    console.print(kinds)
    for error in result["first_server_errors"]:
        console.print(f"5xx: {error}", highlight=False)
    verdict = result["verdict"]
    reasons = "; ".join(verdict["reasons"])
    console.print(f"verdict: {'pass' if verdict['pass'] else 'FAIL: ' + reasons}", highlight=False)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
