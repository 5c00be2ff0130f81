"""The body-size guard refuses oversized bodies on every route before they are read or
spooled (uploads with their own limit)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.testclient import TestClient

from switchboard.api.body_limit import BodySizeLimit

pytestmark = pytest.mark.unit

LIMIT = 1000
DEFAULT = 300  # every other route


def make_client() -> tuple[TestClient, list[int]]:
    app = FastAPI()
    read: list[int] = []

    @app.post("/v1/collections/c/documents")
    async def upload(request: Request) -> dict[str, int]:
        body = await request.body()
        read.append(len(body))
        return {"bytes": len(body)}

    @app.post("/v1/other")
    async def other(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.add_middleware(BodySizeLimit, max_bytes=DEFAULT, routes={"/v1/collections/": LIMIT})
    return TestClient(app), read


def test_a_body_within_the_limit_passes() -> None:
    client, read = make_client()
    response = client.post("/v1/collections/c/documents", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert read == [LIMIT]


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    client, read = make_client()
    response = client.post("/v1/collections/c/documents", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert read == []


def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    client, read = make_client()

    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"y" * 400

    response = client.post("/v1/collections/c/documents", content=chunks())
    assert response.status_code == 413
    assert read == []


def test_a_chunked_multipart_upload_over_the_limit_is_a_413_not_a_parse_error() -> None:
    app = FastAPI()

    @app.post("/v1/collections/c/documents")
    async def upload(files: Annotated[list[UploadFile], File()]) -> dict[str, int]:
        return {"files": len(files)}

    app.add_middleware(BodySizeLimit, max_bytes=DEFAULT, routes={"/v1/collections/": LIMIT})
    boundary = "xyz"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.md"\r\n'
        f"Content-Type: text/markdown\r\n\r\n{'z' * (LIMIT * 3)}\r\n--{boundary}--\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 300):
            yield body[start : start + 300]

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    response = TestClient(app).post(
        "/v1/collections/c/documents", content=chunks(), headers=headers
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_every_other_route_has_the_default_limit() -> None:
    client, _ = make_client()
    assert client.post("/v1/other", content=b"z" * DEFAULT).json() == {"bytes": DEFAULT}
    response = client.post("/v1/other", content=b"z" * (DEFAULT + 1))
    assert response.status_code == 413
    assert str(DEFAULT) in response.json()["error"]["message"]
    assert response.headers["connection"] == "close"  # the rest is never read


def test_the_longest_matching_prefix_decides() -> None:
    guard = BodySizeLimit(
        FastAPI(), max_bytes=10, routes={"/v1/": 20, "/v1/collections/": 30, "/v1/col": 25}
    )
    assert guard.limit("/health") == 10
    assert guard.limit("/v1/search") == 20
    assert guard.limit("/v1/collections/c/documents") == 30
    assert guard.limit("/v1/colour") == 25
