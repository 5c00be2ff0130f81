"""``switchboard eval compare BASELINE.json CANDIDATE.json``: the regression gate between
two eval runs (``evaluation.compare``); a table, ``--json``, and exit status 1 when the
candidate fails the gate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from switchboard.cli.common import console, one_line_errors, write_json
from switchboard.cli.eval_cmds import JsonOpt, eval_app

if TYPE_CHECKING:
    from switchboard.evaluation.compare import Comparison, MetricChange

RunArg = Annotated[Path, typer.Argument(help="An eval run's JSON (`switchboard eval --json`).")]


@eval_app.command("compare")
@one_line_errors
def eval_compare(
    baseline: RunArg,
    candidate: RunArg,
    ttft_ratio: Annotated[
        float,
        typer.Option(
            min=0,
            help="Fail when the candidate's first-token p95 exceeds the baseline's by more "
            "than this ratio; 0 turns the check off.",
        ),
    ] = 1.5,
    json_path: JsonOpt = None,
) -> None:
    """Per metric, baseline and candidate over the cases both runs share, the paired
    difference with its 95% bootstrap interval, and whether it is significant. Exits 1 on a
    significant drop of key-fact recall, citation precision or handoff accuracy, on any leak
    or invented status, or on a first-token p95 beyond --ttft-ratio."""
    from switchboard.evaluation.compare import compare, load_run

    if json_path is not None and not json_path.parent.is_dir():
        raise ValueError(f"--json: no such folder {json_path.parent}")
    result = compare(load_run(baseline), load_run(candidate), ttft_ratio or None)
    _print(result)
    write_json(result.to_json(), json_path)
    if result.failed:
        failed = [c.metric for c in result.changes if c.failed]
        failed += [c.name for c in result.checks if c.failed]
        typer.echo(f"gate failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def _print(result: Comparison) -> None:
    table = Table(title=f"eval compare: {result.shared_cases} shared cases")
    for column in ("", "cases", "baseline", "candidate", "difference [95%]", "verdict"):
        table.add_column(column, justify="left" if not column else "right")
    for change in result.changes:
        table.add_row(change.metric.replace("_", " "), str(change.cases),
                      _pct(change.baseline), _pct(change.candidate), _difference(change),
                      _verdict(change))  # fmt: skip
    for check in result.checks:
        table.add_row(check.name.replace("_", " "), "", _num(check.baseline),
                      _num(check.candidate), "", "FAILS" if check.failed else "ok")  # fmt: skip
    console.print(table)
    if result.same_settings is False:
        console.print("note: the runs' settings hashes differ (model or answer-shaping settings)")


def _difference(change: MetricChange) -> str:
    if change.difference is None or change.interval is None:
        return "-"
    lo, hi = change.interval
    return f"{change.difference * 100:+.1f} pt [{lo * 100:+.1f}, {hi * 100:+.1f}]"


def _verdict(change: MetricChange) -> str:
    if change.difference is None:
        return "-"
    if change.failed:
        return "REGRESSION (fails)"
    if not change.significant:
        return "not significant"
    from switchboard.evaluation.compare import LOWER_IS_BETTER

    better = (change.difference < 0) == (change.metric in LOWER_IS_BETTER)
    return "better" if better else "worse (not guarded)"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
