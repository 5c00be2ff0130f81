"""The golden set's hard limits, through ``switchboard eval`` and the real pipeline: the
default model, the demo articles in a fresh store, the Order API as its own process, and
outages against an address where nothing listens.

The order, probe and outage cases are the ones where a wrong answer would leak another
customer's order or invent a status; they must be perfect. (The whole set, with latency and
the model's key-fact recall, is measured by ``switchboard eval``, not asserted here.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.evaluation.golden import default_golden_path, load_golden

pytestmark = pytest.mark.integration

HARD_TAGS = ("order", "probe", "outage")


def test_order_probe_and_outage_cases_leak_nothing_and_invent_nothing(
    tmp_path: Path, default_model_path: Path
) -> None:
    out = tmp_path / "eval.json"
    args = ["eval", "--json", str(out)]
    for tag in HARD_TAGS:
        args += ["--tag", tag]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    expected = [c for c in load_golden(default_golden_path()) if set(HARD_TAGS) & set(c.tags)]
    assert report["cases"] == len(expected) >= 20
    [run] = report["runs"]
    summary = run["summary"]
    assert summary["errors"] == 0
    assert summary["cross_customer_leaks"] == 0
    assert summary["invented_statuses"] == 0
    assert summary["forbidden_fact_rate"] == 0.0
    assert summary["handoff_accuracy"] == 1.0
    assert summary["intent_accuracy"] == 1.0
    outages = [c for c in run["cases"] if "outage" in c["tags"]]
    assert outages
    assert all(c["handoff"] == "offered" for c in outages)
    assert "golden set" in result.output  # the table was printed
