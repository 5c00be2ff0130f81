"""``RemoteChatModel`` against a fake OpenAI-compatible server served by uvicorn on
loopback, whose replies each test scripts; ``GGUFPromptCounter`` over the real default model.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.remote_model import RemoteChatModel
from switchboard.assistant.types import Delta, TokenEvent, ToolCall, ToolResultEvent
from switchboard.engine.chat_template import ChatTemplate
from switchboard.engine.prompt_counter import GGUFPromptCounter
from switchboard.engine.runner import LlamaModel
from switchboard.errors import UpstreamError
from tests.unit.demo_shop import Intent

pytestmark = pytest.mark.integration

API_KEY = "sk-test"
MESSAGES = [{"role": "user", "content": "Where is my order A1001?"}]
GET_ORDER = {
    "type": "function",
    "function": {
        "name": "get_order",
        "description": "Look up one of the customer's orders.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}
TIMEOUT_S = 0.5
Reply = Callable[[], Response]

# -- the fake upstream ---------------------------------------------------------------------------


@dataclass
class Upstream:
    url: str = ""
    reply: Reply | None = None
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


def create_upstream_app(upstream: Upstream) -> Starlette:
    async def chat(request: Request) -> Response:
        upstream.requests.append((dict(request.headers), await request.json()))
        assert upstream.reply is not None
        return upstream.reply()

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def server() -> Iterator[Upstream]:
    upstream = Upstream()
    config = uvicorn.Config(
        create_upstream_app(upstream),
        host="127.0.0.1",
        port=0,
        log_level="critical",  # the "dies mid-stream" reply logs its exception
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    upstream.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield upstream
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def upstream(server: Upstream) -> Upstream:
    server.reply = None
    server.requests.clear()
    return server


def sse(*events: Mapping[str, Any] | str, stall_s: float = 0.0, die: bool = False) -> Reply:
    """A streamed reply: each event as a ``data:`` line; then a stall, or a crash that
    drops the connection, or nothing."""

    async def body() -> AsyncIterator[str]:
        for event in events:
            yield f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n"
        if stall_s:
            await asyncio.sleep(stall_s)
        if die:
            raise RuntimeError("upstream died")

    return lambda: StreamingResponse(body(), media_type="text/event-stream")


def chunk(delta: Mapping[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "served-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def text_chunks(*pieces: str) -> list[dict[str, Any]]:
    first = [chunk({"role": "assistant", "content": ""})]
    return first + [chunk({"content": piece}) for piece in pieces]


FINISH_STOP = chunk({}, "stop")
USAGE = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3}}

# -- helpers -----------------------------------------------------------------------------------


class CountMessages:
    def count(self, messages: Sequence[Mapping[str, Any]], tools: Any = None) -> int:
        return 7 * len(messages) + (100 if tools else 0)


def remote(url: str, **kwargs: Any) -> RemoteChatModel:
    return RemoteChatModel(
        url,
        "served-model",
        api_key=API_KEY,
        max_model_len=4096,
        tokenizer=CountMessages(),
        timeout_s=TIMEOUT_S,
        **kwargs,
    )


def collect(url: str, tools: Sequence[Mapping[str, Any]] | None = None) -> list[Delta]:
    async def scenario() -> list[Delta]:
        model = remote(url)
        try:
            return [
                d async for d in model.stream(MESSAGES, max_tokens=64, temperature=0.0, tools=tools)
            ]
        finally:
            await model.aclose()

    return asyncio.run(scenario())


def upstream_error(url: str) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        collect(url)
    return caught.value


# -- streaming ---------------------------------------------------------------------------------


def test_streams_text_deltas_then_finish_and_usage(upstream: Upstream) -> None:
    upstream.reply = sse(
        *text_chunks("Your order ", "has ", "shipped."), FINISH_STOP, USAGE, "[DONE]"
    )

    deltas = collect(upstream.url)

    assert [d.text for d in deltas[:-1]] == ["Your order ", "has ", "shipped."]
    assert deltas[-1] == Delta(finish_reason="stop", prompt_tokens=12, completion_tokens=3)
    headers, body = upstream.requests[0]
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body["model"] == "served-model"
    assert body["messages"] == MESSAGES
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"]) == (64, 0.0)
    assert "tools" not in body


def test_assembles_tool_calls_streamed_in_fragments(upstream: Upstream) -> None:
    def call_fragment(index: int, **function: str) -> dict[str, Any]:
        return chunk({"tool_calls": [{"index": index, "function": function}]})

    first = {"id": "call_a", "type": "function", "function": {"name": "get_order", "arguments": ""}}
    second = {"id": "call_b", "type": "function", "function": {"name": "list_orders"}}
    upstream.reply = sse(
        chunk({"role": "assistant", "content": None, "tool_calls": [{"index": 0, **first}]}),
        call_fragment(0, arguments='{"order'),
        call_fragment(0, arguments='_id": "A1'),
        call_fragment(0, arguments='001"}'),
        chunk({"tool_calls": [{"index": 1, **second}]}),
        call_fragment(1, arguments="{}"),
        chunk({}, "tool_calls"),
        USAGE,
        "[DONE]",
    )

    deltas = collect(upstream.url, tools=[GET_ORDER])

    assert deltas == [
        Delta(
            tool_calls=(
                ToolCall("call_a", "get_order", '{"order_id": "A1001"}'),
                ToolCall("call_b", "list_orders", "{}"),
            ),
            finish_reason="tool_calls",
            prompt_tokens=12,
            completion_tokens=3,
        )
    ]
    assert json.loads(deltas[0].tool_calls[0].arguments) == {"order_id": "A1001"}
    assert upstream.requests[0][1]["tools"] == [GET_ORDER]


def test_takes_whole_unindexed_tool_calls(upstream: Upstream) -> None:
    call = {"id": "call_x", "function": {"name": "get_order", "arguments": '{"order_id":"A1"}'}}
    upstream.reply = sse(chunk({"tool_calls": [call]}), chunk({}, "tool_calls"), "[DONE]")

    (final,) = collect(upstream.url, tools=[GET_ORDER])

    assert final.tool_calls == (ToolCall("call_x", "get_order", '{"order_id":"A1"}'),)
    assert final.prompt_tokens is None


def test_finish_without_done_or_usage_still_completes(upstream: Upstream) -> None:
    upstream.reply = sse(*text_chunks("Hi"), FINISH_STOP)

    deltas = collect(upstream.url)

    assert deltas == [Delta(text="Hi"), Delta(finish_reason="stop")]


# -- upstream failures -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 401])
def test_error_status_raises_with_status_and_message(upstream: Upstream, status: int) -> None:
    upstream.reply = lambda: JSONResponse(
        {"error": {"message": "no such luck", "type": "server_error"}}, status_code=status
    )

    error = upstream_error(upstream.url)

    assert error.upstream_status == status
    assert error.status_code == 502
    assert error.code == "upstream_error"
    assert f"HTTP {status}" in str(error)
    assert "no such luck" in str(error)


def test_dying_mid_stream_raises_after_the_text_so_far(upstream: Upstream) -> None:
    upstream.reply = sse(*text_chunks("Your order "), die=True)
    seen: list[str] = []

    async def scenario() -> None:
        model = remote(upstream.url)
        try:
            async for delta in model.stream(MESSAGES, max_tokens=64, temperature=0.0):
                seen.append(delta.text)
        finally:
            await model.aclose()

    started = time.monotonic()
    with pytest.raises(UpstreamError, match="connection failed") as caught:
        asyncio.run(scenario())
    assert time.monotonic() - started < 2 * TIMEOUT_S
    assert caught.value.upstream_status is None
    assert seen == ["Your order "]


def test_stall_longer_than_the_timeout_raises_in_time(upstream: Upstream) -> None:
    upstream.reply = sse(*text_chunks("Your order "), stall_s=3 * TIMEOUT_S)

    started = time.monotonic()
    error = upstream_error(upstream.url)

    assert time.monotonic() - started < 2.5 * TIMEOUT_S
    assert "ReadTimeout" in str(error)


def test_stream_ending_unfinished_raises(upstream: Upstream) -> None:
    upstream.reply = sse(*text_chunks("Your order "))

    assert "ended before the completion finished" in str(upstream_error(upstream.url))


def test_malformed_chunk_raises(upstream: Upstream) -> None:
    upstream.reply = sse(*text_chunks("Your order "), "{not json", FINISH_STOP)

    assert "malformed chunk" in str(upstream_error(upstream.url))


def test_error_event_mid_stream_raises(upstream: Upstream) -> None:
    error = {"error": {"message": "engine overloaded", "code": 503}}
    upstream.reply = sse(*text_chunks("Your order "), error, FINISH_STOP)

    assert "engine overloaded" in str(upstream_error(upstream.url))


def test_connection_refused_raises() -> None:
    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    error = upstream_error(f"http://127.0.0.1:{port}")

    assert error.upstream_status is None
    assert "connection failed" in str(error)


def test_tools_for_a_model_without_tool_calling_are_refused(upstream: Upstream) -> None:
    async def scenario() -> None:
        model = remote(upstream.url, supports_tools=False)
        try:
            with pytest.raises(ValueError, match="without tool calling"):
                await anext(
                    model.stream(MESSAGES, max_tokens=8, temperature=0.0, tools=[GET_ORDER])
                )
        finally:
            await model.aclose()

    asyncio.run(scenario())
    assert upstream.requests == []


def test_count_messages_asks_the_local_counter() -> None:
    model = remote("http://127.0.0.1:9")
    assert model.count_messages(MESSAGES) == 7
    assert model.count_messages(MESSAGES, [GET_ORDER]) == 107
    asyncio.run(model.aclose())


# -- exact prompt counting over the real model's vocabulary -----------------------------------

# A ChatML template that lists the tools in the system turn, as tool-calling models' do.
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n# Tools\n<tools>"
    "{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools><|im_end|>\n{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def encode_like_local_engine(
    model: LlamaModel, template: str | None, tools: Sequence[Mapping[str, Any]] | None = None
) -> list[int]:
    text = ChatTemplate(template, model.bos_text, model.eos_text).render(MESSAGES, tools=tools)
    ids = model.tokenize(text, add_special=False, parse_special=True)
    bos = model.tokenize("", add_special=True)
    return bos + ids if bos and (not ids or ids[0] != bos[0]) else ids


@pytest.fixture(scope="module")
def vocab(default_model_path: Path) -> Iterator[LlamaModel]:
    model = LlamaModel(default_model_path, vocab_only=True)
    yield model
    model.close()


def test_gguf_counter_counts_the_rendered_template_exactly(
    default_model_path: Path, vocab: LlamaModel
) -> None:
    counter = GGUFPromptCounter(default_model_path)
    try:
        expected = encode_like_local_engine(vocab, vocab.chat_template)
        assert counter.encode(MESSAGES) == expected
        assert counter.count(MESSAGES) == len(expected)
        template = ChatTemplate(vocab.chat_template, vocab.bos_text, vocab.eos_text)
        text = template.render(MESSAGES)  # special tokens count one each
        assert counter.count(MESSAGES) < len(vocab.tokenize(text, parse_special=False))
    finally:
        counter.close()


def test_gguf_counter_counts_tools_the_template_renders(
    default_model_path: Path, vocab: LlamaModel
) -> None:
    counter = GGUFPromptCounter(default_model_path, chat_template=TOOLS_TEMPLATE)
    try:
        with_tools = counter.count(MESSAGES, [GET_ORDER])
        assert with_tools > counter.count(MESSAGES)
        assert with_tools == len(encode_like_local_engine(vocab, TOOLS_TEMPLATE, [GET_ORDER]))
    finally:
        counter.close()


# -- the assistant over a remote model -----------------------------------------------------------


def test_assistant_turn_with_remote_function_calling(upstream: Upstream, tmp_path: Path) -> None:
    """The orchestrator offers its tools to the remote model, runs the call it streams back
    for the session's customer, and streams the model's final answer."""
    from tests.unit.assistant_rig import ALICE, ALICE_ORDER, Rig, route

    replies = [
        sse(
            chunk({"role": "assistant", "content": None}),
            chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "get_order", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"order_id": '}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": f'"{ALICE_ORDER}"}}'}}]}),
            chunk({}, "tool_calls"),
            "[DONE]",
        ),
        sse(*text_chunks("It is ", "in transit."), FINISH_STOP, USAGE, "[DONE]"),
    ]  # fmt: skip
    upstream.reply = lambda: replies[len(upstream.requests) - 1]()
    rig = Rig(tmp_path)
    rig.router.default = route(Intent.ORDER_STATUS)
    model = remote(upstream.url)
    rig.orchestrator.model = model

    async def scenario() -> list[Any]:
        try:
            request = TurnRequest(ALICE, f"Where is {ALICE_ORDER}?")
            return [event async for event in rig.orchestrator.turn(request)]
        finally:
            await model.aclose()

    events = asyncio.run(scenario())
    rig.store.close()

    assert rig.orders.calls == [("get_order", ALICE, ALICE_ORDER)]
    [result] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result.data["status"] == "in_transit"
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == "It is in transit."
    first, second = (body for _, body in upstream.requests)
    assert [t["function"]["name"] for t in first["tools"]] == [
        "get_order",
        "list_orders",
        "search_documents",
    ]
    assert second["messages"][-2]["tool_calls"][0]["function"]["arguments"] == (
        f'{{"order_id": "{ALICE_ORDER}"}}'
    )
    assert second["messages"][-1]["role"] == "tool"
    assert "status in transit" in second["messages"][-1]["content"]
