"""``switchboard eval report RUN.json --html FILE`` on a committed run: it writes the page,
and refuses a bad file or a missing --html in one line, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.unit

RUN = Path(__file__).parents[2] / "benchmarks" / "assistants" / "helpdesk-dev.json"


def test_report_writes_the_page_of_a_run_file(runner: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["eval", "report", str(RUN), "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    run = json.loads(RUN.read_text())["runs"][0]
    assert run["settings_hash"] in html
    assert run["model"] in html
    assert html.count("<svg") == 2  # the metrics, key-fact recall per tag
    failed = [c for c in run["cases"] if c["facts_found"] < c["facts_total"]]
    assert failed
    assert all(c["case_id"] in html for c in failed)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        ("{not json", "not an eval run's JSON"),
        ("[1, 2]", "not an eval run's JSON (not an object)"),
        ('{"runs": []}', "not an eval run's JSON (no runs)"),
        ('{"runs": [{"summary": {"key_fact_recall": "x"}, "cases": []}]}', "not a rate"),
    ],
)
def test_report_refuses_a_bad_run_file_in_one_line(
    runner: CliRunner, tmp_path: Path, content: str | None, reason: str
) -> None:
    source, page = tmp_path / "run.json", tmp_path / "report.html"
    if content is not None:
        source.write_text(content)
    result = runner.invoke(app, ["eval", "report", str(source), "--html", str(page)])
    assert result.exit_code == 1
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not page.exists()


def test_report_needs_html_and_an_existing_folder(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "report", str(RUN)])
    assert result.exit_code == 1
    assert "--html" in result.output
    result = runner.invoke(
        app, ["eval", "report", str(RUN), "--html", str(tmp_path / "no" / "r.html")]
    )
    assert result.exit_code == 1
    assert "--html: no such folder" in result.output


def test_eval_run_refuses_an_html_page_in_a_missing_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["eval", "--html", str(tmp_path / "no" / "r.html")])
    assert result.exit_code == 1
    assert "--html: no such folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
