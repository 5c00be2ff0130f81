"""Tools imported from an OpenAPI document: parameters and body merged, $refs resolved,
cycles and bad documents refused in one line; the Order API's own document imports as
the demo shop's declared tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from switchboard.demo import shop_tools_path
from switchboard.orders.db import OrderDB
from switchboard.orders.service import create_order_app
from switchboard.tools import import_openapi, load_tool_file, parse_openapi

pytestmark = pytest.mark.unit


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "servers": [
            {"url": "https://{region}.api.test/v1", "variables": {"region": {"default": "eu"}}}
        ],
        "paths": {
            "/users/{user_id}/tickets": {
                "parameters": [{"$ref": "#/components/parameters/UserId"}],
                "get": {
                    "operationId": "listTickets",
                    "summary": "The user's tickets",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string"}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    ],
                },
                "post": {
                    "operationId": "open-ticket",
                    "description": "Open a ticket",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewTicket"}
                            }
                        },
                    },
                },
            },
            "/health": {"get": {"summary": "no operation id"}},
        },
        "components": {
            "parameters": {
                "UserId": {
                    "name": "user_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "schemas": {
                "NewTicket": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "maxLength": 80},
                        "priority": {"$ref": "#/components/schemas/Priority"},
                    },
                    "required": ["title"],
                },
                "Priority": {"type": "string", "enum": ["low", "high"]},
            },
        },
    }


def test_operations_with_an_id_become_tools() -> None:
    tools = {t.name: t for t in import_openapi(document(), end_user="user_id")}
    assert set(tools) == {"listTickets", "open_ticket"}  # /health has no operationId
    listing = tools["listTickets"]
    assert listing.url == "https://eu.api.test/v1/users/{user_id}/tickets"
    assert listing.description == "The user's tickets"
    assert listing.parameters["properties"] == {
        "user_id": {"type": "string"},
        "state": {"type": "string"},
    }
    assert listing.parameters["required"] == ["user_id"]
    assert not listing.write
    assert listing.openai_tool()["function"]["parameters"]["properties"] == {
        "state": {"type": "string"}
    }
    opening = tools["open_ticket"]
    assert opening.write
    assert opening.end_user == "user_id"
    assert opening.body_arguments == ("title", "priority")
    assert opening.properties["priority"] == {"type": "string", "enum": ["low", "high"]}
    assert opening.parameters["required"] == ["user_id", "title"]


def test_operations_are_selected_by_id_and_defaults_apply() -> None:
    (tool,) = import_openapi(
        json.dumps(document()),
        operations=["listTickets"],
        base_url="http://127.0.0.1:9000",
        defaults={"timeout_s": 1.5, "secret_header": "X-Key", "secret_env": "TICKETS_KEY"},
    )
    assert tool.url == "http://127.0.0.1:9000/users/{user_id}/tickets"
    assert (tool.timeout_s, tool.secret_header) == (1.5, "X-Key")
    with pytest.raises(ValueError, match=r"no operation \['closeTicket'\] in the document"):
        import_openapi(document(), operations=["closeTicket"])


def test_yaml_documents_import_too() -> None:
    assert len(import_openapi(yaml.safe_dump(document()))) == 2


def test_a_ref_cycle_is_refused() -> None:
    doc = document()
    doc["components"]["schemas"]["Priority"] = {"$ref": "#/components/schemas/Level"}
    doc["components"]["schemas"]["Level"] = {"$ref": "#/components/schemas/Priority"}
    with pytest.raises(ValueError, match=r"\$ref cycle: .*Priority -> .*Level -> .*Priority"):
        import_openapi(document() | {"components": doc["components"]})
    (listing,) = import_openapi(doc, operations=["listTickets"])  # the cycle is elsewhere
    assert listing.name == "listTickets"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(openapi="2.0"), r"not an OpenAPI 3\.0/3\.1 document"),
        (lambda d: d.pop("paths"), "has no paths"),
        (lambda d: d.update(servers=[{"url": "/v1"}]), "pass a base_url"),
        (
            lambda d: d["components"]["schemas"]["NewTicket"]["properties"].update(
                x={"$ref": "#/components/schemas/Gone"}
            ),
            "points at nothing",
        ),
        (
            lambda d: d["components"]["schemas"]["NewTicket"]["properties"].update(
                x={"$ref": "other.yaml#/X"}
            ),
            "only references inside the document",
        ),
        (
            lambda d: d["paths"]["/users/{user_id}/tickets"]["post"]["requestBody"].update(
                content={"multipart/form-data": {}}
            ),
            "operation open-ticket: only a JSON request body",
        ),
        (
            lambda d: d["paths"]["/users/{user_id}/tickets"]["get"]["parameters"].append(
                {"name": "X-Tenant", "in": "header", "required": True}
            ),
            "required header parameter 'X-Tenant' is unsupported",
        ),
    ],
)
def test_bad_documents_get_one_line_errors(change: Any, message: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(ValueError, match=message) as caught:
        import_openapi(doc)
    assert "\n" not in str(caught.value)


def test_a_document_without_operation_ids_or_the_end_user_is_refused() -> None:
    doc = document()
    del doc["paths"]["/users/{user_id}/tickets"]
    with pytest.raises(ValueError, match="no operation of the OpenAPI document has an operationId"):
        import_openapi(doc)
    with pytest.raises(ValueError, match="end-user parameter 'customer'"):
        import_openapi(document(), end_user="customer")
    with pytest.raises(ValueError, match="neither JSON nor YAML"):
        parse_openapi("{: [")


def test_the_order_apis_own_document_imports_as_the_declared_shop_tools(tmp_path: Path) -> None:
    app = create_order_app(OrderDB(tmp_path / "orders.sqlite3"), "token")
    base = "http://127.0.0.1:8001"
    imported = import_openapi(
        app.openapi(),
        base_url=base,
        operations=["get_order", "list_orders", "cancel_order"],
        end_user="customer_id",
    )
    declared = {t.name: t for t in load_tool_file(shop_tools_path(), base_url=base)}
    for tool in imported:
        mine = declared[tool.name]
        assert (tool.method, tool.url, tool.write) == (mine.method, mine.url, mine.write)
        assert set(tool.properties) == set(mine.properties)
        assert tool.end_user == mine.end_user == "customer_id"


def test_two_operations_that_become_one_tool_name_are_refused() -> None:
    doc = document()
    doc["paths"]["/other"] = {"get": {"operationId": "open_ticket"}}
    with pytest.raises(ValueError, match="operations 'open-ticket' and 'open_ticket' both"):
        import_openapi(doc)
