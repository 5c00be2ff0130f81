"""The servers' own ports: a port in use (``make run`` twice) is found before anything slow
starts, and said in one line with what to do."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 where another server listens."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


@pytest.mark.parametrize(
    ("command", "name"),
    [
        # a model that does not exist: the port must be checked before any model is loaded
        (["serve", "--model", "/nonexistent/model.gguf"], "switchboard serve"),
        (["gateway"], "switchboard gateway"),
        (["orders", "serve"], "switchboard orders serve"),
    ],
)
def test_a_port_in_use_is_one_line_saying_what_to_do(
    runner: CliRunner, busy_port: int, command: list[str], name: str
) -> None:
    result = runner.invoke(app, [*command, "--host", "127.0.0.1", "--port", str(busy_port)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: port {busy_port} on 127.0.0.1 is in use (another `{name}`?): "
        "stop it or pass --port\n"
    )


def test_an_address_not_on_this_machine_is_one_line(runner: CliRunner) -> None:
    # 192.0.2.0/24 is reserved for documentation: never an address of this machine
    result = runner.invoke(app, ["gateway", "--host", "192.0.2.1", "--port", "8000"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: cannot listen on 192.0.2.1:8000 (Cannot assign requested address): pass --host\n"
    )


def test_a_free_port_gets_past_the_check(runner: CliRunner, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    missing = tmp_path / "missing.gguf"
    result = runner.invoke(app, ["serve", "--model", str(missing), "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read model file")
