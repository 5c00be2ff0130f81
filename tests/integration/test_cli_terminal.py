"""Commands that talk to a person at a terminal, run as a person runs them: the real
``switchboard`` process on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.config import Settings
from switchboard.rag.store import open_store
from switchboard.rag.types import CollectionRef

pytestmark = pytest.mark.integration

SHOP = CollectionRef("default", "shop")
EXIT_TIMEOUT_S = 120  # a guard against a hang, not a measurement


def in_terminal(args: list[str], typed: str, env: dict[str, str]) -> tuple[int, str]:
    """Run ``switchboard ARGS`` with a pseudo-terminal as stdin, stdout and stderr, type
    ``typed``, and return its exit code and everything the terminal showed."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    os.write(main, typed.encode())  # the terminal keeps it until the prompt reads it
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return process.wait(timeout=EXIT_TIMEOUT_S), shown.decode().replace("\r\n", "\n")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "SWITCHBOARD_CONFIG": str(tmp_path / "absent.toml"),
    }
    store = open_store(Settings(data_dir=tmp_path).knowledge_store)
    try:
        store.create_collection(SHOP, embedding_model="test", dim=4)
    finally:
        store.close()
    return env


def collection_exists(tmp_path: Path) -> bool:
    store = open_store(Settings(data_dir=tmp_path).knowledge_store)
    try:
        return store.get_collection(SHOP) is not None
    finally:
        store.close()


def test_drop_asks_for_the_name_and_deletes_when_it_is_typed(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, shown = in_terminal(["collections", "drop", "shop"], "shop\n", env)
    assert code == 0, shown
    assert "Type its name to drop default/shop (0 documents, 0 chunks)" in shown
    assert shown.endswith("dropped default/shop\n")
    assert not collection_exists(tmp_path)


def test_drop_keeps_the_collection_when_another_name_is_typed(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, shown = in_terminal(["collections", "drop", "shop"], "yes\n", env)
    assert code == 1, shown
    assert shown.endswith("error: not dropped: 'yes' is not 'shop'\n")
    assert collection_exists(tmp_path)
