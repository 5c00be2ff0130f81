"""The knowledge-base routes (``/v1/embeddings``, ``/v1/search``, ``/v1/collections``) over
a real ``KnowledgeBase`` (SQLite in a temporary folder) with a fake embedder, served next
to the fake engine of ``test_api_routes``. A token of the fake is a whitespace-separated
word."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from switchboard.api import create_app
from switchboard.config import (
    GatewaySettings,
    GuardSettings,
    IngestJobSettings,
    KnowledgeSettings,
    Settings,
)
from switchboard.gateway.types import Scope
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.store import SQLiteStore
from switchboard.rag.types import CollectionRef, Document
from tests.unit.fakes import HashingEmbedder
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.unit

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
MAX_FILE_BYTES = 4096
MAX_CHUNKS = 20
FINISHED = {"succeeded", "failed", "cancelled"}
HANG_GUARD_S = 30.0

RETURNS_MD = b"""---
lang: en
---
# Returns

Refunds are issued within five business days after we receive the returned parcel.
"""
SHIPPING_MD = b"""# Shipping

Standard shipping to Germany takes three to five business days; express delivery is faster.
"""


class Reply(Protocol):
    """What the tests read of a ``TestClient`` response."""

    status_code: int
    headers: Mapping[str, str]

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class MiniLMStandIn(HashingEmbedder):
    """The shared hashing fake under the bundled model's name and size."""

    model_id = EMBEDDING_MODEL

    def __init__(self) -> None:
        super().__init__(dim=DIM, max_tokens=MAX_TOKENS)


@pytest.fixture
def knowledge(tmp_path: Path) -> Iterator[KnowledgeBase]:
    jobs = IngestJobSettings(max_chunks=MAX_CHUNKS)
    settings = KnowledgeSettings(max_file_bytes=MAX_FILE_BYTES, jobs=jobs)
    kb = KnowledgeBase.assemble(settings, SQLiteStore(tmp_path / "kb.sqlite3"), MiniLMStandIn())
    try:
        yield kb
    finally:
        kb.close()


@pytest.fixture
def client(knowledge: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    engine = FakeServedEngine()
    gateway = GatewaySettings(db_path=tmp_path / "gateway.sqlite3")
    settings = Settings(
        model=MODEL, data_dir=tmp_path, gateway=gateway, guard=GuardSettings(enabled=False)
    )
    app = create_app(engine, settings, knowledge=knowledge)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine.async_engine.shutdown()


def tenant(client: TestClient, name: str) -> dict[str, str]:
    """The headers of a new API key of tenant ``name`` (authentication is off, but a
    Switchboard key still names its tenant)."""
    keys = cast(FastAPI, client.app).state.auth.keys
    created = keys.create(tenant=name, scopes=[Scope.SEARCH, Scope.EMBEDDINGS])
    return {"Authorization": f"Bearer {created.token}"}


def post_upload(
    client: TestClient,
    collection: str,
    files: dict[str, bytes],
    headers: dict[str, str] | None = None,
) -> Reply:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files.items()]
    return client.post(f"/v1/collections/{collection}/documents", files=parts, headers=headers)


def wait_job(
    client: TestClient, location: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The job at ``location`` once it has finished."""
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        job: dict[str, Any] = client.get(location, headers=headers).json()
        if job["status"] in FINISHED:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job still {job['status']} after {HANG_GUARD_S} s: {job}")
        time.sleep(0.005)


def upload(
    client: TestClient,
    collection: str,
    files: dict[str, bytes],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Upload ``files``, wait for the job to succeed: its report."""
    response = post_upload(client, collection, files, headers)
    assert response.status_code == 202, response.text
    job = wait_job(client, response.headers["location"], headers)
    assert job["status"] == "succeeded", job
    report: dict[str, Any] = job["report"]
    return report


def search(client: TestClient, headers: dict[str, str] | None = None, **body: Any) -> Reply:
    return client.post("/v1/search", json=body, headers=headers)


def assert_error(response: Reply, status: int, param: str | None, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] == code


def embed_body(**fields: Any) -> dict[str, Any]:
    return {"model": EMBEDDING_MODEL, "input": "where is my order?", **fields}


# -- /v1/embeddings --------------------------------------------------------------------------


def test_embeddings_float(client: TestClient, knowledge: KnowledgeBase) -> None:
    texts = ["where is my order?", "refunds take five days", "ok"]
    response = client.post("/v1/embeddings", json=embed_body(input=texts))
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "list"
    assert data["model"] == EMBEDDING_MODEL
    assert [d["object"] for d in data["data"]] == ["embedding"] * 3
    assert [d["index"] for d in data["data"]] == [0, 1, 2]
    vectors = np.array([d["embedding"] for d in data["data"]], dtype=np.float32)
    assert vectors.shape == (3, DIM)
    np.testing.assert_array_equal(vectors, knowledge.embedder.embed(texts))
    tokens = sum(knowledge.embedder.count_tokens(t) + 2 for t in texts)  # + [CLS] and [SEP]
    assert data["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_embeddings_base64_is_little_endian_float32(
    client: TestClient, knowledge: KnowledgeBase
) -> None:
    texts = ["where is my order?", "refunds take five days"]
    body = embed_body(input=texts, encoding_format="base64")
    data = client.post("/v1/embeddings", json=body).json()
    decoded = np.stack(
        [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in data["data"]]
    )
    np.testing.assert_array_equal(decoded, knowledge.embedder.embed(texts))
    floats = client.post("/v1/embeddings", json=embed_body(input=texts)).json()
    np.testing.assert_array_equal(decoded, [d["embedding"] for d in floats["data"]])


def test_embeddings_single_string_lowercase_model_and_full_dimensions(client: TestClient) -> None:
    body = embed_body(model=EMBEDDING_MODEL.lower(), dimensions=DIM, user="u-1")
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 200
    data = response.json()
    assert len(data["data"]) == 1
    assert len(data["data"][0]["embedding"]) == DIM
    assert data["usage"]["prompt_tokens"] == 4 + 2  # where is my order?


def test_embeddings_at_the_token_limit_is_accepted(client: TestClient) -> None:
    text = " ".join(["word"] * (MAX_TOKENS - 2))
    response = client.post("/v1/embeddings", json=embed_body(input=[text]))
    assert response.status_code == 200
    assert response.json()["usage"]["prompt_tokens"] == MAX_TOKENS


def test_embeddings_unknown_model_is_a_404(client: TestClient) -> None:
    for model in ("text-embedding-3-small", MODEL, "ALL-MINILM-L6-V2"):
        response = client.post("/v1/embeddings", json=embed_body(model=model))
        assert_error(response, 404, "model", "model_not_found")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        pytest.param({"dimensions": 128}, "dimensions", id="shortened-dimensions"),
        pytest.param({"dimensions": 0}, "dimensions", id="zero-dimensions"),
        pytest.param({"input": [1, 2, 3]}, "input", id="token-array"),
        pytest.param({"input": [[1, 2], [3]]}, "input", id="token-arrays"),
        pytest.param({"input": []}, "input", id="empty-list"),
        pytest.param({"input": ""}, "input", id="empty-string"),
        pytest.param({"input": ["ok", ""]}, "input", id="empty-item"),
        pytest.param({"input": ["ok"] * 2049}, "input", id="too-many-inputs"),
        pytest.param({"encoding_format": "int8"}, "encoding_format", id="bad-encoding"),
    ],
)
def test_embeddings_bad_request_is_a_400(
    client: TestClient, fields: dict[str, Any], param: str
) -> None:
    response = client.post("/v1/embeddings", json=embed_body(**fields))
    assert_error(response, 400, param)


def test_embeddings_over_the_token_limit_is_a_400(client: TestClient) -> None:
    text = " ".join(["word"] * (MAX_TOKENS - 1))  # + 2 special tokens = 257
    response = client.post("/v1/embeddings", json=embed_body(input=["short", text]))
    assert_error(response, 400, "input")
    message = response.json()["error"]["message"]
    assert "input[1]" in message
    assert str(MAX_TOKENS + 1) in message


def test_embeddings_without_model_is_a_400(client: TestClient) -> None:
    response = client.post("/v1/embeddings", json={"input": "hello"})
    assert_error(response, 400, "model")


def test_models_lists_the_embedding_model(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == [MODEL, EMBEDDING_MODEL]


# -- uploads ---------------------------------------------------------------------------------


def test_upload_reports_and_lists_the_collection(client: TestClient) -> None:
    report = upload(client, "support", {"returns.md": RETURNS_MD, "shipping.md": SHIPPING_MD})
    assert report["collection"] == "support"
    assert (report["added"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert report["chunks"] >= 2
    assert report["failed"] == []
    collections = client.get("/v1/collections").json()
    assert collections == {
        "object": "list",
        "data": [
            {
                "name": "support",
                "embedding_model": EMBEDDING_MODEL,
                "dim": DIM,
                "documents": 2,
                "chunks": report["chunks"],
            }
        ],
    }


def test_upload_is_idempotent_and_a_changed_file_is_updated(client: TestClient) -> None:
    first = upload(client, "support", {"returns.md": RETURNS_MD})
    assert (first["added"], first["unchanged"]) == (1, 0)
    again = upload(client, "support", {"returns.md": RETURNS_MD})
    assert (again["added"], again["updated"], again["unchanged"], again["chunks"]) == (0, 0, 1, 0)
    changed = RETURNS_MD.replace(b"five", b"ten")
    updated = upload(client, "support", {"returns.md": changed})
    assert (updated["added"], updated["updated"], updated["unchanged"]) == (0, 1, 0)
    hits = search(client, collection="support", query="refunds", mode="bm25").json()["data"]
    assert [h["document_id"] for h in hits] == ["returns.md"]
    assert "ten business days" in hits[0]["text"]
    listed = client.get("/v1/collections").json()["data"]
    assert listed[0]["documents"] == 1


def test_a_bad_file_is_reported_while_the_others_ingest(client: TestClient) -> None:
    files = {
        "returns.md": RETURNS_MD,
        "image.png": b"\x89PNG\r\n",
        "latin1.txt": "caf\xe9 au lait".encode("latin-1"),
        "blank.md": b"\n\n",
    }
    report = upload(client, "support", files)
    assert report["added"] == 1
    failed = {f["path"]: f for f in report["failed"]}
    assert set(failed) == {"image.png", "latin1.txt", "blank.md"}
    assert failed["image.png"]["kind"] == "unsupported"
    assert failed["latin1.txt"]["kind"] == "undecodable"
    assert failed["blank.md"]["kind"] == "empty"
    assert all(f["line"] is None and f["reason"] for f in report["failed"])
    assert "switchboard-upload-" not in json.dumps(report)  # no server temp path leaks


def test_upload_over_the_size_limit_is_a_413(client: TestClient) -> None:
    big = b"word " * (MAX_FILE_BYTES // 5 + 1)
    response = post_upload(client, "support", {"returns.md": RETURNS_MD, "big.txt": big})
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("files", "payload_too_large")
    assert "big.txt" in error["message"]
    assert client.get("/v1/collections").json()["data"] == []  # the request did nothing
    assert client.get("/v1/collections/support/jobs").json()["data"] == []


@pytest.mark.parametrize(
    "files",
    [
        pytest.param([("files", ("a.md", b"# A\n\ntext", "text/markdown"))] * 2, id="twice"),
        pytest.param([("files", (".env", b"SECRET=1", "text/plain"))], id="hidden-name"),
        pytest.param([("other", ("a.md", b"# A\n\ntext", "text/markdown"))], id="no-files"),
    ],
)
def test_bad_upload_is_a_400(client: TestClient, files: list[Any]) -> None:
    response = client.post("/v1/collections/support/documents", files=files)
    assert_error(response, 400, "files")


def test_upload_to_a_bad_collection_name_is_a_400(client: TestClient) -> None:
    response = post_upload(client, "-bad", {"returns.md": RETURNS_MD})
    assert_error(response, 400, "collection")


def test_uploaded_documents_have_their_file_name_as_source(client: TestClient) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD})
    hit = search(client, collection="support", query="refunds").json()["data"][0]
    assert hit["source"] == "returns.md"


# -- upload jobs -----------------------------------------------------------------------------


def test_an_upload_answers_202_with_the_job_which_ends_with_the_report(
    client: TestClient,
) -> None:
    response = post_upload(
        client, "support", {"returns.md": RETURNS_MD, "shipping.md": SHIPPING_MD}
    )

    assert response.status_code == 202, response.text
    job = response.json()
    assert job["id"].startswith("job_")
    assert response.headers["location"] == f"/v1/collections/support/jobs/{job['id']}"
    assert (job["object"], job["collection"]) == ("ingest.job", "support")
    assert job["status"] in {"queued", "running", "succeeded"}
    assert job["files"] == ["returns.md", "shipping.md"]
    assert job["progress"]["files_total"] == 2
    assert isinstance(job["created_at"], int)

    done = wait_job(client, response.headers["location"])

    assert (done["status"], done["error"]) == ("succeeded", None)
    report = done["report"]
    assert (report["collection"], report["added"], report["failed"]) == ("support", 2, [])
    assert done["progress"] == {
        "files_done": 2,
        "files_total": 2,
        "chunks_done": report["chunks"],
        "chunks_total": report["chunks"],
    }
    assert done["started_at"] is not None
    assert done["finished_at"] is not None
    assert client.get("/v1/collections/support/jobs").json() == {"object": "list", "data": [done]}
    hits = search(client, collection="support", query="refunds", mode="bm25").json()["data"]
    assert hits[0]["document_id"] == "returns.md"


def test_a_job_over_max_chunks_fails_naming_the_setting_and_keeps_what_it_committed(
    client: TestClient,
) -> None:
    text = (b"word " * MAX_FILE_BYTES)[: MAX_FILE_BYTES - 1]  # ~17 chunks of 64 words
    response = post_upload(client, "support", {"a.txt": text, "b.txt": text, "c.md": RETURNS_MD})

    job = wait_job(client, response.headers["location"])

    assert job["status"] == "failed"
    assert job["error"]["code"] == "max_chunks_exceeded"
    assert "knowledge.jobs.max_chunks" in job["error"]["message"]
    assert (job["report"]["added"], job["progress"]["files_done"]) == (1, 1)
    assert job["progress"]["chunks_total"] > MAX_CHUNKS  # b.txt was cut, then refused
    listed = client.get("/v1/collections").json()["data"]
    assert [(c["name"], c["documents"]) for c in listed] == [("support", 1)]  # a.txt stays


def test_another_tenants_job_is_a_404(client: TestClient) -> None:
    alpha, beta = tenant(client, "alpha"), tenant(client, "beta")
    response = post_upload(client, "shared", {"returns.md": RETURNS_MD}, alpha)
    location = response.headers["location"]
    assert wait_job(client, location, alpha)["status"] == "succeeded"

    for headers in (beta, None):  # another tenant; the default tenant
        assert_error(client.get(location, headers=headers), 404, None, "job_not_found")
        assert_error(client.delete(location, headers=headers), 404, None, "job_not_found")
        assert client.get("/v1/collections/shared/jobs", headers=headers).json()["data"] == []
    assert client.get(location, headers=alpha).json()["status"] == "succeeded"


def test_an_unknown_job_or_another_collections_job_is_a_404(client: TestClient) -> None:
    job = post_upload(client, "support", {"returns.md": RETURNS_MD}).json()
    wait_job(client, f"/v1/collections/support/jobs/{job['id']}")
    missing = client.get("/v1/collections/support/jobs/job_0123")
    assert_error(missing, 404, None, "job_not_found")
    elsewhere = client.get(f"/v1/collections/other/jobs/{job['id']}")
    assert_error(elsewhere, 404, None, "job_not_found")


def test_cancelling_a_finished_job_leaves_it_as_it_was(client: TestClient) -> None:
    response = post_upload(client, "support", {"returns.md": RETURNS_MD})
    done = wait_job(client, response.headers["location"])
    cancelled = client.delete(response.headers["location"])
    assert cancelled.status_code == 200
    assert cancelled.json() == done


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_a_bad_job_list_limit_is_a_400(client: TestClient, limit: str) -> None:
    response = client.get(f"/v1/collections/support/jobs?limit={limit}")
    assert_error(response, 400, "limit")


# -- /v1/search ------------------------------------------------------------------------------


def test_upload_then_search_round_trip(client: TestClient) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD, "shipping.md": SHIPPING_MD})
    response = search(client, collection="support", query="how long do refunds take?")
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "list"
    assert (data["collection"], data["mode"], data["reranker"]) == ("support", "hybrid", "prf")
    assert set(data["timings_ms"]) == {"bm25", "embed", "dense", "fuse", "rerank", "fetch"}
    assert all(v >= 0 for v in data["timings_ms"].values())
    top = data["data"][0]
    assert top["document_id"] == "returns.md"
    assert top["chunk_id"] == "returns.md#0"
    assert top["title"] == "Returns"
    assert top["metadata"] == {"lang": "en", "format": "markdown"}
    assert "Refunds are issued" in top["text"]
    assert 0 <= top["start"] < top["end"]
    assert set(top["ranks"]) == {"bm25", "dense", "rrf", "rerank"}
    assert set(top["scores"]) == set(top["ranks"])
    assert top["ranks"]["rerank"] == 1
    assert top["score"] == top["scores"]["rerank"]


@pytest.mark.parametrize("mode", ["bm25", "dense"])
def test_search_single_mode_has_that_retrievers_order(client: TestClient, mode: str) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD, "shipping.md": SHIPPING_MD})
    data = search(client, collection="support", query="shipping to Germany", mode=mode).json()
    assert data["mode"] == mode
    assert data["reranker"] is None
    top = data["data"][0]
    assert top["document_id"] == "shipping.md"
    assert set(top["ranks"]) == set(top["scores"]) == {mode}
    assert top["ranks"][mode] == 1
    assert set(data["timings_ms"]) == ({"bm25"} if mode == "bm25" else {"embed", "dense"}) | {
        "fuse",
        "fetch",
    }


def test_search_top_k_filters_and_rerank_switch(client: TestClient) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD, "shipping.md": SHIPPING_MD})
    query = "business days"
    assert len(search(client, collection="support", query=query, top_k=1).json()["data"]) == 1
    english = search(client, collection="support", query=query, filters={"lang": "en"}).json()
    assert [h["document_id"] for h in english["data"]] == ["returns.md"]
    none = search(client, collection="support", query=query, filters={"lang": ["de", "fr"]})
    assert none.json()["data"] == []
    plain = search(client, collection="support", query=query, rerank=False, rrf_k=10).json()
    assert plain["reranker"] is None
    assert "rerank" not in plain["timings_ms"]
    weighted = search(client, collection="support", query=query, weights={"bm25": 2.0})
    assert weighted.status_code == 200


def test_search_unknown_collection_is_a_404(client: TestClient) -> None:
    response = search(client, collection="nowhere", query="refunds")
    assert_error(response, 404, "collection", "collection_not_found")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        pytest.param({"collection": "bad name"}, "collection", id="bad-collection-name"),
        pytest.param({"collection": "x" * 65}, "collection", id="long-collection-name"),
        pytest.param({"filters": {"bad-key": "x"}}, "filters", id="bad-filter-key"),
        pytest.param({"filters": {"lang": []}}, "filters", id="empty-filter-list"),
        pytest.param({"filters": {"lang": {"$ne": "x"}}}, "filters.lang", id="nested-filter"),
        pytest.param({"query": ""}, "query", id="empty-query"),
        pytest.param({"query": "   "}, None, id="blank-query"),
        pytest.param({"mode": "fuzzy"}, "mode", id="bad-mode"),
        pytest.param({"top_k": 0}, "top_k", id="zero-top-k"),
        pytest.param({"top_k": 101}, "top_k", id="huge-top-k"),
        pytest.param({"rrf_k": 0}, "rrf_k", id="zero-rrf-k"),
        pytest.param({"weights": {"rrf": 1.0}}, "weights.rrf", id="bad-weight-key"),
        pytest.param({"limit": 3}, "limit", id="unknown-field"),
    ],
)
def test_search_bad_request_is_a_400(
    client: TestClient, fields: dict[str, Any], param: str | None
) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD})
    response = search(client, **{"collection": "support", "query": "refunds", **fields})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert response.json()["error"]["param"] is not None
        assert response.json()["error"]["param"].startswith(param)


# -- delete ----------------------------------------------------------------------------------


def test_delete_document(client: TestClient) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD, "shipping.md": SHIPPING_MD})
    response = client.delete("/v1/collections/support/documents/returns.md")
    assert response.status_code == 200
    assert response.json() == {"id": "returns.md", "object": "document", "deleted": True}
    hits = search(client, collection="support", query="refunds business days").json()["data"]
    assert {h["document_id"] for h in hits} == {"shipping.md"}
    assert client.get("/v1/collections").json()["data"][0]["documents"] == 1
    again = client.delete("/v1/collections/support/documents/returns.md")
    assert_error(again, 404, None, "document_not_found")


def test_delete_a_document_id_with_slashes(client: TestClient, knowledge: KnowledgeBase) -> None:
    ref = CollectionRef("default", "support")
    text = "Install the agent, then restart it."
    document = Document("guides/setup.md", "Setup", "guides/setup.md", text, "hash-1")
    knowledge.ingestor.ingest_documents(ref, [document])
    response = client.delete("/v1/collections/support/documents/guides/setup.md")
    assert response.status_code == 200
    assert response.json()["id"] == "guides/setup.md"
    assert knowledge.store.document_hashes(ref) == {}


def test_delete_from_an_unknown_collection_is_a_404(client: TestClient) -> None:
    response = client.delete("/v1/collections/nowhere/documents/returns.md")
    assert_error(response, 404, "collection", "collection_not_found")


def test_delete_from_a_bad_collection_name_is_a_400(client: TestClient) -> None:
    response = client.delete("/v1/collections/-bad/documents/returns.md")
    assert_error(response, 400, "collection")


# -- tenants ---------------------------------------------------------------------------------


def test_tenants_never_see_each_others_chunks(client: TestClient) -> None:
    alpha, beta = tenant(client, "alpha"), tenant(client, "beta")
    assert upload(client, "shared", {"returns.md": RETURNS_MD}, alpha)["added"] == 1
    assert upload(client, "shared", {"shipping.md": SHIPPING_MD}, beta)["added"] == 1
    assert upload(client, "beta-only", {"shipping.md": SHIPPING_MD}, beta)["added"] == 1

    for mode in ("bm25", "dense", "hybrid"):
        body = {"collection": "shared", "query": "shipping to Germany", "mode": mode}
        hits = search(client, alpha, **body).json()["data"]
        assert {h["document_id"] for h in hits} <= {"returns.md"}
        hits = search(client, beta, **body).json()["data"]
        assert {h["document_id"] for h in hits} == {"shipping.md"}

    missing = search(client, alpha, collection="beta-only", query="shipping")
    assert_error(missing, 404, "collection", "collection_not_found")
    names = [c["name"] for c in client.get("/v1/collections", headers=alpha).json()["data"]]
    assert names == ["shared"]
    names = [c["name"] for c in client.get("/v1/collections", headers=beta).json()["data"]]
    assert names == ["beta-only", "shared"]
    assert client.get("/v1/collections").json()["data"] == []  # the default tenant

    deleted = client.delete("/v1/collections/beta-only/documents/shipping.md", headers=alpha)
    assert_error(deleted, 404, "collection", "collection_not_found")
    deleted = client.delete("/v1/collections/shared/documents/shipping.md", headers=alpha)
    assert_error(deleted, 404, None, "document_not_found")
    assert search(client, beta, collection="shared", query="shipping").json()["data"]


def test_the_default_tenant_comes_from_settings(
    client: TestClient, knowledge: KnowledgeBase
) -> None:
    upload(client, "support", {"returns.md": RETURNS_MD})
    ref = CollectionRef(knowledge.settings.default_tenant, "support")
    assert knowledge.store.get_collection(ref) is not None
    assert client.get("/v1/collections", headers=tenant(client, "default")).json()["data"]


def test_jsonl_upload_reports_a_bad_line_by_number(client: TestClient) -> None:
    lines = [
        b'{"id": "q1", "title": "Refunds", "text": "Refunds take five business days."}',
        b"not json",
        b'{"id": "q2", "text": "Parcels ship from Hamburg."}',
    ]
    report = upload(client, "faq", {"faq.jsonl": b"\n".join(lines) + b"\n"})
    assert report["added"] == 2
    assert [(f["path"], f["line"], f["kind"]) for f in report["failed"]] == [
        ("faq.jsonl", 2, "bad_record")
    ]
    hit = search(client, collection="faq", query="refunds", mode="bm25").json()["data"][0]
    assert (hit["document_id"], hit["title"], hit["source"]) == ("q1", "Refunds", "faq.jsonl")


def test_upload_at_exactly_the_size_limit_is_accepted(client: TestClient) -> None:
    exact = (b"word " * MAX_FILE_BYTES)[:MAX_FILE_BYTES]
    assert upload(client, "support", {"exact.txt": exact})["added"] == 1


def test_a_duplicate_id_in_one_upload_is_reported_and_the_first_wins(client: TestClient) -> None:
    first = b'{"id": "q1", "text": "Refunds take five business days."}\n'
    second = b'{"id": "q1", "text": "Parcels ship from Hamburg."}\n'
    report = upload(client, "faq", {"a.jsonl": first, "b.jsonl": second})
    assert report["added"] == 1
    assert [(f["path"], f["kind"]) for f in report["failed"]] == [("b.jsonl", "duplicate")]
    hits = search(client, collection="faq", query="refunds parcels", mode="bm25").json()["data"]
    assert [(h["document_id"], h["source"]) for h in hits] == [("q1", "a.jsonl")]


def test_upload_with_an_overlong_file_name_is_a_400(client: TestClient) -> None:
    response = post_upload(client, "support", {"a" * 300 + ".md": b"# Long\n\nname\n"})
    assert_error(response, 400, "files")


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/embeddings", embed_body(input=["fine", "a\ud800b"]), "input"),
        ("/v1/embeddings", embed_body(input="\udfff"), "input"),
        ("/v1/search", {"collection": "support", "query": "refund \ud83d"}, "query"),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], param: str
) -> None:
    raw = json.dumps(body)  # the surrogate travels as a JSON escape
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert_error(response, 400, param)


def test_an_unknown_embeddings_parameter_is_refused_by_name(client: TestClient) -> None:
    response = client.post("/v1/embeddings", json=embed_body(truncate=True))
    assert_error(response, 400, "truncate")
    assert response.json()["error"]["message"] == "Unrecognized request argument supplied: truncate"
    assert client.post("/v1/embeddings", json=embed_body(user="u1")).status_code == 200
