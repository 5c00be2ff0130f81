"""``switchboard bench prefix`` on the default model: assistant-shaped prompts through an
engine with the prefix cache and one without, in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.integration


def test_bench_prefix_reports_reuse_against_no_reuse(
    tmp_path: Path, default_model_path: Path
) -> None:
    out = tmp_path / "prefix.json"
    result = CliRunner().invoke(app, ["bench", "prefix", "--prompts", "3", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    on, off = report["reuse"], report["no_reuse"]
    assert on["requests"] == off["requests"] == 3
    assert on["prompt_tokens_per_request"] == off["prompt_tokens_per_request"]
    assert off["prefill_tokens_per_request"] == off["prompt_tokens_per_request"]
    assert (off["hit_rate"], off["reused_tokens_per_request"]) == (0, 0)
    assert on["hit_rate"] == pytest.approx(2 / 3, abs=1e-3)  # all but the first reuse
    assert on["prefill_tokens_per_request"] + on["reused_tokens_per_request"] == pytest.approx(
        on["prompt_tokens_per_request"], abs=0.1
    )
    assert report["prefill_reduction"] > 1
    assert report["ttft_p50_ratio"] > 0
    assert report["greedy_identical"] is True  # one at a time, reuse rounds as a prefill
    assert "prefill reduction" in result.output
