"""``switchboard demo load`` with the real embedding model, then a real search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.integration

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("SWITCHBOARD_KNOWLEDGE__STORE", str(tmp_path / "kb.sqlite3"))
    return CliRunner()


def test_demo_load_is_idempotent_and_finds_the_returns_article(runner: CliRunner) -> None:
    first = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "0 failed" in first.output
    again = runner.invoke(app, ["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "0 added, 0 updated" in again.output

    query = "how long do I have to return an item"
    found = runner.invoke(app, ["search", query, "--collection", "shop", "--json"])
    assert found.exit_code == 0, found.output
    top = json.loads(found.stdout)[0]
    assert top["metadata"]["id"] == "returns-window"
