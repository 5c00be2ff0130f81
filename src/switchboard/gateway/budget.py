"""Spend budgets per key and per tenant: budget periods, holds, and the in-process ledger.

Before a request runs, the ledger *reserves* its worst-case cost (prompt + max_tokens at
the model's price) on the key's and the tenant's account of the current period, or
refuses with ``BudgetExceededError`` when spent + reserved + this cost would pass either
budget. After it, ``settle`` turns the hold into the actual spend. The persisted spend
(the request log's aggregates) seeds an account the first time it is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from switchboard.config import GatewaySettings
from switchboard.errors import BudgetExceededError
from switchboard.gateway.types import Principal
from switchboard.periods import BudgetPeriod, period_of

BudgetScope = Literal["key", "tenant"]
EPSILON_USD = 1e-9  # float slack in "would exceed"; the Redis script uses the same


class SpendSource(Protocol):
    """The persisted spend of a key or tenant in a period (a cheap point read)."""

    def spent(self, scope: BudgetScope, scope_id: str, period: str) -> float: ...


@dataclass(frozen=True)
class Charge:
    """One account a request is charged to: the key's or its tenant's, with its budget."""

    scope: BudgetScope
    scope_id: str
    budget_usd: float


@dataclass(frozen=True)
class BudgetHold:
    """A reservation of ``amount_usd`` on each of ``charges`` (none: no budget applies)."""

    period: str
    amount_usd: float
    charges: tuple[Charge, ...] = ()


class BudgetLedger(Protocol):
    async def reserve(
        self, principal: Principal, amount_usd: float, now: float | None = None
    ) -> BudgetHold: ...

    async def settle(self, hold: BudgetHold, actual_usd: float) -> None: ...

    async def aclose(self) -> None: ...


def charges_of(principal: Principal) -> tuple[Charge, ...]:
    """The accounts with a budget that a request of ``principal`` is charged to."""
    charges = []
    if principal.budget_usd is not None:
        charges.append(Charge("key", principal.key_id, principal.budget_usd))
    if principal.tenant_budget_usd is not None:
        charges.append(Charge("tenant", principal.tenant, principal.tenant_budget_usd))
    return tuple(charges)


def would_exceed(spent: float, reserved: float, amount: float, budget: float) -> bool:
    return spent + reserved + amount > budget + EPSILON_USD


def budget_exceeded(
    charge: Charge, spent: float, reserved: float, amount: float, period: BudgetPeriod
) -> BudgetExceededError:
    in_flight = f" (+{usd(reserved)} held by requests in flight)" if reserved > 0 else ""
    return BudgetExceededError(
        f"Budget exceeded for {charge.scope} {charge.scope_id}: spent {usd(spent)}{in_flight} "
        f"of {usd(charge.budget_usd)} this {period}; this request may cost up to {usd(amount)}."
    )


def usd(amount: float) -> str:
    return f"${amount:.2f}" if amount >= 0.1 or amount == 0 else f"${amount:.3g}"


def check_amount(amount_usd: float) -> None:
    if not amount_usd >= 0:  # also refuses NaN
        raise ValueError(f"a cost must be >= 0 USD, got {amount_usd}")


@dataclass
class _Account:
    spent: float
    reserved: float = 0.0


class MemoryBudgetLedger:
    """Exact spend for one process: accounts seeded once from ``source``, then kept here.

    ``reserve`` has no await between reading and writing, so concurrent requests cannot
    overshoot a budget. Accounts of past periods are dropped once nothing holds them.
    """

    def __init__(self, source: SpendSource, period: BudgetPeriod = "month") -> None:
        self._source = source
        self._period = period
        self._accounts: dict[tuple[BudgetScope, str, str], _Account] = {}
        self._current = ""

    def __len__(self) -> int:
        return len(self._accounts)

    async def reserve(
        self, principal: Principal, amount_usd: float, now: float | None = None
    ) -> BudgetHold:
        check_amount(amount_usd)
        period = period_of(time.time() if now is None else now, self._period)
        charges = charges_of(principal)
        if not charges:
            return BudgetHold(period, amount_usd)
        self._forget_past(period)
        accounts = [self._account(c, period) for c in charges]
        for charge, account in zip(charges, accounts, strict=True):
            if would_exceed(account.spent, account.reserved, amount_usd, charge.budget_usd):
                raise budget_exceeded(
                    charge, account.spent, account.reserved, amount_usd, self._period
                )
        for account in accounts:
            account.reserved += amount_usd
        return BudgetHold(period, amount_usd, charges)

    async def settle(self, hold: BudgetHold, actual_usd: float) -> None:
        check_amount(actual_usd)
        for charge in hold.charges:
            key = (charge.scope, charge.scope_id, hold.period)
            account = self._accounts.get(key)
            if account is None:
                continue
            account.reserved = max(0.0, account.reserved - hold.amount_usd)
            account.spent += actual_usd
            if hold.period != self._current and account.reserved == 0:
                del self._accounts[key]  # a past period, no longer held

    async def aclose(self) -> None:
        self._accounts.clear()

    def _account(self, charge: Charge, period: str) -> _Account:
        key = (charge.scope, charge.scope_id, period)
        account = self._accounts.get(key)
        if account is None:
            account = _Account(self._source.spent(charge.scope, charge.scope_id, period))
            self._accounts[key] = account
        return account

    def _forget_past(self, period: str) -> None:
        if period == self._current:
            return
        self._current = period
        self._accounts = {
            k: a for k, a in self._accounts.items() if k[2] == period or a.reserved > 0
        }


def _redis_ledger(settings: GatewaySettings, source: SpendSource) -> BudgetLedger:
    # imported on use: the Redis backend builds on this module
    from switchboard.gateway.redis_limiter import RedisBudgetLedger

    return RedisBudgetLedger(settings.limits.redis_url, source, settings.budget_period)


_LEDGERS: dict[str, Callable[[GatewaySettings, SpendSource], BudgetLedger]] = {
    "memory": lambda settings, source: MemoryBudgetLedger(source, settings.budget_period),
    "redis": _redis_ledger,
}


def open_budget_ledger(settings: GatewaySettings, source: SpendSource) -> BudgetLedger:
    """The ledger of ``settings.limits.backend`` over the persisted spend ``source``;
    creating it connects to nothing yet."""
    return _LEDGERS[settings.limits.backend](settings, source)
