"""``switchboard bench assistant`` with the real default model on three test-split cases
under two settings: one row per setting with every figure, the report on disk and the
markdown table, and quoted answers that never call the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.integration

ROW_FIELDS = {
    "model", "setting", "split", "cases", "errors", "key_fact_recall", "citation_precision",
    "forbidden_fact_rate", "cross_customer_leaks", "invented_statuses", "handoff_accuracy",
    "answer_paths", "first_token_ms", "answer_latency_ms", "model_ttft_ms", "model_calls",
    "prefill_tokens_per_call", "reused_tokens_per_call",
}  # fmt: skip
MODEL_PATHS = {"generated", "generated+repaired"}


def test_quote_and_generate_rows_from_the_real_pipeline(
    tmp_path: Path, default_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__MAX_TOKENS", "32")  # short answers: fast
    out, table = tmp_path / "assistant.json", tmp_path / "assistant.md"
    args = ["bench", "assistant", "--settings", "quote,generate", "--splits", "test",
            "--limit", "3", "--json", str(out), "--markdown", str(table)]  # fmt: skip

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["splits"] == {"test": 3}
    quote, generate = report["rows"]
    for row, setting in ((quote, "quote"), (generate, "generate")):
        assert set(row) == ROW_FIELDS
        assert (row["setting"], row["split"], row["cases"], row["errors"]) == (
            setting, "test", 3, 0,
        )  # fmt: skip
        assert row["model"] == "smollm2-135m:q8_0"
        assert row["cross_customer_leaks"] == 0
        assert sum(row["answer_paths"].values()) == pytest.approx(1.0)
    quote_run, generate_run = report["runs"]
    quoted = [c for c in quote_run["cases"] if c["answer_path"] == "quoted"]
    assert quoted, quote_run["cases"]
    assert all(c["answer_path"] not in MODEL_PATHS for c in quote_run["cases"])
    assert all(not c["usage"] for c in quoted)  # no tokens: the model was not asked
    assert quote["model_calls"] == 0
    assert quote["model_ttft_ms"] is None
    assert quote["first_token_ms"] is not None
    assert quote["answer_latency_ms"] is not None
    assert generate["model_calls"] >= 1
    assert generate["model_ttft_ms"]["p50"] > 0
    assert generate["prefill_tokens_per_call"] > 0
    assert {c["answer_path"] for c in generate_run["cases"]} & (MODEL_PATHS | {"quoted"})
    lines = table.read_text().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("| model | setting | split |")
    assert "| smollm2-135m:q8_0 | quote | test | 3 |" in lines[2]
    assert "| smollm2-135m:q8_0 | quote | test | 3 |" in result.output
