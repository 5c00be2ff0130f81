"""``switchboard bench speculative`` on the real default model: the contract's fields, and
identical greedy outputs on assistant-style prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.bench.spec_bench import assistant_prompts
from switchboard.cli import app

pytestmark = pytest.mark.integration


def test_assistant_prompts_carry_the_answering_article() -> None:
    prompts = assistant_prompts(3, 1600)
    assert len(prompts) == 3
    for _, (system, user) in prompts:
        assert system["role"] == "system"
        assert user["content"].startswith("Sources:\n[1] ")
        assert "https://help.larkspur.example/" in user["content"]
        assert "\n\nQuestion: " in user["content"]


def test_bench_speculative_writes_the_contract_fields(
    tmp_path: Path, default_model_path: Path
) -> None:
    out = tmp_path / "spec.json"
    args = ["bench", "speculative", "--prompts", "2", "--max-tokens", "32", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["greedy_identical_ngram"] is True
    assert report["mismatched_ngram"] == []
    assert report["decode_speedup_ngram"] > 0
    assert 0 < report["acceptance_rate_ngram"] <= 1
    assert report["workload"]["prompts"] == 2
    assert report["prefix_cache"] is False  # speculation alone is compared
    assert "decode_speedup_ngram" in result.output
