"""The OpenAI routes over the real engine loop driving a fake 'model' (see ``fakes``):
token t reads as one letter and the next token is always ``t + 1``."""

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from switchboard.api import create_app
from switchboard.config import CacheSettings, GatewaySettings, GuardSettings, Settings
from switchboard.engine import AsyncEngine, LLMEngine, SchedulerConfig
from tests.unit.fakes import VOCAB, FakeRunner, FakeTokenizer

pytestmark = pytest.mark.unit

MODEL = "fake-model"
MAX_MODEL_LEN = 32


class FakeVocab:
    n_vocab = VOCAB


class FakeServedEngine:
    """Letters a..z encode as tokens 0..25, so "abc" continues as "defg..."."""

    name = MODEL
    max_model_len = MAX_MODEL_LEN
    max_token_bytes = 1  # one letter per token
    model = FakeVocab()

    def __init__(self) -> None:
        config = SchedulerConfig(
            max_num_seqs=4,
            max_batch_tokens=16,
            kv_cache_tokens=256,
            max_model_len=MAX_MODEL_LEN,
            max_waiting=8,
        )
        self.async_engine = AsyncEngine(LLMEngine(FakeRunner(), FakeTokenizer(), config))

    def encode_prompt(self, text: str) -> list[int]:
        return [(ord(c) - ord("a")) % 26 for c in text]

    def encode_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[int]:
        return self.encode_prompt("".join(m["content"] for m in messages))

    def start(self) -> None:
        self.async_engine.start()


def _settings(folder: Path) -> Settings:
    return Settings(
        model=MODEL,
        data_dir=folder,
        gateway=GatewaySettings(db_path=folder / "gateway.sqlite3"),
        # the engine's protocol is tested here, not the guardrails or the cache
        guard=GuardSettings(enabled=False),
        cache=CacheSettings(enabled=False),
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    engine = FakeServedEngine()
    app = create_app(engine, _settings(tmp_path_factory.mktemp("gw")), aliases=["alias"])
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine.async_engine.shutdown()


class LineResponse(Protocol):
    def iter_lines(self) -> Iterator[str]: ...


def events(response: LineResponse) -> list[Any]:
    lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def chat_body(**fields: object) -> dict[str, object]:
    messages = [{"role": "user", "content": "abc"}]
    return {"model": MODEL, "messages": messages, "temperature": 0, "max_tokens": 4, **fields}


def test_chat_completion_returns_text_usage_and_timings(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert data["model"] == MODEL
    assert data["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "defg"},
            "finish_reason": "length",
            "logprobs": None,
        }
    ]
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert set(data["timings"]) == {"queue_ms", "ttft_ms", "total_ms", "mean_itl_ms"}
    assert data["timings"]["total_ms"] >= data["timings"]["ttft_ms"] > 0


def test_alias_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(model="alias"))
    assert response.status_code == 200


def test_stop_string_ends_with_stop(client: TestClient) -> None:
    data = client.post("/v1/chat/completions", json=chat_body(stop="f")).json()
    assert data["choices"][0]["message"]["content"] == "de"
    assert data["choices"][0]["finish_reason"] == "stop"


def test_chat_stream_chunks(client: TestClient) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = events(response)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = chunks[1:-1]
    assert "".join(c["choices"][0]["delta"]["content"] for c in content) == "defg"
    assert [c["choices"][0]["finish_reason"] for c in content] == [None, None, None, "length"]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    usage = chunks[-1]
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert "timings" in usage
    assert all("usage" not in c for c in chunks[:-1])


def test_chat_stream_without_usage_has_no_usage_chunk(client: TestClient) -> None:
    with client.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as response:
        chunks = events(response)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in c for c in chunks)


def test_completion_from_text_and_from_token_ids(client: TestClient) -> None:
    body = {"model": MODEL, "prompt": "abc", "temperature": 0, "max_tokens": 3}
    data = client.post("/v1/completions", json=body).json()
    assert data["object"] == "text_completion"
    assert data["id"].startswith("cmpl-")
    assert data["choices"][0]["text"] == "def"
    by_ids = client.post("/v1/completions", json={**body, "prompt": [0, 1, 2]}).json()
    assert by_ids["choices"][0]["text"] == "def"


def test_completion_stream(client: TestClient) -> None:
    body = {
        "model": MODEL,
        "prompt": "abc",
        "temperature": 0,
        "max_tokens": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/completions", json=body) as response:
        chunks = events(response)
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]) == "def"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_token_ids_outside_the_vocabulary_are_rejected(client: TestClient) -> None:
    body = {"model": MODEL, "prompt": [1, VOCAB], "max_tokens": 3}
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt"


@pytest.mark.parametrize("stream", [False, True])
def test_context_length_is_a_400_before_streaming(client: TestClient, stream: bool) -> None:
    body = {"model": MODEL, "prompt": "a" * 40, "max_tokens": 3, "stream": stream}
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["param"] == "prompt"
    assert "40" in error["message"]
    assert str(MAX_MODEL_LEN) in error["message"]


def test_unknown_model_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(model="gpt-4o"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_bad_temperature_names_the_param(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(temperature=5))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "temperature"


def test_models_and_health(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == [MODEL, "alias"]  # every routed name
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["engine"] == {
        "status": "ok",
        "model": MODEL,
        "running": 0,
        "waiting": 0,
        "kv_cells_used": 0,
        "kv_cells_total": 256,
        "last_error": None,
    }
    assert health["stores"]["gateway"]["quick_check"] == "ok"


class ExplodingRunner(FakeRunner):
    def execute(self, chunks: Any) -> Any:
        raise RuntimeError("simulated llama_decode crash")


def test_dead_engine_answers_503_and_the_server_stays_up(tmp_path: Path) -> None:
    engine = FakeServedEngine()
    engine.async_engine = AsyncEngine(
        LLMEngine(ExplodingRunner(), FakeTokenizer(), engine.async_engine.engine.config)
    )
    app = create_app(engine, _settings(tmp_path))
    try:
        with TestClient(app) as client:
            first = client.post("/v1/chat/completions", json=chat_body())
            assert first.status_code == 503
            assert first.json()["error"]["code"] == "engine_dead"
            again = client.post("/v1/chat/completions", json=chat_body())
            assert again.status_code == 503
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["status"] == "down"
            assert health.json()["engine"]["status"] == "down"
            assert "simulated llama_decode crash" in health.json()["engine"]["last_error"]
    finally:
        engine.async_engine.shutdown()


def test_a_lone_surrogate_is_a_400_naming_the_field(client: TestClient) -> None:
    raw = json.dumps({"model": MODEL, "prompt": "a\ud800b", "max_tokens": 2})
    response = client.post(
        "/v1/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt"
    raw = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "\udfff"}]})
    response = client.post(
        "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_parameters_the_local_engine_cannot_honour_are_refused(
    client: TestClient, path: str
) -> None:
    body: dict[str, object] = chat_body() if "chat" in path else {"model": MODEL, "prompt": "abc"}
    for field, value in (("logit_bias", {"3": 5.0}), ("frobnicate", True)):
        response = client.post(path, json={**body, field: value})
        assert response.status_code == 400, field
        error = response.json()["error"]
        assert error["param"] == field
        if field == "frobnicate":
            assert error["message"] == "Unrecognized request argument supplied: frobnicate"
    response = client.post(path, json={**body, "stop_token_ids": [VOCAB + 5]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stop_token_ids"
    harmless = {"user": "u1", "logit_bias": {}, "metadata": {"team": "web"}, "store": False}
    assert client.post(path, json={**body, **harmless}).status_code == 200


def test_a_chat_without_max_tokens_may_use_the_rest_of_the_window(client: TestClient) -> None:
    body = chat_body()
    del body["max_tokens"]
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": MAX_MODEL_LEN - 3,
                             "total_tokens": MAX_MODEL_LEN}  # fmt: skip
    assert data["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("max_tokens", [None, 4])
def test_a_chat_prompt_over_the_window_is_refused_naming_both_lengths(
    client: TestClient, max_tokens: int | None
) -> None:
    body = chat_body(messages=[{"role": "user", "content": "a" * 40}], max_tokens=max_tokens)
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "messages")
    assert f"maximum context length is {MAX_MODEL_LEN} tokens" in error["message"]
    assert "40 in the prompt" in error["message"]


def test_chat_stream_options_of_the_wrong_type_are_a_400(client: TestClient) -> None:
    # Found by the API fuzzer: the gateway replaces stream_options for its providers, so
    # {"include_usage": {}} was never validated.
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    bad = client.post(
        "/v1/chat/completions", json={**body, "stream_options": {"include_usage": {}}}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "stream_options.include_usage"
