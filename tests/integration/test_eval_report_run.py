"""``switchboard eval --html`` through the real pipeline on a few cases: the run file holds
each case's message and the selection, and the page written beside it shows them."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.evaluation.golden import default_golden_path, load_golden
from switchboard.evaluation.report import failures

pytestmark = pytest.mark.integration


def test_eval_writes_the_report_page_beside_the_run_file(
    tmp_path: Path, default_model_path: Path
) -> None:
    out, page = tmp_path / "eval.json", tmp_path / "eval.html"
    args = ["eval", "--split", "dev", "--tag", "policy", "--limit", "3"]

    result = CliRunner().invoke(app, [*args, "--json", str(out), "--html", str(page)])

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["split"] == "dev"
    assert report["tags"] == ["policy"]
    assert report["limit"] == 3
    golden = {c.id: c.message for c in load_golden(default_golden_path())}
    [run] = report["runs"]
    assert [c["message"] for c in run["cases"]] == [golden[c["case_id"]] for c in run["cases"]]
    text = page.read_text(encoding="utf-8")
    assert run["settings_hash"] in text
    assert text.count("<svg") >= 1
    failed = [c for c in run["cases"] if failures(c)]
    assert f"Failures ({len(failed)} of 3 cases)" in text
    for case in failed:
        assert html.escape(case["message"]) in text


def test_eval_html_without_generation_is_refused_in_one_line(tmp_path: Path) -> None:
    page = tmp_path / "eval.html"
    result = CliRunner().invoke(app, ["eval", "--no-generate", "--html", str(page)])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --html reports answers: drop --no-generate"
    assert not page.exists()
