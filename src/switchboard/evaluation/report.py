"""An eval run file (``switchboard eval --json``) as one self-contained HTML page: the
provenance, each rate metric with its 95% interval drawn as inline SVG, the per-tag table and
key-fact-recall plot, and the failed cases. Pure: a dict in, a string out.

The page loads nothing: styles are inline, plots are SVG written here, there is no script.
Every text from the file (answers, messages, case ids, tags, model names) is escaped; answers
are untrusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from switchboard.evaluation.intervals import RATE_METRICS

Row = tuple[str, float | None, Sequence[float] | None]  # label, value, 95% interval

_LABEL_W, _AXIS_W, _ROW_H = 190, 400, 26
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;font-size:.9rem}
td:first-child,th:first-child{text-align:left}
.case{border:1px solid #ddd;border-radius:4px;padding:.5rem 1rem;margin:.75rem 0}
.why{color:#a40000;font-weight:600}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}
"""


def render(report: Mapping[str, Any]) -> str:
    """The whole page for an eval run file (one section per model and chunk size)."""
    runs = report.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ValueError("not an eval run's JSON (no runs)")
    for run in runs:
        if not isinstance(run, dict) or not isinstance(run.get("summary"), dict):
            raise ValueError("not an eval run's JSON (a run without a summary)")
        if not isinstance(run.get("cases"), list) or not all(
            isinstance(c, dict) for c in run["cases"]
        ):
            raise ValueError("not an eval run's JSON (a run without its cases)")
    sections = "".join(_run_section(report, run) for run in runs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>switchboard eval report</title><style>{_STYLE}</style></head><body>"
        f"<h1>Eval report</h1>{sections}</body></html>\n"
    )


def failures(case: Mapping[str, Any]) -> list[str]:
    """Why a case failed, in words; empty when it passed."""
    reasons = []
    if case.get("error"):
        reasons.append(f"error: {case['error']}")
    if (case.get("facts_found") or 0) < (case.get("facts_total") or 0):
        reasons.append("missed key facts")
    if case.get("forbidden_found"):
        reasons.append("said a forbidden fact")
    if case.get("leak"):
        reasons.append("cross-customer leak")
    if case.get("invented_statuses"):
        reasons.append(f"invented status: {', '.join(case['invented_statuses'])}")
    precision = case.get("citation_precision")
    if precision is not None and precision < 1:
        reasons.append("cited a wrong article")
    if case.get("handoff_ok") is False:
        reasons.append("wrong handoff")
    return reasons


def interval_plot(title: str, rows: Sequence[Row]) -> str:
    """One row per metric: its label, a bar over its 95% interval and a dot at its value,
    on a 0-100% axis; ``title`` names the plot to screen readers."""
    height = _ROW_H * (len(rows) + 1)
    x0 = _LABEL_W
    width = x0 + _AXIS_W + 170
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-size="12">']  # fmt: skip
    for tick in range(0, 101, 25):
        x = x0 + _AXIS_W * tick / 100
        parts.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{height - 14}" stroke="#ddd"/>')
        parts.append(f'<text x="{x}" y="{height - 2}" text-anchor="middle">{tick}%</text>')
    for i, (label, value, interval) in enumerate(rows):
        y = _ROW_H * i + _ROW_H / 2
        parts.append(f'<text x="0" y="{y + 4}">{escape(label)}</text>')
        if interval is not None:
            lo, hi = (x0 + _AXIS_W * v for v in interval)
            parts.append(f'<line x1="{lo}" y1="{y}" x2="{hi}" y2="{y}" stroke="#4a78b5" '
                         'stroke-width="4"/>')  # fmt: skip
        if value is not None:
            parts.append(f'<circle cx="{x0 + _AXIS_W * value}" cy="{y}" r="5" fill="#1b3f73"/>')
        parts.append(f'<text x="{x0 + _AXIS_W + 10}" y="{y + 4}">'
                     f"{escape(_figure(value, interval))}</text>")  # fmt: skip
    return "".join(parts) + "</svg>"


def _run_section(report: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    summary, cases = run["summary"], run["cases"]
    intervals = summary.get("intervals") or {}
    metrics = [
        (name.replace("_", " "), *_rate(name, summary.get(name), intervals.get(name)))
        for name in RATE_METRICS
    ]
    by_tag = summary.get("by_tag") or {}
    if not isinstance(by_tag, dict) or not all(isinstance(r, dict) for r in by_tag.values()):
        raise ValueError("not an eval run's JSON (a bad by_tag)")
    return (
        f"<h2>{escape(str(run.get('model')))}, {escape(str(run.get('chunk_tokens')))}"
        f"-token chunks</h2>{_provenance(report, run)}"
        f"<h3>Metrics (95% bootstrap intervals)</h3>{interval_plot('metrics', metrics)}"
        f"{_counts(summary)}{_tags(by_tag)}{_failed_cases(cases)}"
    )


def _provenance(report: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    tags = report.get("tags") or []
    rows = (
        ("commit", report.get("commit")),
        ("model", run.get("model")),
        ("settings hash", run.get("settings_hash")),
        ("split", report.get("split") or "all"),
        ("tags", ", ".join(tags) if tags else "all"),
        ("first N cases only", report.get("limit")),
        ("started", report.get("started_at")),
        ("cases", report.get("cases")),
        ("wall time (s)", (run.get("timings") or {}).get("wall_s")),
    )
    return _table((), [(label, "-" if v is None else str(v)) for label, v in rows])


def _counts(summary: Mapping[str, Any]) -> str:
    rows = [(key.replace("_", " "), str(summary.get(key, "-")))
            for key in ("cross_customer_leaks", "invented_statuses", "errors")]  # fmt: skip
    return _table(("count", ""), rows)


def _tags(by_tag: Mapping[str, Mapping[str, Any]]) -> str:
    if not by_tag:
        return ""
    header = ("tag", "cases", *(name.replace("_", " ") for name in RATE_METRICS))
    rates = {
        tag: {name: _rate(name, row.get(name), row.get(f"{name}_interval"))
              for name in RATE_METRICS}
        for tag, row in by_tag.items()
    }  # fmt: skip
    rows = [
        (tag, str(row.get("cases", "-")), *(_figure(*rates[tag][name]) for name in RATE_METRICS))
        for tag, row in by_tag.items()
    ]
    recall = [
        (tag, *rates[tag]["key_fact_recall"])
        for tag in by_tag
        if rates[tag]["key_fact_recall"][0] is not None
    ]
    table = f"<h3>Per tag</h3>{_table(header, rows)}"
    if not recall:
        return table
    return (
        f"{table}<h4>Key-fact recall per tag</h4>{interval_plot('key-fact recall per tag', recall)}"
    )


def _failed_cases(cases: Sequence[Mapping[str, Any]]) -> str:
    failed = [(case, why) for case in cases if (why := failures(case))]
    items = "".join(_failed_case(case, why) for case, why in failed)
    return f"<h3>Failures ({len(failed)} of {len(cases)} cases)</h3>{items}"


def _failed_case(case: Mapping[str, Any], why: list[str]) -> str:
    missing = ", ".join(case.get("missing_facts") or []) or "-"
    tags = ", ".join(case.get("tags") or [])
    return (
        f'<div class="case"><h4>{escape(str(case.get("case_id")))} '
        f"<small>({escape(tags)})</small></h4>"
        f'<p class="why">{escape("; ".join(why))}</p>'
        f"<p>message: {escape(str(case.get('message') or '-'))}</p>"
        f"<p>answer path: {escape(str(case.get('answer_path') or '-'))}; "
        f"missed facts: {escape(missing)}; "
        f"cited: {escape(', '.join(case.get('cited') or []) or '-')}</p>"
        f"<pre>{escape(str(case.get('answer') or ''))}</pre></div>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = f"<tr>{''.join(f'<th>{escape(h)}</th>' for h in header)}</tr>" if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table>{head}{body}</table>"


def _rate(name: str, value: Any, interval: Any) -> tuple[float | None, tuple[float, float] | None]:
    """A rate and its interval as the file holds them, checked: numbers in 0..1 or null."""

    def is_share(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1

    if value is not None and not is_share(value):
        raise ValueError(f"not an eval run's JSON ({name} is {value!r}, not a rate)")
    if interval is None:
        return value, None
    if not (isinstance(interval, list) and len(interval) == 2 and all(map(is_share, interval))):
        raise ValueError(f"not an eval run's JSON ({name}'s interval is {interval!r})")
    return value, (interval[0], interval[1])


def _figure(value: float | None, interval: Sequence[float] | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.1%}"
    return f"{text} [{interval[0]:.1%}, {interval[1]:.1%}]" if interval else text
