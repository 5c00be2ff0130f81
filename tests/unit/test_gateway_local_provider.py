"""The local engine as a gateway provider, over the real engine loop driving the fake
'model' of ``fakes`` (letters a..z are tokens 0..25; the next token is always ``t + 1``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.errors import ContextLengthError, InvalidRequestError
from switchboard.gateway.local_provider import LocalProvider
from switchboard.gateway.types import ProviderCall, StreamChunk, Usage
from tests.unit.test_api_routes import MAX_MODEL_LEN, MODEL, FakeServedEngine

pytestmark = pytest.mark.unit


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    engine = FakeServedEngine()
    engine.start()
    try:
        yield LocalProvider(engine)
    finally:
        engine.async_engine.shutdown()


def _call(**body: Any) -> ProviderCall:
    return ProviderCall(
        request_id="r1", model=MODEL, body={"model": MODEL, **body}, prompt_tokens=0
    )


def _stream(provider: LocalProvider, call: ProviderCall) -> list[StreamChunk]:
    async def run() -> list[StreamChunk]:
        return [chunk async for chunk in provider.stream(call)]

    return asyncio.run(run())


def test_a_stream_is_a_role_chunk_the_text_and_a_usage_chunk(provider: LocalProvider) -> None:
    call = _call(messages=[{"role": "user", "content": "abc"}], max_tokens=4, temperature=0)
    chunks = _stream(provider, call)
    bodies = [json.loads(chunk.data) for chunk in chunks]

    assert {body["object"] for body in bodies} == {"chat.completion.chunk"}
    assert {body["id"] for body in bodies} == {"chatcmpl-r1"}
    assert bodies[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert not chunks[0].tokens
    text = "".join(body["choices"][0]["delta"].get("content") or "" for body in bodies[1:-1])
    assert text == "defg"
    assert bodies[-2]["choices"][0]["finish_reason"] == "length"
    assert bodies[-1]["choices"] == []
    assert bodies[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert chunks[-1].usage == Usage(3, 4)
    assert chunks[-1].queue_wait_s is not None


def test_a_parameter_the_engine_cannot_honour_is_the_clients_error(
    provider: LocalProvider,
) -> None:
    call = _call(messages=[{"role": "user", "content": "abc"}], n=2)
    with pytest.raises(InvalidRequestError) as refused:
        _stream(provider, call)
    assert refused.value.param == "n"
    assert "only n=1 is supported" in refused.value.message


def test_a_prompt_over_the_window_names_the_messages(provider: LocalProvider) -> None:
    call = _call(messages=[{"role": "user", "content": "a" * (MAX_MODEL_LEN + 1)}])
    with pytest.raises(ContextLengthError) as refused:
        _stream(provider, call)
    assert refused.value.param == "messages"


def test_the_prompt_count_is_bounded_below_by_the_texts_bytes(provider: LocalProvider) -> None:
    messages = [{"role": "system", "content": "ab"}, {"role": "user", "content": "cde"}]
    assert provider.max_model_len == MAX_MODEL_LEN
    assert provider.lower_bound(messages) == 5  # one byte per token
    assert provider.count(messages) == 5


def test_counting_a_malformed_message_names_it(provider: LocalProvider) -> None:
    messages = [{"role": "user", "content": "ab"}, {"role": "robot", "content": "c"}]
    with pytest.raises(InvalidRequestError) as refused:
        provider.count(messages)
    assert refused.value.param == "messages[1].role"
