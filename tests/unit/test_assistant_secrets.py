"""Tool secrets come from the server's edge: a mapping (the environment, read by the command
line) handed to the assistants; a secret a tool names but the mapping lacks stops the start
with one line naming the assistant, the tool and the variable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.assistant.definition import DefinitionError, demo_definition, load_definition
from switchboard.assistant.service import ORDERS_TOKEN, check_secrets, edge_tools
from switchboard.cli import app
from switchboard.config import Settings

pytestmark = pytest.mark.unit

DOCUMENT = {
    "openapi": "3.0.3",
    "servers": [{"url": "https://tickets.example.com"}],
    "paths": {
        "/tickets/{ticket_id}": {
            "get": {
                "operationId": "getTicket",
                "parameters": [
                    {"name": "ticket_id", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                ],
            }
        }
    },
}  # fmt: skip
DEFINITION = """
title = "Tickets"
collection = "tickets"

[tools_openapi]
file = "tickets.json"
secret_env = "TICKETS_TOKEN"
secret_header = "X-Api-Key"

[prompts]
grounded = "Answer from the sources."
small_talk = "Be brief."

[replies]
out_of_scope = "Only tickets."
not_sure = "Not sure."
ticket_created = "Ticket {ticket_id}."
"""
MISSING = "assistant tickets: tool getTicket: the secret TICKETS_TOKEN is not set"


def write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tickets.json").write_text(json.dumps(DOCUMENT))
    path = folder / "tickets.toml"
    path.write_text(DEFINITION)
    return path


def test_a_secret_in_the_mapping_is_sent(tmp_path: Path) -> None:
    definition = load_definition(write(tmp_path))
    check_secrets(Settings(), [definition], {"TICKETS_TOKEN": "s3cret"})

    async def scenario() -> None:
        tools = edge_tools(Settings(), definition, None, {"TICKETS_TOKEN": "s3cret"})
        assert tools is not None
        async with tools:
            assert tools["getTicket"].headers == {"X-Api-Key": "s3cret"}

    asyncio.run(scenario())


def test_a_missing_secret_is_one_line(tmp_path: Path) -> None:
    definition = load_definition(write(tmp_path))
    for secrets in ({}, {"TICKETS_TOKEN": ""}, {"OTHER": "x"}):
        with pytest.raises(DefinitionError) as caught:
            check_secrets(Settings(), [definition], secrets)
        assert str(caught.value) == MISSING


def test_the_order_apis_token_is_the_servers_own() -> None:
    """The environment may name the Order API's token too: the server's (a fresh one for
    the Order API it starts) wins, and needs nothing in the environment."""
    shop = demo_definition("shop")
    check_secrets(Settings(), [shop], {})
    settings = Settings()

    async def scenario() -> None:
        tools = edge_tools(settings, shop, None, {ORDERS_TOKEN: "stale"})
        assert tools is not None
        async with tools:
            own = f"Bearer {settings.orders.service_token}"
            assert tools["get_order"].headers["Authorization"] == own

    asyncio.run(scenario())


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__DEFINITIONS_DIR", str(tmp_path / "assistants"))
    monkeypatch.delenv("TICKETS_TOKEN", raising=False)
    write(tmp_path / "assistants")
    return CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["assistants", "check", "tickets"],
        ["ask", "Where is ticket 7?", "--assistant", "tickets"],
        ["serve", "--port", "0"],
    ],
)
def test_the_command_line_names_a_missing_variable_in_one_line(
    cli: CliRunner, args: list[str]
) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {MISSING}"
