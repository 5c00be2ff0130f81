"""Rate limiters: the protocol the gateway calls, the in-process backend, and the factories.

``reserve`` admits a request against its key's RPM/TPM buckets (charging 1 request and
prompt + max_tokens tokens) or raises ``RateLimitError``; ``settle`` refunds the tokens
the request did not use. ``MemoryLimiter`` serves one process; ``RedisLimiter``
(``redis_limiter``) shares limits between replicas; ``open_limiter`` picks one from the
configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from switchboard.config import LimitSettings
from switchboard.gateway.ratelimit import (
    Bucket,
    Reservation,
    admit,
    check_limits,
    rate_limit_headers,
    refund,
)
from switchboard.gateway.redis_limiter import RedisLimiter

__all__ = [
    "MemoryLimiter",
    "RateLimiter",
    "RedisLimiter",
    "Reservation",
    "open_limiter",
    "rate_limit_headers",
]


class RateLimiter(Protocol):
    async def reserve(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> Reservation: ...

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class _KeyState:
    requests: Bucket | None
    tokens: Bucket | None
    idle_at: float  # both buckets are full from then on: the state may be dropped


_FORGOTTEN = _KeyState(None, None, 0.0)  # a key never seen, or dropped when full


class MemoryLimiter:
    """Limits for one process: a dict of bucket states, updated with no await in between.

    Keys whose buckets have refilled are dropped in sweeps that run whenever the dict has
    doubled since the last one, so memory follows the number of recently active keys.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, min_sweep_size: int = 1024
    ) -> None:
        self._clock = clock
        self._states: dict[str, _KeyState] = {}
        self._min_sweep_size = min_sweep_size
        self._sweep_at = min_sweep_size

    def __len__(self) -> int:
        return len(self._states)

    async def reserve(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> Reservation:
        check_limits(rpm, tpm, tokens)
        if rpm is None and tpm is None:
            return Reservation(key_id, tokens, None, None)
        now = self._clock()
        state = self._states.get(key_id, _FORGOTTEN)
        admission = admit(key_id, rpm, tpm, tokens, state.requests, state.tokens, now)
        reservation = admission.reservation
        # A limit this call does not check (``None``) keeps its bucket as it was: a
        # request-only count must not reset the key's token bucket or its debt.
        requests = admission.requests if rpm is not None else state.requests
        tokens_bucket = admission.tokens if tpm is not None else state.tokens
        idle_at = max(state.idle_at, now + reservation.idle_after_s)
        self._store(key_id, _KeyState(requests, tokens_bucket, idle_at), now)
        return reservation

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None:
        if actual_tokens < 0:
            raise ValueError(f"actual_tokens must be >= 0, got {actual_tokens}")
        tpm = reservation.tpm
        if tpm is None or actual_tokens == reservation.tokens:
            return
        now = self._clock()
        state = self._states.get(reservation.key_id)
        bucket = refund(
            state.tokens if state else None, tpm, now, reservation.tokens - actual_tokens
        )
        idle_at = now + (tpm - bucket.level) * 60.0 / tpm
        if state is not None:
            idle_at = max(idle_at, state.idle_at)
            self._store(reservation.key_id, _KeyState(state.requests, bucket, idle_at), now)
        elif bucket.level < tpm:  # forgotten (full) and now in debt: remember the debt
            self._store(reservation.key_id, _KeyState(None, bucket, idle_at), now)

    async def aclose(self) -> None:
        self._states.clear()

    def _store(self, key_id: str, state: _KeyState, now: float) -> None:
        self._states[key_id] = state
        if len(self._states) >= self._sweep_at:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._states = {k: s for k, s in self._states.items() if s.idle_at > now}
        self._sweep_at = max(self._min_sweep_size, 2 * len(self._states))


_LIMITERS: dict[str, Callable[[LimitSettings], RateLimiter]] = {
    "memory": lambda settings: MemoryLimiter(),
    "redis": lambda settings: RedisLimiter(settings.redis_url),
}


def open_limiter(settings: LimitSettings) -> RateLimiter:
    """The limiter of ``settings.backend``; creating it connects to nothing yet."""
    return _LIMITERS[settings.backend](settings)
