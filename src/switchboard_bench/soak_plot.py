"""The soak report as an SVG chart: RSS, file descriptors and p99 latency per window, one
panel each, the warm-up shaded. Written by hand (no plotting dependency); pure."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from switchboard_bench.soak_stats import Kind

WIDTH, PANEL_H, TOP, LEFT, RIGHT, GAP = 760, 190, 30, 70, 170, 40
Pick = Callable[[dict[str, Any]], float | None]  # a window's value, None where it has none
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True)
class Line:
    label: str
    points: list[tuple[float, float]]  # (minutes, value)


def _series(report: dict[str, Any], pick: Pick, idle: bool = False) -> list[tuple[float, float]]:
    """(minute, value) of each window (and of the idle sample at 0 with ``idle``) where
    ``pick(window)`` is not None."""
    points = []
    for window in [report["idle"]] * idle + report["series"]:
        value = pick(window)
        if value is not None:
            points.append((window["t_s"] / 60, float(value)))
    return points


def _orders(window: dict[str, Any], key: str) -> float | None:
    orders = window["orders"]
    return None if orders is None else float(orders[key])


def panels(report: dict[str, Any]) -> list[tuple[str, list[Line]]]:
    """The three panels' titles and lines."""
    memory = [
        Line("server", _series(report, lambda w: w["server"]["rss_mb"], idle=True)),
        Line("Order API", _series(report, lambda w: _orders(w, "rss_mb"), idle=True)),
    ]
    fds = [
        Line("server", _series(report, lambda w: w["server"]["fds"], idle=True)),
        Line("server SQLite", _series(report, lambda w: w["server"]["sqlite_fds"], idle=True)),
        Line("Order API", _series(report, lambda w: _orders(w, "fds"), idle=True)),
    ]
    latency = [
        Line(kind.value, _series(report, functools.partial(_p99, kind=kind)))
        for kind in Kind
        if any(kind.value in w["requests"] for w in report["series"])
    ]
    return [
        ("RSS, MiB", memory),
        ("open file descriptors", fds),
        ("p99 latency per kind, ms", latency),
    ]


def _p99(window: dict[str, Any], kind: Kind) -> float | None:
    stats = window["requests"].get(kind.value)
    return None if stats is None else stats["p99_ms"]


def _panel(
    top: float, title: str, lines: Sequence[Line], x_max: float, warmup_x: float | None
) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PANEL_H - 30
    y_max = max((y for line in lines for _, y in line.points), default=0.0) * 1.1 or 1.0

    def xy(x: float, y: float) -> str:
        return f"{LEFT + x / x_max * plot_w:.1f},{top + plot_h - y / y_max * plot_h:.1f}"

    out = [f'<text x="{LEFT}" y="{top - 8}" font-weight="bold">{escape(title)}</text>']
    if warmup_x:
        out.append(
            f'<rect x="{LEFT}" y="{top}" width="{warmup_x / x_max * plot_w:.1f}" '
            f'height="{plot_h}" fill="#eeeeee"><title>warm-up</title></rect>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#888888"/>'
    )
    top_label = f"{y_max:,.0f}" if y_max >= 10 else f"{y_max:.3g}"
    out.append(f'<text x="{LEFT - 6}" y="{top + 10}" text-anchor="end">{top_label}</text>')
    out.append(f'<text x="{LEFT - 6}" y="{top + plot_h}" text-anchor="end">0</text>')
    for i, line in enumerate(lines):
        color = COLORS[i % len(COLORS)]
        if line.points:
            path = " ".join(xy(x, y) for x, y in line.points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2">')
            out.append(f"<title>{escape(line.label)}</title></polyline>")
        legend_y = top + 14 + 16 * i
        out.append(
            f'<text x="{WIDTH - RIGHT + 10}" y="{legend_y}" fill="{color}">'
            f"{escape(line.label)}</text>"
        )
    return out


def soak_svg(report: dict[str, Any]) -> str:
    """An SVG document of the report's series (minutes on the x axis)."""
    windows = report["series"]
    x_max = max((w["t_s"] for w in windows), default=0.0) / 60 or 1.0
    warmup = report["verdict"]["warmup_samples"]
    warmup_x = windows[warmup - 1]["t_s"] / 60 if warmup and len(windows) >= warmup else None
    height = TOP + 3 * (PANEL_H + GAP)
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
    ]
    for i, (title, lines) in enumerate(panels(report)):
        body += _panel(TOP + i * (PANEL_H + GAP), title, lines, x_max, warmup_x)
    axis_y = TOP + 3 * (PANEL_H + GAP) - GAP - 12
    body.append(
        f'<text x="{LEFT}" y="{axis_y}">minutes 0 to {x_max:.4g}; '
        f"verdict: {'pass' if report['verdict']['pass'] else 'FAIL'}</text>"
    )
    body.append("</svg>")
    return "\n".join(body) + "\n"
