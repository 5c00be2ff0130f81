import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.unit


def test_models_list_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0
    entries = json.loads(result.stdout)
    names = {e["name"] for e in entries}
    assert {"smollm2-135m", "smollm2-135m:q8_0", "qwen2.5-0.5b", "qwen2.5-1.5b"} <= names
    assert all(e["present"] is False for e in entries)  # empty data dir


def test_unknown_model_is_one_line_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["models", "pull", "no-such-model"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: The model 'no-such-model' does not exist."


def test_serve_with_missing_gguf_is_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.gguf")
    result = runner.invoke(app, ["serve", "--model", missing, "--port", "0"])  # any free port
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read model file")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--split", "train"], "--split must be one of dev, test, not 'train'"),
        (["--split", "dev", "--tag", "no-such-tag"], "no golden case matches --split/--tag"),
    ],
)
def test_eval_refuses_a_selection_without_cases_in_one_line(
    runner: CliRunner, args: list[str], reason: str
) -> None:
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code != 0
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1
