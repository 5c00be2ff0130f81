"""Budget periods and the in-process budget ledger, over a dict of persisted spend."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from switchboard.config import GatewaySettings, LimitSettings
from switchboard.errors import BudgetExceededError
from switchboard.gateway.budget import (
    BudgetScope,
    MemoryBudgetLedger,
    open_budget_ledger,
)
from switchboard.gateway.redis_limiter import RedisBudgetLedger
from switchboard.gateway.types import ALL_SCOPES, Principal
from switchboard.periods import parse_period, period_end, period_of

pytestmark = pytest.mark.unit

T = TypeVar("T")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Spend:
    """The persisted spend, as the request log's aggregates would report it."""

    def __init__(self, values: dict[tuple[str, str, str], float] | None = None) -> None:
        self.values = values or {}
        self.reads: list[tuple[str, str, str]] = []

    def spent(self, scope: BudgetScope, scope_id: str, period: str) -> float:
        self.reads.append((scope, scope_id, period))
        return self.values.get((scope, scope_id, period), 0.0)


def principal(
    key: str = "sb-k1", budget: float | None = None, tenant_budget: float | None = None
) -> Principal:
    return Principal(key, "acme", ALL_SCOPES, budget_usd=budget, tenant_budget_usd=tenant_budget)


# --- periods -------------------------------------------------------------------------


def test_period_of_is_the_utc_day_or_month() -> None:
    assert period_of(NOW, "month") == "2026-11"
    assert period_of(NOW, "day") == "2026-11-25"
    last_second = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC).timestamp()
    assert period_of(last_second, "month") == "2026-11"
    assert period_of(last_second + 1, "month") == "2026-12"


def test_period_end() -> None:
    assert period_end(NOW, "day") == datetime(2026, 11, 26, tzinfo=UTC).timestamp()
    assert period_end(NOW, "month") == datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    december = datetime(2026, 12, 31, 23, tzinfo=UTC).timestamp()
    assert period_end(december, "month") == datetime(2027, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "2026-11"),
        ("month", "2026-11"),
        ("day", "2026-11-25"),
        ("2026-10", "2026-10"),
        ("2026-02-28", "2026-02-28"),
    ],
)
def test_parse_period_names_the_current_day_or_month_or_an_explicit_one(
    text: str | None, expected: str
) -> None:
    assert parse_period(text, NOW) == expected


@pytest.mark.parametrize(
    "text", ["", "week", "today", "Day", "2026-1", "2026-13", "2026-02-30", "2026-11-5", "2026/11"]
)
def test_parse_period_refuses_anything_else_naming_the_formats(text: str) -> None:
    with pytest.raises(ValueError, match="'day', 'month', YYYY-MM-DD or YYYY-MM"):
        parse_period(text, NOW)


# --- MemoryBudgetLedger --------------------------------------------------------------


def test_no_budget_is_a_no_op_hold() -> None:
    source = Spend()
    ledger = MemoryBudgetLedger(source)
    hold = run(ledger.reserve(principal(), 1e6, now=NOW))
    assert hold.charges == ()
    run(ledger.settle(hold, 1e6))
    assert source.reads == []
    assert len(ledger) == 0


def test_refuses_what_would_pass_the_key_budget() -> None:
    source = Spend({("key", "sb-k1", "2026-11"): 9.5})
    ledger = MemoryBudgetLedger(source, "month")
    p = principal(budget=10.0)

    async def scenario() -> None:
        await ledger.reserve(p, 0.4, now=NOW)
        with pytest.raises(BudgetExceededError) as info:
            await ledger.reserve(p, 0.2, now=NOW)
        assert info.value.status_code == 429
        assert info.value.message == (
            "Budget exceeded for key sb-k1: spent $9.50 (+$0.40 held by requests in flight) "
            "of $10.00 this month; this request may cost up to $0.20."
        )
        await ledger.reserve(p, 0.1, now=NOW)  # exactly up to the budget passes

    run(scenario())


def test_seeds_each_account_once_per_period() -> None:
    source = Spend({("key", "sb-k1", "2026-11"): 1.0, ("key", "sb-k1", "2026-12"): 5.0})
    ledger = MemoryBudgetLedger(source)
    p = principal(budget=5.5)
    december = datetime(2026, 12, 2, tzinfo=UTC).timestamp()

    async def scenario() -> None:
        for _ in range(3):
            await ledger.settle(await ledger.reserve(p, 0.1, now=NOW), 0.1)
        await ledger.reserve(p, 0.5, now=december)  # December starts at its persisted 5.0
        with pytest.raises(BudgetExceededError):
            await ledger.reserve(p, 0.01, now=december)

    run(scenario())
    assert source.reads == [("key", "sb-k1", "2026-11"), ("key", "sb-k1", "2026-12")]


def test_settle_moves_the_hold_to_the_actual_spend() -> None:
    ledger = MemoryBudgetLedger(Spend())
    p = principal(budget=1.0)

    async def scenario() -> None:
        hold = await ledger.reserve(p, 0.9, now=NOW)
        with pytest.raises(BudgetExceededError):
            await ledger.reserve(p, 0.2, now=NOW)
        await ledger.settle(hold, 0.3)  # it cost less than the worst case
        await ledger.reserve(p, 0.7, now=NOW)
        with pytest.raises(BudgetExceededError, match=r"spent \$0.30 "):
            await ledger.reserve(p, 0.01, now=NOW)

    run(scenario())


def test_tenant_budget_binds_across_keys_and_refusal_reserves_nothing() -> None:
    ledger = MemoryBudgetLedger(Spend({("tenant", "acme", "2026-11"): 8.0}))
    a = principal("sb-a", budget=5.0, tenant_budget=10.0)
    b = principal("sb-b", budget=5.0, tenant_budget=10.0)

    async def scenario() -> None:
        await ledger.reserve(a, 1.5, now=NOW)
        with pytest.raises(BudgetExceededError, match="for tenant acme"):
            await ledger.reserve(b, 1.0, now=NOW)
        # b's refused request held nothing on b's key: b can still spend up to the tenant
        await ledger.reserve(b, 0.5, now=NOW)

    run(scenario())


def test_key_budget_refusal_holds_nothing_on_the_tenant() -> None:
    ledger = MemoryBudgetLedger(Spend())
    small = principal("sb-small", budget=1.0, tenant_budget=3.0)
    other = principal("sb-other", tenant_budget=3.0)

    async def scenario() -> None:
        with pytest.raises(BudgetExceededError, match="for key sb-small"):
            await ledger.reserve(small, 2.0, now=NOW)
        await ledger.reserve(other, 3.0, now=NOW)  # the tenant's budget is untouched

    run(scenario())


def test_concurrent_reservations_cannot_overshoot() -> None:
    ledger = MemoryBudgetLedger(Spend())
    p = principal(budget=1.0, tenant_budget=100.0)

    async def one() -> bool:
        await asyncio.sleep(0)
        try:
            await ledger.reserve(p, 0.15, now=NOW)
        except BudgetExceededError:
            return False
        return True

    async def scenario() -> list[bool]:
        return await asyncio.gather(*(one() for _ in range(40)))

    assert sum(run(scenario())) == 6  # 6 * 0.15 = 0.9 <= 1.0 < 1.05


def test_past_periods_are_forgotten_once_settled() -> None:
    ledger = MemoryBudgetLedger(Spend(), "day")
    p = principal(budget=10.0)

    async def scenario() -> None:
        held = await ledger.reserve(p, 1.0, now=NOW)
        for day in range(1, 5):
            await ledger.settle(await ledger.reserve(p, 1.0, now=NOW + day * 86_400), 1.0)
        assert len(ledger) == 2  # today, and the day still held
        await ledger.settle(held, 1.0)
        assert len(ledger) == 1

    run(scenario())


def test_negative_amounts_are_refused() -> None:
    ledger = MemoryBudgetLedger(Spend())
    with pytest.raises(ValueError, match=">= 0"):
        run(ledger.reserve(principal(budget=1.0), -0.1, now=NOW))
    with pytest.raises(ValueError, match=">= 0"):
        run(ledger.reserve(principal(budget=1.0), float("nan"), now=NOW))


def test_open_budget_ledger_picks_the_backend() -> None:
    memory = open_budget_ledger(GatewaySettings(), Spend())
    assert isinstance(memory, MemoryBudgetLedger)
    settings = GatewaySettings(limits=LimitSettings(backend="redis"), budget_period="day")
    redis = open_budget_ledger(settings, Spend())
    assert isinstance(redis, RedisBudgetLedger)
    run(redis.aclose())
