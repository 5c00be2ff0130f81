"""``switchboard bench speculative`` on the real default model: the contract's fields (n-gram
and draft model, the model drafting for itself), identical greedy outputs on
assistant-style prompts, and the draft pair left out when it is not pulled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard_bench.spec_bench import assistant_prompts

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
    model = str(default_model_path)  # drafting for itself: every draft is accepted
    args = ["bench", "speculative", "--prompts", "2", "--max-tokens", "32", "--json", str(out),
            "--draft-model", model, "--target-model", model]  # fmt: skip
    # one thread: the draft's one-row decodes and the many-row verification round alike
    result = CliRunner().invoke(app, args, env={"SWITCHBOARD_ENGINE__N_THREADS": "1"})
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["greedy_identical_ngram"] is True
    assert report["mismatched_ngram"] == []
    assert report["decode_speedup_ngram"] > 0
    assert 0 < report["acceptance_rate_ngram"] <= 1
    assert report["workload"]["prompts"] == 2
    assert report["prefix_cache"] is False  # speculation alone is compared
    assert "decode_speedup_ngram" in result.output
    assert report["greedy_identical_draft"] is True
    assert report["mismatched_draft"] == []
    assert report["decode_speedup_draft"] > 0
    assert report["draft_tokens_draft"] > 0
    assert report["acceptance_rate_draft"] == 1.0
    assert report["draft_model"] == report["draft_target_model"] == model
    assert "draft_skipped" not in report


def test_bench_speculative_skips_the_draft_pair_unless_both_are_pulled(
    tmp_path: Path, default_model_path: Path
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / default_model_path.parent.name).symlink_to(default_model_path.parent)
    args = ["bench", "speculative", "--prompts", "1", "--max-tokens", "8",
            "--model", str(default_model_path)]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"SWITCHBOARD_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "draft_skipped: qwen2.5-1.5b and qwen2.5-0.5b are not both pulled" in result.output
    assert "decode_speedup_draft" not in result.output


def test_bench_speculative_repeats_without_the_draft_model_and_reports_the_cache_type(
    tmp_path: Path, default_model_path: Path
) -> None:
    out = tmp_path / "spec.json"
    args = ["bench", "speculative", "--prompts", "1", "--max-tokens", "8", "--no-draft",
            "--repeats", "2", "--model", str(default_model_path), "--json", str(out)]  # fmt: skip
    env = {"SWITCHBOARD_ENGINE__KV_CACHE_TYPE": "q8_0"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["draft_skipped"] == "--no-draft"
    assert "decode_speedup_draft" not in report
    assert report["kv_cache_type"] == "q8_0"
    assert report["workload"]["repeats"] == 2
    assert report["workload"]["mean_output_tokens"] == 8  # the fastest run counts, once
    assert report["greedy_identical_ngram"] is True
