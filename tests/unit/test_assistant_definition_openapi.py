"""A definition's tools imported from an OpenAPI document ([tools_openapi]): found next to
the definition, filtered to its operations, merged with the hand-written tools, and every
problem one line naming the definition's file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from switchboard.assistant.definition import DefinitionError, load_definition
from switchboard.cli import app
from switchboard.demo import shop_tools_path

pytestmark = pytest.mark.unit

DEFINITION = """
title = "Tickets"
collection = "tickets"
end_user = "customer"
{tools}

[tools_openapi]
{openapi}

[prompts]
grounded = "Answer from the sources."
small_talk = "Be brief."

[replies]
out_of_scope = "Only tickets."
not_sure = "Not sure."
ticket_created = "Ticket {{ticket_id}}."
"""


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "servers": [{"url": "https://tickets.example.com/api"}],
        "paths": {
            "/users/{user_id}/tickets": {
                "get": {
                    "operationId": "listTickets",
                    "summary": "The user's tickets",
                    "parameters": [
                        {"name": "user_id", "in": "path", "required": True,
                         "schema": {"type": "string"}},
                        {"name": "state", "in": "query", "schema": {"type": "string"}},
                    ],
                },
            },
            "/tickets/{ticket_id}": {
                "get": {
                    "operationId": "get_order",
                    "summary": "One ticket (named like a shop tool)",
                    "parameters": [
                        {"name": "ticket_id", "in": "path", "required": True,
                         "schema": {"type": "string"}},
                    ],
                },
            },
        },
    }  # fmt: skip


def write(tmp_path: Path, openapi: str, tools: str = "", as_yaml: bool = False) -> Path:
    if as_yaml:
        (tmp_path / "tickets.openapi.yaml").write_text(yaml.safe_dump(document()))
    else:
        (tmp_path / "tickets.openapi.json").write_text(json.dumps(document()))
    (tmp_path / "api_tools.toml").write_text(shop_tools_path().read_text())
    path = tmp_path / "tickets.toml"
    path.write_text(DEFINITION.format(tools=tools, openapi=openapi))
    return path


def test_imported_tools_are_found_next_to_the_definition(tmp_path: Path) -> None:
    openapi = (
        'file = "tickets.openapi.yaml"\noperations = ["listTickets"]\nend_user = "user_id"\n'
        'secret_env = "TICKETS_TOKEN"\nsecret_header = "Authorization"\nsecret_prefix = "Bearer "'
    )
    path = write(tmp_path, openapi, as_yaml=True)
    definition = load_definition(path)
    assert definition.tools_openapi is not None
    assert definition.tools_openapi.file == tmp_path / "tickets.openapi.yaml"
    [spec] = definition.tool_specs("http://127.0.0.1:9")
    assert spec.name == "listTickets"
    assert spec.url == "https://tickets.example.com/api/users/{user_id}/tickets"
    assert spec.end_user == "user_id"
    assert (spec.secret_env, spec.secret_header, spec.secret_prefix) == (
        "TICKETS_TOKEN",
        "Authorization",
        "Bearer ",
    )
    assert not spec.write


def test_the_base_url_replaces_the_documents_server(tmp_path: Path) -> None:
    path = write(tmp_path, 'file = "tickets.openapi.json"\nbase_url = "http://127.0.0.1:8"')
    definition = load_definition(path)
    assert sorted(s.url for s in definition.tool_specs("http://127.0.0.1:9")) == [
        "http://127.0.0.1:8/tickets/{ticket_id}",
        "http://127.0.0.1:8/users/{user_id}/tickets",
    ]


def test_imported_and_hand_written_tools_are_merged(tmp_path: Path) -> None:
    path = write(tmp_path, 'file = "tickets.openapi.json"\noperations = ["listTickets"]',
                 tools='tools = "api_tools.toml"')  # fmt: skip
    names = {spec.name for spec in load_definition(path).tool_specs("http://127.0.0.1:9")}
    assert {"listTickets", "get_order", "list_orders", "cancel_order"} <= names


@pytest.mark.parametrize(
    ("openapi", "tools", "problem"),
    [
        ('file = "missing.json"', "", "tools_openapi: cannot read"),
        ('file = "tickets.openapi.json"\noperations = ["closeTicket"]', "",
         "no operation ['closeTicket'] in the document"),
        ('file = "tickets.openapi.json"', 'tools = "api_tools.toml"',
         "tools declared both in the tools file and tools_openapi: ['get_order']"),
        ('file = "tickets.openapi.json"\nend_user = "customer_id"', "",
         "no imported operation has the end-user parameter 'customer_id'"),
        ('file = "tickets.openapi.json"\nsecret_env = "TOKEN"', "",
         "secret_header and secret_env go together"),
        ('file = "tickets.openapi.json"\nserver = "x"', "", "tools_openapi.server: Extra"),
    ],
)  # fmt: skip
def test_broken_imports_are_one_line_naming_the_file(
    tmp_path: Path, openapi: str, tools: str, problem: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(write(tmp_path, openapi, tools))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'tickets.toml'}: ")
    assert problem in message
    assert "\n" not in message


def test_a_tool_of_the_end_user_needs_an_assistant_of_customers(tmp_path: Path) -> None:
    """Without a verified end user every call of such a tool would fail: refused at load."""
    path = write(tmp_path, 'file = "tickets.openapi.json"\nend_user = "user_id"')
    anyone = path.with_name("anyone.toml")
    anyone.write_text(path.read_text().replace('end_user = "customer"\n', ""))
    with pytest.raises(DefinitionError, match=r"\['listTickets'\] act for the end user: needs "):
        load_definition(anyone)
    [tool] = [s for s in load_definition(path).tool_specs("http://127.0.0.1:9") if s.end_user]
    assert tool.name == "listTickets"


@pytest.mark.parametrize("args", [["assistants", "check", "tickets"], ["serve", "--port", "0"]])
def test_the_command_line_shows_a_broken_import_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    folder = tmp_path / "assistants"
    folder.mkdir()
    write(folder, 'file = "tickets.openapi.json"\noperations = ["closeTicket"]')
    (folder / "api_tools.toml").unlink()  # every *.toml of the folder is a definition
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("SWITCHBOARD_ASSISTANT__DEFINITIONS_DIR", str(folder))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {folder / 'tickets.toml'}: (top): tools_openapi: ")
    assert line.endswith("no operation ['closeTicket'] in the document (it has "
                         "['get_order', 'listTickets'])")  # fmt: skip
