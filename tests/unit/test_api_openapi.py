"""The OpenAPI document, the 405 ``Allow`` header and the Swagger UI page of an app with
every router mounted (the fake engine, knowledge base and assistant of the route tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel

from switchboard.api import create_app
from switchboard.api.auth import require
from switchboard.api.openapi import DocumentedAPI, operations
from switchboard.config import (
    AssistantSettings,
    GatewaySettings,
    GuardSettings,
    KnowledgeSettings,
    Settings,
)
from switchboard.gateway.types import Scope
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.store import SQLiteStore
from tests.unit.assistant_rig import Rig, served_shop
from tests.unit.test_api_knowledge import MiniLMStandIn
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.unit

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
PUBLIC = {"/health", "/metrics"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("openapi")
    rig = Rig(folder)
    engine = FakeServedEngine()
    assistant = served_shop(rig)
    knowledge = KnowledgeBase.assemble(
        KnowledgeSettings(), SQLiteStore(folder / "kb.sqlite3"), MiniLMStandIn()
    )
    settings = Settings(
        model=MODEL,
        data_dir=folder,
        gateway=GatewaySettings(db_path=folder / "gateway.sqlite3"),
        guard=GuardSettings(enabled=False),
        assistant=AssistantSettings(demo="on"),
    )
    app = create_app(engine, settings, knowledge=knowledge, assistants=assistant)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine.async_engine.shutdown()
        knowledge.close()


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return cast(dict[str, Any], response.json())


def each_operation(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_no_operation_documents_fastapis_422(document: dict[str, Any]) -> None:
    for method, path, operation in each_operation(document):
        assert "422" not in operation["responses"], (method, path)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_every_error_response_is_the_openai_error_json(document: dict[str, Any]) -> None:
    for method, path, operation in each_operation(document):
        for status, response in operation["responses"].items():
            if (path, status) == ("/health", "503"):  # the health report, saying what is down
                health = {"$ref": "#/components/schemas/HealthBody"}
                assert response["content"] == {"application/json": {"schema": health}}
            elif int(status) >= 400:
                assert response["content"] == {"application/json": {"schema": ERROR_SCHEMA}}, (
                    method,
                    path,
                    status,
                )


def test_each_operation_lists_the_errors_its_shape_implies(document: dict[str, Any]) -> None:
    for method, path, operation in each_operation(document):
        statuses = set(operation["responses"])
        if operation.get("parameters") or operation.get("requestBody"):
            assert "400" in statuses, (method, path)
        if operation.get("requestBody"):
            assert "413" in statuses, (method, path)
        if path in PUBLIC:
            assert "security" not in operation, (method, path)
        else:
            assert {"401", "403"} <= statuses, (method, path)
            assert operation["security"], (method, path)


def test_routes_name_their_own_errors(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "404" in paths["/v1/admin/keys/{key_id}"]["delete"]["responses"]
    assert "404" in paths["/v1/assistant/sessions/{session_id}"]["get"]["responses"]
    assert "503" in paths["/health"]["get"]["responses"]
    assert "429" in paths["/v1/search"]["post"]["responses"]  # every key-limited route
    assert {"404", "429", "502", "503"} <= set(paths["/v1/chat/completions"]["post"]["responses"])
    for generating in ("/v1/chat/completions", "/v1/completions", "/v1/assistant/chat"):
        assert "500" in paths[generating]["post"]["responses"]  # one request's failure
    retry_after = paths["/v1/search"]["post"]["responses"]["429"]["headers"]
    assert retry_after["Retry-After"]["schema"]["type"] == "integer"


def test_the_bearer_key_and_each_routes_scope_are_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http"
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["x-api-key"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The same key in an 'x-api-key' header.",
    }
    search = document["paths"]["/v1/search"]["post"]
    assert search["security"] == [{"bearer": ["search"]}, {"x-api-key": ["search"]}]
    keys = document["paths"]["/v1/admin/keys"]["post"]
    assert keys["security"] == [{"bearer": ["admin"]}, {"x-api-key": ["admin"]}]


def test_chat_completions_is_documented_with_its_body_and_both_answers(
    document: dict[str, Any],
) -> None:
    operation = document["paths"]["/v1/chat/completions"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    request = document["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(request["required"])
    assert operation["security"] == [{"bearer": ["chat"]}, {"x-api-key": ["chat"]}]
    answer = operation["responses"]["200"]["content"]
    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}
    data = answer["text/event-stream"]["itemSchema"]["properties"]["data"]["anyOf"]
    assert {"const": "[DONE]"} in data
    chunk = {"$ref": "#/components/schemas/ChatCompletionChunk"}
    assert data[1]["contentSchema"] == {"anyOf": [chunk, ERROR_SCHEMA]}


def test_streams_are_documented_as_event_streams(document: dict[str, Any]) -> None:
    assistant = document["paths"]["/v1/assistant/chat"]["post"]["responses"]["200"]
    assert list(assistant["content"]) == ["text/event-stream"]
    events = assistant["content"]["text/event-stream"]["itemSchema"]["properties"]["event"]
    assert events["enum"] == ["token", "citation", "tool_result", "handoff", "done", "error"]
    assert "event: <kind>" in assistant["description"]
    for field in ("`quote`", "`start`", "`end`", "`heading`"):  # the cited passage
        assert field in assistant["description"]
    assert "`answer_path`: `generated`, `generated+repaired`" in assistant["description"]
    completions = document["paths"]["/v1/completions"]["post"]["responses"]["200"]
    assert set(completions["content"]) == {"application/json", "text/event-stream"}


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for ref in set(refs(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


class Note(BaseModel):
    text: str


def test_a_route_added_later_gets_the_default_errors() -> None:
    router = APIRouter()

    @router.post("/v1/notes/{note_id}")
    async def add_note(note_id: int, note: Note) -> Note:
        return note

    app = DocumentedAPI(title="t", version="1")
    app.include_router(router, dependencies=[Depends(require(Scope.CHAT))])
    operation = next(operations(app.openapi()))
    assert set(operation["responses"]) == {"200", "400", "401", "403", "413"}


def test_405_allow_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.patch("/v1/admin/keys/some-key")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json()["error"]["type"] == "invalid_request_error"
    response = client.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_405_allow_matches_the_document_on_every_path(
    client: TestClient, document: dict[str, Any]
) -> None:
    for path, item in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", "x", path)
        response = client.request("PATCH", url)
        assert response.status_code == 405, path
        assert set(response.headers["allow"].split(", ")) == {m.upper() for m in item}, path


def test_docs_page_loads_nothing_from_the_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    urls = re.findall(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""", page.text)
    assets = [src or url for src, url in urls]
    assert "/openapi.json" in assets
    assert "/docs/assets/swagger-ui-bundle.js" in assets
    assert "/docs/assets/swagger-ui.css" in assets
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset


def test_redoc_is_not_served(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404


@pytest.mark.parametrize(
    "name", ["ChatCompletion", "ChatCompletionChunk", "Completion", "CompletionChunk"]
)
def test_answers_are_documented_field_by_field(document: dict[str, Any], name: str) -> None:
    """Answers leave out their unset fields (a custom serializer): the document still
    names every field, and only the ones always sent are required."""
    schema = document["components"]["schemas"][name]
    assert {"id", "object", "created", "model", "choices"} <= set(schema["properties"])
    assert "timings" in schema["properties"]
    assert "timings" not in schema.get("required", [])
