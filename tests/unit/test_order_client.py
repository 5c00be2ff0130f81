"""The Order API client over ``httpx.MockTransport``: parsing, retries, the breaker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest

from switchboard.assistant.order_client import (
    OrderClient,
    OrderSummary,
    RetryPolicy,
)
from switchboard.backoff import backoff_delay
from switchboard.circuit_breaker import BreakerState, CircuitBreaker
from switchboard.errors import OrderServiceAuthError, OrderServiceUnavailable
from switchboard.orders.dataset import generate_dataset
from switchboard.orders.service import order_detail, order_summary
from switchboard.orders.types import Order, OrderStatus

pytestmark = pytest.mark.unit

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]
ORDER = next(o for o in generate_dataset().orders if o.shipment and o.shipment.events)
POLICY = RetryPolicy(timeout_s=2.0, max_retries=2, backoff_base_s=0.1, backoff_max_s=1.0)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def not_found(code: str) -> httpx.Response:
    return httpx.Response(404, json={"error": {"message": "x", "type": "y", "code": code}})


@dataclass
class Fake:
    """A scripted transport: one response (or exception) per attempt, the last repeated."""

    script: list[httpx.Response | Exception]
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        return step

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, breaker: CircuitBreaker | None = None) -> OrderClient:
        return OrderClient(
            "http://orders.test",
            "token",
            policy=POLICY,
            breaker=breaker,
            transport=httpx.MockTransport(self.handle),
            sleep=self.sleep,
            rand=lambda: 0.5,
        )


async def get(client: OrderClient, order_id: str = ORDER.order_id) -> Order | None:
    async with client:
        return await client.get_order(ORDER.customer_id, order_id)


def test_list_orders_parses_summaries_and_sends_the_token() -> None:
    body = {"customer_id": ORDER.customer_id, "orders": [order_summary(ORDER)]}
    fake = Fake([httpx.Response(200, json=body)])

    async def call() -> list[OrderSummary]:
        async with fake.client() as client:
            return await client.list_orders(ORDER.customer_id)

    [summary] = run(call())
    assert summary.order_id == ORDER.order_id
    assert summary.status is ORDER.status
    assert summary.total_eur == ORDER.total_eur
    assert ORDER.shipment is not None
    assert summary.estimated_delivery == ORDER.shipment.estimated_delivery
    assert fake.requests[0].url.path == f"/customers/{ORDER.customer_id}/orders"
    assert fake.requests[0].headers["Authorization"] == "Bearer token"


def test_list_orders_of_an_unknown_customer_is_empty() -> None:
    fake = Fake([not_found("customer_not_found")])

    async def call() -> list[OrderSummary]:
        async with fake.client() as client:
            return await client.list_orders("nobody")

    assert run(call()) == []


def test_get_order_round_trips_the_whole_order() -> None:
    fake = Fake([httpx.Response(200, json=order_detail(ORDER))])
    assert run(get(fake.client())) == ORDER


@pytest.mark.parametrize("code", ["order_not_found", "customer_not_found"])
def test_404_is_none(code: str) -> None:
    fake = Fake([not_found(code)])
    assert run(get(fake.client())) is None
    assert len(fake.requests) == 1


def test_an_order_id_that_is_not_one_path_segment_is_none_without_a_call() -> None:
    fake = Fake([httpx.Response(200, json=order_detail(ORDER))])
    assert run(get(fake.client(), f"../../C0001/orders/{ORDER.order_id}")) is None
    assert fake.requests == []


def test_a_404_of_a_wrong_url_is_unavailable() -> None:
    fake = Fake([not_found("not_found")])
    with pytest.raises(OrderServiceUnavailable, match="404"):
        run(get(fake.client()))


def test_401_is_an_auth_error_without_retries() -> None:
    fake = Fake([httpx.Response(401, json={"error": {"code": None}})])
    with pytest.raises(OrderServiceAuthError):
        run(get(fake.client()))
    assert len(fake.requests) == 1
    assert fake.sleeps == []


def test_other_4xx_are_not_retried() -> None:
    fake = Fake([httpx.Response(422, json={}), httpx.Response(200, json=order_detail(ORDER))])
    with pytest.raises(OrderServiceUnavailable, match="422"):
        run(get(fake.client()))
    assert len(fake.requests) == 1


def test_503_twice_then_200_succeeds_after_backoff() -> None:
    fake = Fake(
        [httpx.Response(503), httpx.Response(429), httpx.Response(200, json=order_detail(ORDER))]
    )
    assert run(get(fake.client())) == ORDER
    assert len(fake.requests) == 3
    assert fake.sleeps == pytest.approx([0.05, 0.1])  # rand 0.5 * 0.1 * 2**retry


def test_timeouts_exhaust_the_retries() -> None:
    fake = Fake([httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
    with pytest.raises(OrderServiceUnavailable, match="3 attempts"):
        run(get(fake.client()))
    assert len(fake.requests) == 3
    assert len(fake.sleeps) == 2


def test_invalid_json_is_unavailable() -> None:
    fake = Fake([httpx.Response(200, text="<html>")])
    with pytest.raises(OrderServiceUnavailable, match="invalid JSON"):
        run(get(fake.client()))


def test_breaker_opens_and_refuses_without_calling() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=30, clock=lambda: clock[0])
    fake = Fake([httpx.Response(500)])
    client = fake.client(breaker)

    async def calls(n: int) -> None:
        for _ in range(n):
            with pytest.raises(OrderServiceUnavailable):
                await client.get_order(ORDER.customer_id, ORDER.order_id)

    run(calls(2))
    assert breaker.state is BreakerState.OPEN
    sent = len(fake.requests)
    assert sent == 6  # two calls of three attempts
    run(calls(3))
    assert len(fake.requests) == sent  # refused at once


def test_half_open_trial_recovers() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=30, clock=lambda: clock[0])
    fake = Fake([httpx.Response(500)])
    client = fake.client(breaker)
    with pytest.raises(OrderServiceUnavailable):
        run(client.get_order(ORDER.customer_id, ORDER.order_id))
    assert breaker.state is BreakerState.OPEN

    clock[0] = 30.0
    fake.script = [httpx.Response(200, json=order_detail(ORDER))]
    assert run(client.get_order(ORDER.customer_id, ORDER.order_id)) == ORDER
    assert breaker.state is BreakerState.CLOSED


def test_backoff_is_capped_and_jittered() -> None:
    assert backoff_delay(0, POLICY.backoff_base_s, POLICY.backoff_max_s, 0.0) == 0.0
    assert backoff_delay(10, POLICY.backoff_base_s, POLICY.backoff_max_s, 0.999) == pytest.approx(
        0.999
    )
    assert [
        backoff_delay(r, POLICY.backoff_base_s, POLICY.backoff_max_s, 1.0) for r in range(4)
    ] == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_status_values_parse_to_the_shared_enum() -> None:
    body = {"customer_id": "c", "orders": [{**order_summary(ORDER), "status": "lost"}]}
    fake = Fake([httpx.Response(200, json=body)])

    async def call() -> list[OrderSummary]:
        async with fake.client() as client:
            return await client.list_orders("c")

    assert run(call())[0].status is OrderStatus.LOST
