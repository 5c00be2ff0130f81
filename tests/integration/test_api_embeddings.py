"""The knowledge-base endpoints over the real embedding model and a SQLite store, served by
uvicorn on loopback and spoken to by the official ``openai`` client and by raw ``httpx``
(uploads: ``test_api_ingest_jobs``).

The chat engine is the fake one of the unit tests: these endpoints never touch it, and it
spares loading the default LLM."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
import uvicorn
from openai import BadRequestError, NotFoundError, OpenAI

from switchboard.api import create_app
from switchboard.config import EmbeddingSettings, GatewaySettings, KnowledgeSettings, Settings
from switchboard.rag.knowledge import KnowledgeBase
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.integration

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DIM = 384
TEXTS = [
    "Where is my order?",
    "Refunds are issued within 5 business days after we receive the returned item.",
    "Ünïcödé and emoji 🙂 survive tokenization.",
]


@dataclass(frozen=True)
class Served:
    base_url: str
    knowledge: KnowledgeBase


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = KnowledgeSettings(embedding=EmbeddingSettings(n_threads=1))
    store = tmp_path_factory.mktemp("kb") / "kb.sqlite3"
    knowledge = KnowledgeBase.open(settings, str(store), Settings().models_dir)
    engine = FakeServedEngine()
    gateway = GatewaySettings(db_path=store.parent / "gateway.sqlite3")
    settings = Settings(model=MODEL, data_dir=store.parent, gateway=gateway)
    app = create_app(engine, settings, knowledge=knowledge)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Served(f"http://127.0.0.1:{port}", knowledge)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.async_engine.shutdown()
        knowledge.close()


@pytest.fixture(scope="module")
def client(served: Served) -> OpenAI:
    return OpenAI(base_url=f"{served.base_url}/v1", api_key="x", max_retries=0)


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base_url, timeout=60) as http:
        yield http


def test_openai_client_default_encoding_decodes_base64(client: OpenAI, served: Served) -> None:
    """The client asks for base64 unless told otherwise and decodes it as float32."""
    raw = client.embeddings.with_raw_response.create(model=EMBEDDING_MODEL, input=TEXTS)
    assert json.loads(raw.http_request.content)["encoding_format"] == "base64"
    assert all(isinstance(d["embedding"], str) for d in raw.http_response.json()["data"])
    response = raw.parse()
    assert response.model == EMBEDDING_MODEL
    assert [d.index for d in response.data] == [0, 1, 2]
    vectors = np.array([d.embedding for d in response.data], dtype=np.float32)
    expected = served.knowledge.embedder.embed(TEXTS)
    np.testing.assert_allclose(vectors, expected, atol=1e-6, rtol=0)
    tokens = sum(served.knowledge.embedder.count_tokens(t) + 2 for t in TEXTS)
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_openai_client_float_encoding(client: OpenAI, served: Served) -> None:
    response = client.embeddings.create(
        model=EMBEDDING_MODEL.lower(), input=TEXTS, encoding_format="float", dimensions=DIM
    )
    vectors = np.array([d.embedding for d in response.data], dtype=np.float32)
    assert vectors.shape == (len(TEXTS), DIM)
    np.testing.assert_allclose(vectors, served.knowledge.embedder.embed(TEXTS), atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_openai_client_single_string(client: OpenAI, served: Served) -> None:
    response = client.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS[0])
    assert len(response.data) == 1
    expected = served.knowledge.embedder.embed(TEXTS[:1])[0]
    np.testing.assert_allclose(response.data[0].embedding, expected, atol=1e-6, rtol=0)


def test_openai_client_sees_openai_errors(client: OpenAI) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert missing.value.code == "model_not_found"
    with pytest.raises(BadRequestError) as tokens:
        client.embeddings.create(model=EMBEDDING_MODEL, input=[[1, 2, 3]])
    assert tokens.value.param == "input"
    with pytest.raises(BadRequestError) as long:
        client.embeddings.create(model=EMBEDDING_MODEL, input="word " * 300)
    assert long.value.param == "input"
    with pytest.raises(BadRequestError) as short:
        client.embeddings.create(model=EMBEDDING_MODEL, input="hi", dimensions=128)
    assert short.value.param == "dimensions"


def test_models_lists_both_models(client: OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [MODEL, EMBEDDING_MODEL]


def test_search_unknown_collection_is_a_404(http: httpx.Client) -> None:
    response = http.post("/v1/search", json={"collection": "nowhere", "query": "refunds"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "collection_not_found"
