"""``switchboard collections drop``: nothing is deleted without a confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.config import Settings
from switchboard.rag.store import open_store
from switchboard.rag.store.base import Store
from switchboard.rag.types import CollectionRef

pytestmark = pytest.mark.unit

SHOP = CollectionRef("default", "shop")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Store]:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    store = open_store(Settings().knowledge_store)
    store.create_collection(SHOP, embedding_model="test", dim=4)
    yield store
    store.close()


def test_drop_without_yes_in_a_non_interactive_run_is_refused(store: Store) -> None:
    result = CliRunner().invoke(app, ["collections", "drop", "shop"], input="shop\ny\n")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: not dropping default/shop without a confirmation: pass --yes "
        "(or run it in a terminal)\n"
    )
    assert store.get_collection(SHOP) is not None


def test_drop_with_yes_deletes_at_once(store: Store) -> None:
    result = CliRunner().invoke(app, ["collections", "drop", "shop", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "dropped default/shop\n"
    assert store.get_collection(SHOP) is None


def test_drop_of_a_missing_collection_asks_nothing(store: Store) -> None:
    result = CliRunner().invoke(app, ["collections", "drop", "other"])
    assert result.exit_code == 1
    assert result.stderr == "error: collection default/other does not exist\n"
