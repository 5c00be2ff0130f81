"""``switchboard eval report RUN.json --html FILE``: an eval run file as one self-contained
HTML page (``evaluation.report``), the same page ``switchboard eval --html`` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    from switchboard.evaluation.compare import read_report

    report = read_report(run)
    try:
        write_html(report, html_path)
    except ValueError as exc:  # the file is JSON but not a run
        raise ValueError(f"{run}: {exc}") from None
