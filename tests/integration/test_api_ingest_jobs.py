"""Uploads as background jobs over a real server: uvicorn on loopback, the real bundled
embedding model, a SQLite store, real pypdf in child processes, spoken to with ``httpx``
and, for a client that leaves mid-body, a raw socket.

The server runs one job at a time with ``max_chunks = 600`` and ``pdf_timeout_s = 1``.
Polls wait for a job to finish (a guard fails a hung one); nothing asserts how fast."""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from switchboard.api import create_app
from switchboard.config import (
    EmbeddingSettings,
    GatewaySettings,
    IngestJobSettings,
    KnowledgeSettings,
    Settings,
)
from switchboard.gateway.types import Scope
from switchboard.rag.knowledge import KnowledgeBase
from switchboard_bench.uvicorn_thread import serve
from tests.integration.slow_pdf import slow_pdf
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.integration

MAX_CHUNKS = 600
HANG_GUARD_S = 300.0
FINISHED = {"succeeded", "failed", "cancelled"}
RETURNS_MD = b"""---
team: support
---
# Returns and refunds

Send the parcel back within 30 days. Refunds are issued within 5 business days after we
receive the returned item.
"""


@dataclass(frozen=True)
class Served:
    base_url: str
    app: FastAPI


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("jobs")
    knowledge_settings = KnowledgeSettings(
        embedding=EmbeddingSettings(n_threads=1),
        pdf_timeout_s=1.0,
        jobs=IngestJobSettings(max_chunks=MAX_CHUNKS),
    )
    knowledge = KnowledgeBase.open(
        knowledge_settings, str(folder / "kb.sqlite3"), Settings().models_dir
    )
    engine = FakeServedEngine()
    gateway = GatewaySettings(db_path=folder / "gateway.sqlite3")
    settings = Settings(model=MODEL, data_dir=folder, gateway=gateway)
    app = create_app(engine, settings, knowledge=knowledge)
    try:
        with serve(app) as base_url:
            yield Served(base_url, app)
    finally:
        engine.async_engine.shutdown()
        knowledge.close()


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base_url, timeout=60) as http:
        yield http


def tenant_headers(served: Served, name: str) -> dict[str, str]:
    """A key of tenant ``name`` (authentication is off on loopback; a key still names its
    tenant)."""
    keys = served.app.state.auth.keys
    created = keys.create(tenant=name, scopes=[Scope.SEARCH])
    return {"Authorization": f"Bearer {created.token}"}


def upload(
    http: httpx.Client,
    collection: str,
    files: dict[str, bytes],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files.items()]
    response = http.post(f"/v1/collections/{collection}/documents", files=parts, headers=headers)
    assert response.status_code == 202, response.text
    return response


def poll(
    http: httpx.Client,
    location: str,
    until: Callable[[dict[str, Any]], bool],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        job = cast(dict[str, Any], http.get(location, headers=headers).json())
        if until(job):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting on {json.dumps(job)}")
        time.sleep(0.02)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in FINISHED


def documents_in(http: httpx.Client, collection: str) -> int:
    listed = http.get("/v1/collections").json()["data"]
    return sum(c["documents"] for c in listed if c["name"] == collection)


def test_upload_answers_202_then_the_job_succeeds_and_search_finds_it(
    http: httpx.Client,
) -> None:
    response = upload(http, "support", {"returns.md": RETURNS_MD})
    job = response.json()
    assert job["status"] in {"queued", "running", "succeeded"}
    location = response.headers["location"]
    assert location == f"/v1/collections/support/jobs/{job['id']}"

    done = poll(http, location, finished)

    assert done["status"] == "succeeded", done
    assert (done["report"]["added"], done["report"]["failed"]) == (1, [])
    assert done["progress"]["chunks_done"] == done["report"]["chunks"] >= 1
    again = poll(
        http, upload(http, "support", {"returns.md": RETURNS_MD}).headers["location"], finished
    )
    assert (again["report"]["added"], again["report"]["unchanged"]) == (0, 1)

    body = {"collection": "support", "query": "how long until I get my money back?"}
    hits = http.post("/v1/search", json=body).json()["data"]
    assert hits[0]["document_id"] == "returns.md"
    assert hits[0]["metadata"]["team"] == "support"
    assert "Refunds are issued" in hits[0]["text"]
    jobs = http.get("/v1/collections/support/jobs").json()["data"]
    assert [j["id"] for j in jobs] == [again["id"], done["id"]]


def test_a_big_markdown_over_the_chunk_limit_fails_with_the_reason_before_embedding(
    http: httpx.Client,
) -> None:
    text = "\n\n".join(
        f"Paragraph {i} tells how widget {i} is packed and shipped." for i in range(8000)
    )
    response = upload(http, "big", {"big.md": f"# Catalogue\n\n{text}\n".encode()})

    done = poll(http, response.headers["location"], finished)

    assert done["status"] == "failed"
    assert done["error"]["code"] == "max_chunks_exceeded"
    assert f"more than {MAX_CHUNKS} chunks (knowledge.jobs.max_chunks)" in done["error"]["message"]
    assert done["progress"]["chunks_total"] > MAX_CHUNKS
    assert done["progress"]["chunks_done"] == 0  # refused before embedding a chunk
    assert done["report"]["chunks"] == 0
    assert documents_in(http, "big") == 0


def test_delete_cancels_a_running_job_and_no_further_documents_are_committed(
    http: httpx.Client,
) -> None:
    records = 3000
    lines = "".join(
        json.dumps({"id": f"r{i}", "text": f"Record {i} is about part {i}."}) + "\n"
        for i in range(records)
    )
    response = upload(http, "records", {"records.jsonl": lines.encode()})
    location = response.headers["location"]
    poll(http, location, lambda job: job["status"] != "queued")

    cancelling = http.delete(location)

    assert cancelling.status_code == 200, cancelling.text
    assert cancelling.json()["status"] in {"cancelling", "cancelled"}
    done = poll(http, location, finished)
    assert done["status"] == "cancelled", done
    assert done["error"] is None
    committed = documents_in(http, "records")
    assert committed == done["report"]["added"] < records
    # The one worker is free again: a later job runs to its end, and by then the
    # cancelled job has still committed nothing more.
    later = poll(
        http, upload(http, "after", {"returns.md": RETURNS_MD}).headers["location"], finished
    )
    assert later["status"] == "succeeded"
    assert documents_in(http, "records") == committed


def test_a_pdf_over_its_time_bound_fails_alone_and_the_upload_goes_on(http: httpx.Client) -> None:
    files = {"slow.pdf": slow_pdf(), "returns.md": RETURNS_MD}

    done = poll(http, upload(http, "manuals", files).headers["location"], finished)

    assert done["status"] == "succeeded"
    assert done["report"]["added"] == 1
    (failure,) = done["report"]["failed"]
    assert (failure["path"], failure["kind"]) == ("slow.pdf", "timeout")
    assert "knowledge.pdf_timeout_s" in failure["reason"]
    hits = http.post("/v1/search", json={"collection": "manuals", "query": "refunds"}).json()
    assert hits["data"][0]["document_id"] == "returns.md"


def test_another_tenants_job_is_a_404(served: Served, http: httpx.Client) -> None:
    alpha, beta = tenant_headers(served, "alpha"), tenant_headers(served, "beta")
    location = upload(http, "shared", {"returns.md": RETURNS_MD}, alpha).headers["location"]
    assert poll(http, location, finished, alpha)["status"] == "succeeded"

    for response in (http.get(location, headers=beta), http.delete(location, headers=beta)):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "job_not_found"
    assert http.get("/v1/collections/shared/jobs", headers=beta).json()["data"] == []


def spooled_files(folder: Path) -> int:
    """Unnamed temporary files in ``folder`` open in this process (the server runs in it):
    where the form parser spools an upload's parts over 1 MB."""
    spooled = re.compile(re.escape(str(folder)) + r"/#\d+ \(deleted\)")
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += bool(spooled.fullmatch(os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:  # closed meanwhile
            continue
    return count


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_a_client_leaving_mid_body_stops_the_spooling_and_queues_nothing(
    served: Served, http: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the server's temp files go here
    host, port = urlsplit(served.base_url).netloc.split(":")
    part = (
        b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="big.md"\r\n'
        b"Content-Type: text/markdown\r\n\r\n"
    )
    head = (
        b"POST /v1/collections/left/documents HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 50000000\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as client:
        client.sendall(head + part + b"word " * 600_000)  # 3 MB of the announced 50 MB
        wait_for(lambda: spooled_files(tmp_path) == 1, "the server to spool the part")
    wait_for(lambda: spooled_files(tmp_path) == 0, "the spooled part to be dropped")

    assert http.get("/v1/collections/left/jobs").json()["data"] == []
    assert documents_in(http, "left") == 0
    assert list(tmp_path.iterdir()) == []  # no upload folder was made
