"""Faults of the engine, served for real: the default model in the engine, the gateway
over loopback, the request log in SQLite.

- The engine failing on one request (a sampling bug that only its parameters hit) ends that
  request with a 500 ``generation_failed`` naming its id, logged once with the traceback;
  a stream running beside it is not disturbed, and the server stays healthy.
- The engine's loop failing (``llama_decode`` failing) is fatal: a stream running then ends
  with an in-band ``engine_dead`` error, every later request gets a 503 ``engine_dead`` at
  once, ``/health`` answers 503 so an orchestrator restarts the process, and the death is
  logged once, not per request.

Faults enter through the engine's own seams (its ``sampler`` and ``runner``), wrapped
around the real ones; the request log keeps every row written before and records the
failed requests with the status their clients saw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from fastapi import FastAPI

from switchboard.api import create_app
from switchboard.config import (
    DEFAULT_MODEL,
    CacheSettings,
    EngineSettings,
    GatewaySettings,
    GuardSettings,
    Settings,
)
from switchboard.engine.engine import Runner
from switchboard.engine.local import LocalEngine
from switchboard.engine.scheduler import ScheduledChunk
from switchboard.errors import FatalError
from switchboard_bench.uvicorn_thread import serve
from tests.integration import gateway_harness
from tests.integration.fault_harness import error_of, health, logged, tracebacks
from tests.unit.test_engine import POISON_SEED, failing_for

pytestmark = pytest.mark.integration

QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]


@dataclass
class Served:
    base_url: str
    app: FastAPI
    engine: LocalEngine


@contextmanager
def served(model_path: Path, data: Path) -> Iterator[Served]:
    settings = Settings(
        model=DEFAULT_MODEL,
        data_dir=data,
        # one thread: on a busy 2-core machine llama.cpp's threads wait on each other
        engine=EngineSettings(max_model_len=512, max_num_seqs=4, n_threads=1),
        gateway=GatewaySettings(db_path=data / "gateway.sqlite3"),
        guard=GuardSettings(enabled=False),  # the engine is under test, not the guardrails
        cache=CacheSettings(enabled=False),  # every request reaches the engine
    )
    engine = LocalEngine(settings.model, model_path, settings.engine)
    try:
        app = create_app(engine, settings)
        with serve(app) as base_url:
            yield Served(base_url, app, engine)
    finally:
        engine.close()


def body(**extra: Any) -> dict[str, Any]:
    return {"model": DEFAULT_MODEL, "messages": QUESTION, "max_tokens": 24, "temperature": 0}


def chat(base_url: str, **extra: Any) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", json={**body(), **extra}, timeout=60)


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


class FailingDecode:
    """The real runner for ``healthy`` more forward passes; then every one fails as a
    failing ``llama_decode`` does."""

    def __init__(self, runner: Runner, healthy: int) -> None:
        self.runner = runner
        self.healthy = healthy

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        if self.healthy == 0:
            raise FatalError("llama_decode failed with status -3")
        self.healthy -= 1
        return self.runner.execute(chunks)

    def free(self, slot: int) -> None:
        self.runner.free(slot)

    def trim(self, slot: int, keep: int) -> None:
        self.runner.trim(slot, keep)

    def copy(self, source: int, slot: int) -> None:
        self.runner.copy(source, slot)


def stream_lines(client: httpx.Client, base_url: str) -> Iterator[str]:
    """The ``data:`` payloads of a streamed chat completion, as they arrive."""
    with client.stream(
        "POST", f"{base_url}/v1/chat/completions", json={**body(), "stream": True}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                yield line.removeprefix("data: ")


def content(payloads: Sequence[str]) -> str:
    return gateway_harness.content_of([json.loads(p) for p in payloads if p != "[DONE]"])


def test_a_request_the_engine_fails_on_ends_alone_and_the_others_go_on(
    default_model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with served(default_model_path, tmp_path) as server:
        expected = answer(chat(server.base_url))
        server.engine.engine.sampler = failing_for("the seeded request")  # a sampling bug
        caplog.clear()
        with httpx.Client(timeout=60) as client:
            stream = stream_lines(client, server.base_url)
            beside = [next(stream)]  # a stream is running while the bad request fails
            bad = chat(server.base_url, seed=POISON_SEED)
            beside += list(stream)
        after = answer(chat(server.base_url))
        status, body_ = health(server.base_url)
        rows = gateway_harness.logged(server.app, 4)

    # what the user sees: a 500 for that request only, naming its id; the others unharmed
    assert error_of(bad) == (500, "server_error", "generation_failed")
    failed_id = next(r.record.request_id for r in rows if r.record.status == 500)
    assert failed_id in bad.json()["error"]["message"]
    assert beside[-1] == "[DONE]"
    assert content(beside) == expected
    assert after == expected
    assert (status, body_["status"], body_["engine"]["status"]) == (200, "ok", "ok")
    # what is logged: one error naming the request, with the bug's traceback
    assert logged(caplog, logging.ERROR) == [
        f"engine: request {failed_id} failed while sampling; it ends with an error, "
        "the others go on"
    ]
    assert len(tracebacks(caplog)) == 1
    # what is kept: every request in the log, the failed one with the status it got
    statuses = sorted((r.record.status, r.record.error_code) for r in rows)
    assert statuses == [(200, None), (200, None), (200, None), (500, "generation_failed")]


def test_a_failing_forward_pass_kills_the_engine_once_and_health_says_down(
    default_model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with served(default_model_path, tmp_path) as server:
        expected = answer(chat(server.base_url))
        # the next stream's prompt and first tokens, then the model fails mid-stream
        server.engine.engine.runner = FailingDecode(server.engine.engine.runner, healthy=4)
        caplog.clear()
        with httpx.Client(timeout=60) as client:
            running = list(stream_lines(client, server.base_url))
        refused = [chat(server.base_url) for _ in range(3)]
        status, body_ = health(server.base_url)
        metrics = httpx.get(f"{server.base_url}/metrics", timeout=10)
        rows = gateway_harness.logged(server.app, 5)

    # what the user sees: the running stream ends in-band, later requests a prompt 503
    assert running[-1] == "[DONE]"
    error = json.loads(running[-2])["error"]
    assert (error["type"], error["code"]) == ("server_error", "engine_dead")
    assert "llama_decode failed with status -3" in error["message"]
    assert content(running[:-2])  # the first words came through
    assert expected.startswith(content(running[:-2]))
    for response in refused:
        assert error_of(response) == (503, "server_error", "engine_dead")
    assert (status, body_["status"]) == (503, "down")
    assert body_["engine"]["status"] == "down"
    assert "llama_decode failed with status -3" in body_["engine"]["last_error"]
    assert metrics.status_code == 200
    # what is logged: the death, once; no line per refused request
    assert logged(caplog, logging.ERROR) == [
        "engine loop died (llama_decode failed with status -3): every request fails until "
        "the server is restarted"
    ]
    # what is kept: the answer before, and each failed request with the status it got
    statuses = sorted((r.record.status, r.record.error_code) for r in rows)
    assert statuses == [(200, None), *[(503, "engine_dead")] * 4]
