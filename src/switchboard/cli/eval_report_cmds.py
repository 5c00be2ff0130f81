"""``switchboard eval report RUN.json --html FILE``: an eval run file as one self-contained
HTML page (``evaluation.report``), the same page ``switchboard eval --html`` writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from switchboard.cli.common import one_line_errors
from switchboard.cli.eval_cmds import HtmlOpt, eval_app, write_html


@eval_app.command("report")
@one_line_errors
def eval_report(
    run: Annotated[Path, typer.Argument(help="An eval run's JSON (`switchboard eval --json`).")],
    html_path: HtmlOpt = None,
) -> None:
    """Provenance, each rate with its 95% interval as a plot, the per-tag breakdown and the
    failed cases with their answers, on one page that loads nothing."""
    if html_path is None:
        raise ValueError("--html: name the page to write")
    if not html_path.parent.is_dir():
        raise ValueError(f"--html: no such folder {html_path.parent}")
    report = _load(run)
    try:
        write_html(report, html_path)
    except ValueError as exc:  # the file is JSON but not a run
        raise ValueError(f"{run}: {exc}") from None


def _load(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not an eval run's JSON ({exc})") from None
    if not isinstance(report, dict):
        raise ValueError(f"{path}: not an eval run's JSON")
    return report
