from collections.abc import Iterator
from typing import Any, Protocol

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from switchboard.api.errors import install_error_handlers
from switchboard.errors import (
    ContextLengthError,
    EngineDeadError,
    InvalidRequestError,
    ModelFileError,
    ModelNotFoundError,
    QueueFullError,
    SwitchboardError,
)

pytestmark = pytest.mark.unit

ERRORS: dict[str, SwitchboardError] = {
    "invalid": InvalidRequestError("temperature must be in [0, 2]", param="temperature"),
    "context": ContextLengthError(requested=2000, limit=1024, prompt_tokens=1990),
    "model": ModelNotFoundError("gpt-9"),
    "queue": QueueFullError(4, retry_after_s=7),
    "dead": EngineDeadError("engine loop died: boom"),
    "fatal": ModelFileError("disk on fire"),
}


class Body(BaseModel):
    messages: list[str]
    temperature: float = 1.0


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    async def raise_error(name: str) -> None:
        raise ERRORS[name]

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    @app.post("/body")
    async def body(payload: Body) -> Body:
        return payload

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        yield client


class JsonResponse(Protocol):
    def json(self) -> Any: ...


def error_of(response: JsonResponse) -> dict[str, object]:
    data = response.json()
    assert set(data) == {"error"}
    assert set(data["error"]) == {"message", "type", "param", "code"}
    error: dict[str, object] = data["error"]
    return error


@pytest.mark.parametrize(
    ("name", "status", "type_", "param", "code"),
    [
        ("invalid", 400, "invalid_request_error", "temperature", None),
        ("context", 400, "invalid_request_error", "messages", "context_length_exceeded"),
        ("model", 404, "invalid_request_error", "model", "model_not_found"),
        ("queue", 503, "server_overloaded", None, "queue_full"),
        ("dead", 503, "server_error", None, "engine_dead"),
    ],
)
def test_switchboard_errors_become_openai_errors(
    client: TestClient, name: str, status: int, type_: str, param: str | None, code: str | None
) -> None:
    response = client.get(f"/raise/{name}")
    assert response.status_code == status
    error = error_of(response)
    assert (error["type"], error["param"], error["code"]) == (type_, param, code)
    assert error["message"] == str(ERRORS[name])


def test_context_length_message_names_both_numbers(client: TestClient) -> None:
    message = str(error_of(client.get("/raise/context"))["message"])
    assert "1024" in message
    assert "1990" in message


def test_queue_full_sends_retry_after(client: TestClient) -> None:
    response = client.get("/raise/queue")
    assert response.headers["retry-after"] == "7"
    assert "retry-after" not in client.get("/raise/invalid").headers


@pytest.mark.parametrize("path", ["/crash", "/raise/fatal"])
def test_unexpected_errors_are_opaque_500s(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get(path)
    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "server_error"
    assert "secret" not in str(error["message"])
    assert any(record.exc_info for record in caplog.records)


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.get("/body")
    assert response.status_code == 405
    error_of(response)


def test_missing_field_is_a_400_naming_the_field(client: TestClient) -> None:
    response = client.post("/body", json={"temperature": 0.5})
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "messages"
    assert "'messages'" in str(error["message"])
    assert error["type"] == "invalid_request_error"


def test_nested_field_is_named_with_its_index(client: TestClient) -> None:
    response = client.post("/body", json={"messages": ["ok", 3]})
    assert response.status_code == 400
    assert error_of(response)["param"] == "messages[1]"


def test_malformed_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/body", content=b'{"messages": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in str(error_of(response)["message"])
