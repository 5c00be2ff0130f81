"""Rate limits and budgets shared by every gateway replica, kept in Redis by Lua scripts.

Each script reads, decides and writes in one step on the Redis server, so replicas never
race. The rate-limit scripts mirror ``ratelimit``'s arithmetic and use Redis ``TIME``,
one clock for all replicas; bucket hashes expire once they would be full again. Budget
accounts are hashes (spent, reserved) per scope and period, seeded from the persisted
spend on first use and expired a day after their period ends.

Fail closed: when Redis cannot be reached, ``reserve`` raises
``DependencyUnavailableError`` (503) within the socket timeouts. ``settle`` only logs
then: a missed refund errs on the safe side (the worst case stays counted). Each client's
calls are watched (``service``, for ``/health``): the log says once that Redis is down and
once that it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from switchboard.errors import DependencyUnavailableError, RateLimitError
from switchboard.gateway.budget import (
    BudgetHold,
    SpendSource,
    budget_exceeded,
    charges_of,
    check_amount,
)
from switchboard.gateway.ratelimit import (
    Bucket,
    Reservation,
    admit,
    check_limits,
    request_too_large,
)
from switchboard.gateway.types import Principal
from switchboard.health import ServiceWatch, Status
from switchboard.periods import BudgetPeriod, period_end, period_of

log = logging.getLogger(__name__)

RATE_PREFIX = "sb:rl:"
BUDGET_PREFIX = "sb:budget:"
BUDGET_GRACE_S = 86_400.0  # accounts outlive their period by a day

_LUA_COMMON = """
local function clock(arg)
  if arg ~= "" then return tonumber(arg) end
  local t = redis.call("TIME")
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function level_at(level, at, cap, now)
  if not level or not at then return cap end
  return math.min(cap, level + math.max(0, now - at) * cap / 60)
end
local function f(x) return string.format("%.17g", x) end
"""

# KEYS[1]: the key's buckets (rl/ra, tl/ta: level and time). ARGV: rpm, tpm ("" = no
# limit), tokens, now ("" = Redis TIME). Returns {admitted, rpm level, tpm level, now},
# the levels as they were before this request (for the client's error or headers).
_RESERVE = (
    _LUA_COMMON
    + """
local now = clock(ARGV[4])
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call("HMGET", KEYS[1], "rl", "ra", "tl", "ta")
local ok, out_r, out_t, idle = true, "", "", 0
local rl, tl
if rpm then
  rl = level_at(tonumber(h[1]), tonumber(h[2]), rpm, now)
  ok = ok and rl + 1e-9 >= 1
  out_r = f(rl)
end
if tpm then
  tl = level_at(tonumber(h[3]), tonumber(h[4]), tpm, now)
  ok = ok and tokens <= tpm and tl + 1e-9 >= tokens
  out_t = f(tl)
end
if not ok then return {0, out_r, out_t, f(now)} end
if rpm then
  redis.call("HSET", KEYS[1], "rl", f(rl - 1), "ra", f(now))
  idle = math.max(idle, (rpm - rl + 1) * 60 / rpm)
end
if tpm then
  redis.call("HSET", KEYS[1], "tl", f(tl - tokens), "ta", f(now))
  idle = math.max(idle, (tpm - tl + tokens) * 60 / tpm)
end
local ttl = math.ceil(idle * 1000) + 1000  -- only ever extended: the other bucket may need longer
if redis.call("PTTL", KEYS[1]) < ttl then redis.call("PEXPIRE", KEYS[1], ttl) end
return {1, out_r, out_t, f(now)}
"""
)

# KEYS[1]: the key's buckets. ARGV: tpm, tokens to give back (negative: charge), now.
_SETTLE = (
    _LUA_COMMON
    + """
local now = clock(ARGV[3])
local tpm, amount = tonumber(ARGV[1]), tonumber(ARGV[2])
local h = redis.call("HMGET", KEYS[1], "tl", "ta")
local tl = math.min(tpm, level_at(tonumber(h[1]), tonumber(h[2]), tpm, now) + amount)
if tl >= tpm and redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "tl", f(tl), "ta", f(now))
local need = math.ceil((tpm - tl) * 60000 / tpm) + 1000
if redis.call("PTTL", KEYS[1]) < need then redis.call("PEXPIRE", KEYS[1], need) end
return 1
"""
)

# KEYS: accounts (hash spent/reserved). ARGV: amount, ttl_ms, then budget and seed per
# key (seed "" = not read yet). Returns {1} reserved on all, {0, i, spent, reserved}
# refused by KEYS[i], or {-1, i...}: these accounts are missing, send their seeds.
_BUDGET_RESERVE = """
local function f(x) return string.format("%.17g", x) end
local amount, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local missing = {}
for i, key in ipairs(KEYS) do
  if redis.call("EXISTS", key) == 0 then
    local seed = ARGV[2 + 2 * i]
    if seed == "" then
      table.insert(missing, i)
    else
      redis.call("HSET", key, "spent", seed, "reserved", "0")
      redis.call("PEXPIRE", key, ttl)
    end
  end
end
if #missing > 0 then return {-1, unpack(missing)} end
local state = {}
for i, key in ipairs(KEYS) do
  local spent = tonumber(redis.call("HGET", key, "spent")) or 0
  local reserved = tonumber(redis.call("HGET", key, "reserved")) or 0
  if spent + reserved + amount > tonumber(ARGV[1 + 2 * i]) + 1e-9 then
    return {0, i, f(spent), f(reserved)}
  end
  state[i] = reserved
end
for i, key in ipairs(KEYS) do
  redis.call("HSET", key, "reserved", f(state[i] + amount))
  redis.call("PEXPIRE", key, ttl)
end
return {1}
"""

# KEYS: accounts. ARGV: the amount held, the actual cost. Missing accounts are skipped:
# they will be seeded again from the persisted spend, which includes this request.
_BUDGET_SETTLE = """
local function f(x) return string.format("%.17g", x) end
local held, actual = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call("EXISTS", key) == 1 then
    local spent = tonumber(redis.call("HGET", key, "spent")) or 0
    local reserved = tonumber(redis.call("HGET", key, "reserved")) or 0
    redis.call("HSET", key, "spent", f(spent + actual), "reserved", f(math.max(0, reserved - held)))
  end
end
return 1
"""


class _Redis:
    """A Redis client that fails fast, and reports failures as 503 errors."""

    def __init__(self, url: str, what: str, timeout_s: float) -> None:
        self._what = what
        self.service = ServiceWatch(
            what.replace(" ", "_"),
            url,
            failing=Status.DOWN,
            consequence="requests are refused (503) until it answers",
            log=log,
        )
        self._timeout_s = timeout_s
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            async with asyncio.timeout(3 * self._timeout_s):
                reply = await script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as e:
            failure = f"Redis at {self.service.url} did not answer ({type(e).__name__})"
            self.service.failed(failure)
            raise DependencyUnavailableError(
                f"The {self._what} is unavailable: {failure}. Please retry later."
            ) from e
        self.service.succeeded()
        return reply

    async def aclose(self) -> None:
        await self.client.aclose()


class RedisLimiter:
    """Rate limits shared by all replicas through one Redis.

    ``clock`` is for tests only: without it the scripts use the Redis server's ``TIME``.
    """

    def __init__(
        self, url: str, *, timeout_s: float = 1.0, clock: Callable[[], float] | None = None
    ) -> None:
        self._redis = _Redis(url, "rate limiter", timeout_s)
        self._reserve = self._redis.client.register_script(_RESERVE)
        self._settle = self._redis.client.register_script(_SETTLE)
        self._clock = clock

    async def reserve(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> Reservation:
        check_limits(rpm, tpm, tokens)
        if rpm is None and tpm is None:
            return Reservation(key_id, tokens, None, None)
        if tpm is not None and tokens > tpm:
            raise request_too_large(tpm, tokens)
        reply = await self._redis.run(
            self._reserve,
            [RATE_PREFIX + key_id],
            [_arg(rpm), _arg(tpm), tokens, self._now()],
        )
        admitted, r_level, t_level, now = int(reply[0]), reply[1], reply[2], float(reply[3])
        try:
            admission = admit(
                key_id, rpm, tpm, tokens, _bucket(r_level, now), _bucket(t_level, now), now
            )
        except RateLimitError:
            if admitted:  # cannot happen: the script and ``admit`` test the same numbers
                log.warning("rate limit scripts and arithmetic disagree for %s", key_id)
            raise
        if not admitted:  # cannot happen either; the script's refusal stands
            raise RateLimitError(
                "Rate limit reached. Please try again in 1s.",
                limit_type="requests",
                retry_after_s=1.0,
            )
        return admission.reservation

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None:
        if actual_tokens < 0:
            raise ValueError(f"actual_tokens must be >= 0, got {actual_tokens}")
        if reservation.tpm is None or actual_tokens == reservation.tokens:
            return
        args = [reservation.tpm, reservation.tokens - actual_tokens, self._now()]
        try:
            await self._redis.run(self._settle, [RATE_PREFIX + reservation.key_id], args)
        except DependencyUnavailableError as e:
            log.warning("rate limit not settled for %s: %s", reservation.key_id, e)

    @property
    def service(self) -> ServiceWatch:
        return self._redis.service

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _now(self) -> str:
        return "" if self._clock is None else repr(float(self._clock()))


class RedisBudgetLedger:
    """Budget accounts shared by all replicas through one Redis."""

    def __init__(
        self,
        url: str,
        source: SpendSource,
        period: BudgetPeriod = "month",
        *,
        timeout_s: float = 1.0,
    ) -> None:
        self._redis = _Redis(url, "budget ledger", timeout_s)
        self._reserve = self._redis.client.register_script(_BUDGET_RESERVE)
        self._settle = self._redis.client.register_script(_BUDGET_SETTLE)
        self._source = source
        self._period = period

    async def reserve(
        self, principal: Principal, amount_usd: float, now: float | None = None
    ) -> BudgetHold:
        check_amount(amount_usd)
        now = time.time() if now is None else now
        period = period_of(now, self._period)
        charges = charges_of(principal)
        if not charges:
            return BudgetHold(period, amount_usd)
        keys = [_budget_key(c.scope, c.scope_id, period) for c in charges]
        ttl_ms = round(
            1000 * (max(0.0, period_end(now, self._period) - time.time()) + BUDGET_GRACE_S)
        )
        seeds = [""] * len(charges)
        for _ in range(3):
            args: list[Any] = [repr(amount_usd), ttl_ms]
            for charge, seed in zip(charges, seeds, strict=True):
                args += [repr(charge.budget_usd), seed]
            reply = await self._redis.run(self._reserve, keys, args)
            status = int(reply[0])
            if status == 1:
                return BudgetHold(period, amount_usd, charges)
            if status == 0:
                charge = charges[int(reply[1]) - 1]
                spent, reserved = float(reply[2]), float(reply[3])
                raise budget_exceeded(charge, spent, reserved, amount_usd, self._period)
            for i in reply[1:]:
                c = charges[int(i) - 1]
                seeds[int(i) - 1] = repr(float(self._source.spent(c.scope, c.scope_id, period)))
        raise DependencyUnavailableError("The budget ledger could not seed its accounts in Redis.")

    async def settle(self, hold: BudgetHold, actual_usd: float) -> None:
        check_amount(actual_usd)
        if not hold.charges:
            return
        keys = [_budget_key(c.scope, c.scope_id, hold.period) for c in hold.charges]
        try:
            await self._redis.run(self._settle, keys, [repr(hold.amount_usd), repr(actual_usd)])
        except DependencyUnavailableError as e:
            log.warning("budget not settled for %s: %s", keys, e)

    @property
    def service(self) -> ServiceWatch:
        return self._redis.service

    async def aclose(self) -> None:
        await self._redis.aclose()


def _budget_key(scope: str, scope_id: str, period: str) -> str:
    return f"{BUDGET_PREFIX}{scope}:{period}:{scope_id}"


def _arg(limit: int | None) -> str:
    return "" if limit is None else str(limit)


def _bucket(level: bytes, now: float) -> Bucket | None:
    return Bucket(float(level), now) if level else None
