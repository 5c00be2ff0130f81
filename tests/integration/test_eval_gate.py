"""The regression gate in CI, on the real pipeline: the first 40 dev policy cases of the demo
shop's golden set, compared with the baseline run in ``benchmarks/``. An unchanged rerun
passes the gate; a planted regression (quoted answers cut to one sentence, i.e. most of the
evidence dropped from the answer) fails it on key-fact recall.

Time to first token is not gated here (``--ttft-ratio 0``): CI machines are shared, and
speed lives in benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.integration

BASELINE = Path(__file__).parents[2] / "benchmarks" / "assistants" / "shop-ci-subset.json"
SUBSET = ["--split", "dev", "--tag", "policy", "--limit", "40"]


def run_subset(out: Path) -> None:
    result = CliRunner().invoke(app, ["eval", *SUBSET, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["cases"] == 40


def gate(candidate: Path, verdict: Path) -> int:
    args = ["eval", "compare", str(BASELINE), str(candidate), "--ttft-ratio", "0"]
    result = CliRunner().invoke(app, [*args, "--json", str(verdict)])
    return result.exit_code


def test_the_gate_passes_an_unchanged_rerun_and_fails_a_planted_regression(
    tmp_path: Path, default_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rerun, planted = tmp_path / "rerun.json", tmp_path / "planted.json"
    run_subset(rerun)
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__QUOTE_SENTENCES", "1")
    run_subset(planted)

    passed = gate(rerun, tmp_path / "rerun-verdict.json")
    failed = gate(planted, tmp_path / "planted-verdict.json")

    assert passed == 0
    assert json.loads((tmp_path / "rerun-verdict.json").read_text())["failed"] is False
    assert failed == 1
    verdict = json.loads((tmp_path / "planted-verdict.json").read_text())
    [recall] = [c for c in verdict["changes"] if c["metric"] == "key_fact_recall"]
    assert recall["significant"]
    assert recall["failed"]
    assert recall["candidate"] < recall["baseline"]
