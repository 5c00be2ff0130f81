"""The gateway's request path over a fake provider, the in-process limiter and budget
ledger: reserve → settle arithmetic, refusals recorded, non-stream assembly, helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.config import (
    GatewaySettings,
    Price,
    ProviderSettings,
    RouteSettings,
    RouteTarget,
    TracingSettings,
)
from switchboard.errors import BudgetExceededError, RateLimitError
from switchboard.gateway.assemble import assemble_completion
from switchboard.gateway.budget import MemoryBudgetLedger
from switchboard.gateway.limiter import MemoryLimiter
from switchboard.gateway.pricing import PriceTable
from switchboard.gateway.routing import ModelRouter
from switchboard.gateway.service import Gateway, estimate_prompt_tokens
from switchboard.gateway.timing import StreamTimer
from switchboard.gateway.types import (
    ALL_SCOPES,
    Principal,
    ProviderCall,
    StreamChunk,
    Usage,
)
from switchboard.observability.log_store import LogStore
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.record import failure_kind
from switchboard.observability.tracing import Tracing

pytestmark = pytest.mark.unit

USED = Usage(prompt_tokens=5, completion_tokens=3)


def chunk(
    payload: dict[str, Any], *, tokens: bool = False, usage: Usage | None = None
) -> StreamChunk:
    return StreamChunk(json.dumps(payload).encode(), tokens=tokens, usage=usage)


class HeldProvider:
    """Streams a short answer, holding after the first token until ``release`` is set."""

    name = "fake"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def stream(self, call: ProviderCall) -> AsyncIterator[StreamChunk]:
        self.calls += 1
        head = {"id": "c1", "created": 1, "model": call.model}
        yield chunk({**head, "choices": [{"delta": {"role": "assistant", "content": ""}}]})
        yield chunk({**head, "choices": [{"delta": {"content": "Hi"}}]}, tokens=True)
        await self.release.wait()
        yield chunk({**head, "choices": [{"delta": {"content": "!"}, "finish_reason": "stop"}]},
                    tokens=True)  # fmt: skip
        yield chunk({**head, "choices": [], "usage": {"prompt_tokens": 5}}, usage=USED)

    async def aclose(self) -> None:
        return None


class NoSpend:
    def spent(self, scope: str, scope_id: str, period: str) -> float:
        return 0.0


def make_gateway(tmp_path: Path, provider: HeldProvider, prices: dict[str, Price]) -> Gateway:
    route = RouteSettings(targets=[RouteTarget(provider="fake", model="m")], ttft_deadline_s=5)
    settings = GatewaySettings()
    fake = ProviderSettings(name="fake", kind="local", max_retries=0)
    router = ModelRouter({"chat": route}, {"fake": provider}, {"fake": fake})
    return Gateway(
        settings,
        router=router,
        limiter=MemoryLimiter(),
        ledger=MemoryBudgetLedger(NoSpend()),
        prices=PriceTable(prices),
        request_log=None,
        log_store=LogStore.open(tmp_path / "gateway.sqlite3"),
        metrics=GatewayMetrics(),
        tracing=Tracing(TracingSettings()),
    )


def principal(**limits: Any) -> Principal:
    return Principal(key_id="k1", tenant="acme", scopes=ALL_SCOPES, **limits)


def body(max_tokens: int) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": max_tokens}  # fmt: skip


async def drain(gateway: Gateway, call: Any) -> list[StreamChunk]:
    """The whole answer, then the bookkeeping the HTTP layer runs after the last byte."""
    chunks = [c async for c in gateway.chunks(call)]
    assert not call.finished  # nothing settled before the answer is out
    await gateway.finish(call)
    return chunks


def test_tokens_are_reserved_up_front_and_settled_to_the_real_usage(tmp_path: Path) -> None:
    async def scenario() -> None:
        provider = HeldProvider()
        gateway = make_gateway(tmp_path, provider, {})
        key = principal(tpm=600)
        first = await gateway.open(key, body(400), endpoint="chat")  # ~410 tokens reserved
        with pytest.raises(RateLimitError) as refused:  # a burst cannot overshoot
            await gateway.open(key, body(400), endpoint="chat")
        assert refused.value.error_type == "tokens"
        provider.release.set()
        await drain(gateway, first)  # settles to 8 real tokens: ~400 come back
        again = await gateway.open(key, body(400), endpoint="chat")
        await drain(gateway, again)
        assert provider.calls == 2
        assert (first.record.prompt_tokens, first.record.completion_tokens) == (5, 3)
        await gateway.aclose()

    asyncio.run(scenario())


def test_the_worst_case_cost_is_held_until_the_real_cost_is_known(tmp_path: Path) -> None:
    async def scenario() -> None:
        provider = HeldProvider()
        prices = {"m": Price(input_per_mtok=1_000_000.0, output_per_mtok=1_000_000.0)}  # $1/token
        gateway = make_gateway(tmp_path, provider, prices)
        key = principal(budget_usd=100.0)
        first = await gateway.open(key, body(50), endpoint="chat")  # up to ~$57 held
        with pytest.raises(BudgetExceededError):
            await gateway.open(key, body(50), endpoint="chat")
        provider.release.set()
        await drain(gateway, first)
        assert first.record.cost_usd == pytest.approx(8.0)  # 5 + 3 tokens at $1
        second = await gateway.open(key, body(50), endpoint="chat")  # $8 spent + $57 fits
        await drain(gateway, second)
        assert provider.calls == 2
        await gateway.aclose()

    asyncio.run(scenario())


def test_assembling_a_stream_merges_content_and_tool_call_fragments() -> None:
    head = {"id": "c9", "created": 7, "model": "m"}
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_order", "arguments": '{"order'}}  # fmt: skip
    more = {"index": 0, "function": {"arguments": '_id": "LK-1"}'}}
    chunks = [
        {**head, "choices": [{"delta": {"role": "assistant", "content": ""}}]},
        {**head, "choices": [{"delta": {"tool_calls": [call]}}]},
        {**head, "choices": [{"delta": {"tool_calls": [more]}, "finish_reason": "tool_calls"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
    ]
    completion = assemble_completion(json.dumps(c).encode() for c in chunks)
    message = completion["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"] == {
        "name": "get_order",
        "arguments": '{"order_id": "LK-1"}',
    }
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["usage"]["completion_tokens"] == 4
    assert (completion["id"], completion["object"]) == ("c9", "chat.completion")


def test_stream_timer_measures_ttft_and_the_gaps_between_tokens() -> None:
    ticks = iter([0.0, 0.5, 0.6, 0.8, 2.0])
    timer = StreamTimer(clock=lambda: next(ticks))
    for _ in range(3):
        timer.token()
    assert timer.ttft_s == 0.5
    assert timer.gaps == pytest.approx([0.1, 0.2])
    assert timer.p99_gap_s == pytest.approx(0.2)
    assert timer.elapsed_s() == 2.0


def test_helpers_estimate_prompts_and_bound_failure_labels() -> None:
    messages = [{"role": "user", "content": "x" * 300}]
    assert estimate_prompt_tokens(messages) == 300 // 3 + 4 + 1
    assert failure_kind("HTTP 503") == "http_503"
    assert failure_kind("no first token within 2.0s") == "ttft_deadline"
    assert failure_kind("circuit open") == "circuit_open"
    assert failure_kind("connection to provider 'a' broke off (ClientPayloadError)") == "error"
