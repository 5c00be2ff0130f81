"""Every command's ``--help`` as a user reads it, and ``switchboard --version``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import switchboard
from switchboard.cli import app

pytestmark = pytest.mark.unit

BRACKETED = re.compile(r"\[[^\[\]]+\]")  # "[gateway]", "[n]", "[assistant.remote]"


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The command and, for a group, every command under it (Typer's click commands)."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_command_is_walked() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "serve", "gateway", "collections drop", "orders serve", "bench engine"} <= paths
    assert len(paths) > 30


@pytest.mark.parametrize(
    ("path", "command"),
    [pytest.param(path, command, id=" ".join(path) or "switchboard") for path, command in COMMANDS],
)
def test_help_keeps_bracketed_words_and_shows_no_markup(
    path: tuple[str, ...], command: Any
) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    assert "``" not in shown
    assert "<bool>" not in shown  # a flag takes no value
    texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    for word in BRACKETED.findall(" ".join(_flat(t) for t in texts)):
        assert word in shown, f"{word!r} is missing from the help of {' '.join(path)}"


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"switchboard {switchboard.__version__}\n"
