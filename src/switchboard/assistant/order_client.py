"""The assistant's async client of the Order API: retries, backoff, a circuit breaker.

Each attempt has its own timeout; connect errors, timeouts, 5xx and 429 are retried up to
``RetryPolicy.max_retries`` times with exponential backoff and full jitter; other 4xx are
not. A call that exhausts its attempts, or that the open breaker refuses, raises
``OrderServiceUnavailable``: the assistant then says the order system is down and offers
a handoff, never a guessed status. 401 raises ``OrderServiceAuthError`` (configuration).
A 404 of an order is ``None``: missing and another customer's look the same, on purpose.

The JSON is parsed into ``switchboard.orders.types`` records; the service's database is
never imported.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from switchboard.backoff import backoff_delay
from switchboard.circuit_breaker import CircuitBreaker
from switchboard.config import OrdersSettings
from switchboard.errors import CircuitOpenError, OrderServiceAuthError, OrderServiceUnavailable
from switchboard.orders.types import Event, Item, Order, OrderStatus, Shipment

OrderDetail = Order  # the whole order, items, shipment and tracking events
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
NOT_FOUND_CODES = frozenset({"order_not_found", "customer_not_found"})


@dataclass(frozen=True)
class OrderSummary:
    """One line of ``GET /customers/{id}/orders``."""

    order_id: str
    placed_at: datetime
    status: OrderStatus
    total_eur: float
    item_count: int
    carrier: str | None
    tracking_number: str | None
    estimated_delivery: date | None


@dataclass(frozen=True)
class RetryPolicy:
    timeout_s: float = 2.0  # per attempt
    max_retries: int = 2  # so at most 1 + max_retries attempts
    backoff_base_s: float = 0.2
    backoff_max_s: float = 2.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_retries < 0 or self.backoff_base_s < 0:
            raise ValueError(f"invalid retry policy: {self}")


class OrderClient:
    """Async; use ``async with`` or call ``aclose()``. Safe to share between tasks."""

    def __init__(
        self,
        base_url: str,
        service_token: str,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        self._rand = rand
        self._service_token = service_token
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {service_token}"},
            timeout=self.policy.timeout_s,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: OrdersSettings, **kwargs: Any) -> OrderClient:
        url = f"http://{settings.host}:{settings.port}"
        return cls(url, settings.service_token, **kwargs)

    @property
    def base_url(self) -> str:
        """The Order API's address, e.g. ``http://127.0.0.1:8081``."""
        return str(self._http.base_url).rstrip("/")

    @property
    def service_token(self) -> str:
        """The bearer token it calls with (a running supervisor's fresh one)."""
        return self._service_token

    async def __aenter__(self) -> OrderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_customers(self) -> list[dict[str, Any]]:
        """The demo directory: ``[{"customer_id", "name", "orders": [{"order_id", "status"}]}]``."""
        body = _json(await self._get("/customers"))
        customers = body.get("customers") if isinstance(body, dict) else None
        if not isinstance(customers, list):
            raise OrderServiceUnavailable("malformed customer list from the Order API")
        return customers

    async def list_orders(self, customer_id: str) -> list[OrderSummary]:
        """Newest first; an unknown customer has no orders."""
        response = await self._get(f"/customers/{_segment(customer_id)}/orders")
        if response.status_code == 404:
            return []
        return [_summary(row) for row in _json(response)["orders"]]

    async def get_order(self, customer_id: str, order_id: str) -> OrderDetail | None:
        """The order, or None if it does not exist or is not this customer's."""
        if not _is_segment(order_id):  # e.g. "../C0002/orders/X" from a chat message
            return None
        response = await self._get(f"/customers/{_segment(customer_id)}/orders/{quote(order_id)}")
        return None if response.status_code == 404 else _order(_json(response))

    async def _get(self, path: str) -> httpx.Response:
        """A 2xx or a known 404; every other outcome raises."""
        try:
            self.breaker.before_call()
        except CircuitOpenError as exc:
            raise OrderServiceUnavailable(f"the order system is unavailable ({exc})") from exc
        try:
            response = await self._get_with_retries(path)
        except OrderServiceUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()  # it answered, even if not what we wanted
        return _checked(response)

    async def _get_with_retries(self, path: str) -> httpx.Response:
        failure = ""
        for retry in range(self.policy.max_retries + 1):
            if retry:
                await self._sleep(
                    backoff_delay(
                        retry - 1,
                        self.policy.backoff_base_s,
                        self.policy.backoff_max_s,
                        self._rand(),
                    )
                )
            try:
                response = await self._http.get(path)
            except httpx.TransportError as exc:  # timeouts and connect errors included
                failure = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code not in RETRYABLE_STATUS:
                return response
            failure = f"HTTP {response.status_code}"
        attempts = self.policy.max_retries + 1
        raise OrderServiceUnavailable(
            f"the order system did not answer after {attempts} attempts ({failure})"
        )


def _is_segment(value: str) -> bool:
    return value not in ("", ".", "..") and "/" not in value


def _segment(value: str) -> str:
    """``value`` as one URL path segment; raise ``ValueError`` if it cannot be one."""
    if not _is_segment(value):
        raise ValueError(f"not usable as a path segment: {value!r}")
    return quote(value)


def _checked(response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status == 401:
        raise OrderServiceAuthError("the Order API refused the service token (HTTP 401)")
    if status == 404 and _error_code(response) in NOT_FOUND_CODES:
        return response
    if not response.is_success:  # another 4xx, or a 404 of a wrong URL: not ours to retry
        raise OrderServiceUnavailable(f"the Order API answered HTTP {status} unexpectedly")
    return response


def _error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise OrderServiceUnavailable("the Order API answered with invalid JSON") from exc


def _summary(row: dict[str, Any]) -> OrderSummary:
    try:
        delivery = row["estimated_delivery"]
        return OrderSummary(
            order_id=row["order_id"],
            placed_at=datetime.fromisoformat(row["placed_at"]),
            status=OrderStatus(row["status"]),
            total_eur=float(row["total_eur"]),
            item_count=int(row["item_count"]),
            carrier=row["carrier"],
            tracking_number=row["tracking_number"],
            estimated_delivery=None if delivery is None else date.fromisoformat(delivery),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OrderServiceUnavailable(f"malformed order summary from the Order API: {exc}") from exc


def _order(body: dict[str, Any]) -> Order:
    try:
        shipment = body["shipment"]
        return Order(
            order_id=body["order_id"],
            customer_id=body["customer_id"],
            placed_at=datetime.fromisoformat(body["placed_at"]),
            status=OrderStatus(body["status"]),
            items=tuple(Item(**item) for item in body["items"]),
            shipment=None if shipment is None else _shipment(shipment),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OrderServiceUnavailable(f"malformed order from the Order API: {exc}") from exc


def _shipment(body: dict[str, Any]) -> Shipment:
    return Shipment(
        carrier=body["carrier"],
        tracking_number=body["tracking_number"],
        shipped_at=datetime.fromisoformat(body["shipped_at"]),
        estimated_delivery=date.fromisoformat(body["estimated_delivery"]),
        events=tuple(
            Event(datetime.fromisoformat(e["at"]), e["location"], e["description"])
            for e in body["events"]
        ),
    )
