"""The OpenAI-compatible API over the real default model, served by uvicorn on loopback
and spoken to by the official ``openai`` client and by raw ``httpx``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from switchboard.api import create_app
from switchboard.config import DEFAULT_MODEL, EngineSettings, GatewaySettings, Settings
from switchboard.engine.local import LocalEngine

pytestmark = pytest.mark.integration

MAX_MODEL_LEN = 1024
MAX_NUM_SEQS = 8
MAX_WAITING = 4
ENGINE = EngineSettings.model_validate(
    {
        "max_model_len": MAX_MODEL_LEN,
        "max_num_seqs": MAX_NUM_SEQS,
        "max_batch_tokens": 128,
        "max_waiting": MAX_WAITING,
    }
)
HELLO: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Say hello in one short sentence."}
]


@dataclass(frozen=True)
class Served:
    base_url: str
    engine: LocalEngine


@pytest.fixture(scope="module")
def served(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("gw")
    gateway = GatewaySettings(db_path=data / "gateway.sqlite3")
    settings = Settings(model=DEFAULT_MODEL, data_dir=data, gateway=gateway)
    engine = LocalEngine(DEFAULT_MODEL, default_model_path, ENGINE)
    config = uvicorn.Config(
        create_app(engine, settings), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Served(f"http://127.0.0.1:{port}", engine)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.close()


@pytest.fixture(scope="module")
def client(served: Served) -> OpenAI:
    return OpenAI(base_url=f"{served.base_url}/v1", api_key="x", max_retries=0)


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base_url, timeout=60) as http:
        yield http


def health(base_url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{base_url}/health", timeout=10).json()["engine"]
    return data


def wait_for(base_url: str, running: int, waiting: int, timeout_s: float) -> dict[str, Any]:
    """Poll /health until it shows ``running`` and ``waiting`` requests; the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = health(base_url)
        if (stats["running"], stats["waiting"]) == (running, waiting):
            return stats
        if time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def idle_engine(served: Served) -> Iterator[None]:
    """Every test starts and ends with nothing running or waiting."""
    assert wait_for(served.base_url, 0, 0, 30)["running"] == 0
    yield
    stats = wait_for(served.base_url, 0, 0, 30)
    assert (stats["running"], stats["waiting"]) == (0, 0)


def long_completion(max_tokens: int) -> dict[str, Any]:
    return {
        "model": DEFAULT_MODEL,
        "prompt": "Once upon a time",
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
    }


# -- the official client ---------------------------------------------------------------------


def test_chat_completion(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=HELLO,
        max_tokens=24,
        temperature=0,
    )
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 24
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert response.id.startswith("chatcmpl-")
    assert response.model == DEFAULT_MODEL
    timings = (response.model_extra or {})["timings"]
    assert timings["total_ms"] >= timings["ttft_ms"] > 0


def test_chat_completion_stream_with_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=HELLO,
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert content
    finished = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finished[-1] in ("stop", "length")
    assert all(reason is None for reason in finished[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens <= 24
    assert "timings" in (last.model_extra or {})


def test_completion(client: OpenAI) -> None:
    response = client.completions.create(
        model=DEFAULT_MODEL, prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert response.choices[0].text
    assert response.usage is not None
    assert response.usage.completion_tokens <= 8


def test_completion_stream(client: OpenAI) -> None:
    stream = client.completions.create(
        model=DEFAULT_MODEL,
        prompt="The capital of France is",
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens <= 8


def test_models_lists_the_served_model(client: OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [DEFAULT_MODEL]


def test_health(http: httpx.Client) -> None:
    body = http.get("/health").json()
    assert body["status"] == "ok"
    data = body["engine"]
    assert data["status"] == "ok"
    assert data["model"] == DEFAULT_MODEL
    assert data["kv_cells_total"] == ENGINE.kv_cells
    assert {"running", "waiting", "kv_cells_used"} <= set(data)


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_over_the_window_is_a_400(served: Served, http: httpx.Client, stream: bool) -> None:
    prompt = "hello there " * 600
    n_prompt = len(served.engine.encode_prompt(prompt))
    assert n_prompt > MAX_MODEL_LEN
    body = {"model": DEFAULT_MODEL, "prompt": prompt, "stream": stream}
    response = http.post("/v1/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert str(n_prompt) in error["message"]
    assert str(MAX_MODEL_LEN) in error["message"]


def test_bad_temperature_is_a_400(http: httpx.Client) -> None:
    body = {"model": DEFAULT_MODEL, "messages": HELLO, "temperature": 5}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "temperature"


def test_malformed_json_is_a_400(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        content=b'{"model": "x", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_missing_messages_is_a_400(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json={"model": DEFAULT_MODEL})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


def test_unknown_model_is_a_404(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


# -- concurrency -----------------------------------------------------------------------------


async def _hold(client: httpx.AsyncClient, body: dict[str, Any], statuses: list[int]) -> None:
    """Open a stream and keep it open (unread) until cancelled."""
    async with client.stream("POST", "/v1/completions", json=body) as response:
        statuses.append(response.status_code)
        if response.status_code == 200:
            await asyncio.Event().wait()


async def _overflow(base_url: str) -> httpx.Response:
    """Fill every sequence slot and the waiting queue, then send one more request."""
    body = long_completion(max_tokens=900)  # long enough to still run when we overflow
    capacity = MAX_NUM_SEQS + MAX_WAITING
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        held: list[asyncio.Task[None]] = []
        try:
            deficit = capacity + 3
            deadline = time.monotonic() + 30
            while deficit > 0:  # a burst can be refused before the engine admits any of it
                assert time.monotonic() < deadline, f"queue never filled: {statuses}"
                held += [asyncio.create_task(_hold(client, body, statuses)) for _ in range(deficit)]
                stats = await asyncio.to_thread(wait_for, base_url, MAX_NUM_SEQS, MAX_WAITING, 1)
                deficit = capacity - stats["running"] - stats["waiting"]
            return await client.post("/v1/completions", json={**body, "stream": False})
        finally:
            for task in held:
                task.cancel()
            await asyncio.gather(*held, return_exceptions=True)


def test_full_queue_is_a_503_with_retry_after(served: Served) -> None:
    response = asyncio.run(_overflow(served.base_url))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "queue_full"


async def _timed_stream(client: httpx.AsyncClient, arrivals: list[float]) -> None:
    body = {
        "model": DEFAULT_MODEL,
        "messages": HELLO,
        "max_tokens": 64,
        "ignore_eos": True,
        "stream": True,
    }
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            choices = json.loads(line.removeprefix("data: "))["choices"]
            if choices and choices[0]["delta"].get("content"):
                arrivals.append(time.perf_counter())


async def _two_streams(base_url: str) -> tuple[list[float], list[float]]:
    first: list[float] = []
    second: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await asyncio.gather(_timed_stream(client, first), _timed_stream(client, second))
    return first, second


def test_concurrent_streams_interleave(served: Served) -> None:
    first, second = asyncio.run(_two_streams(served.base_url))
    assert first
    assert second
    assert second[0] < first[-1]
    assert first[0] < second[-1]


def test_client_disconnect_aborts_the_request(served: Served, http: httpx.Client) -> None:
    with http.stream("POST", "/v1/completions", json=long_completion(900)) as response:
        assert response.status_code == 200
        lines = response.iter_lines()  # kept alive: dropping it would close the connection
        assert next(lines).startswith("data: ")
        assert health(served.base_url)["running"] == 1
    stats = wait_for(served.base_url, 0, 0, 2.0)
    assert stats["running"] == 0
    assert stats["kv_cells_used"] == 0


# -- the README's first example, and a chat stream abandoned -----------------------------------


def test_the_readme_first_example_needs_no_max_tokens(served: Served) -> None:
    client = OpenAI(base_url=f"{served.base_url}/v1", api_key="unused")  # as in the README
    stream = client.chat.completions.create(
        model="smollm2-135m:q8_0",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens > 0
    assert usage.total_tokens <= MAX_MODEL_LEN  # the rest of the window at most


def test_client_disconnect_aborts_a_chat_stream(served: Served, http: httpx.Client) -> None:
    body = {
        "model": DEFAULT_MODEL,
        "messages": HELLO,
        "max_tokens": 900,
        "ignore_eos": True,
        "stream": True,
    }
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        lines = response.iter_lines()  # kept alive: dropping it would close the connection
        assert next(lines).startswith("data: ")
        assert health(served.base_url)["running"] == 1
    stats = wait_for(served.base_url, 0, 0, 5.0)
    assert stats["running"] == 0
    assert stats["kv_cells_used"] == 0
