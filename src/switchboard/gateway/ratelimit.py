"""Token-bucket arithmetic for per-key rate limits: pure functions, no clock, no I/O.

Each key has up to two buckets, requests per minute (RPM) and tokens per minute (TPM).
A bucket holds at most its limit and refills at limit/60 per second. A request is
admitted only if both buckets hold enough (1 request, and prompt + max_tokens tokens);
then both are charged at once, so a burst never overshoots. Settling refunds what the
request did not use, or charges extra, putting the bucket into debt (a negative level)
that later requests wait out. The memory and Redis limiters both use these functions
(the Redis Lua scripts mirror ``level_at`` and the admission test exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from switchboard.errors import RateLimitError

MINUTE_S = 60.0
EPSILON = 1e-9  # float slack in "holds enough"; the Lua scripts use the same


class LimitType(StrEnum):
    """OpenAI's rate-limit types, also the ``type`` of the 429 error."""

    REQUESTS = "requests"
    TOKENS = "tokens"


_LABELS = {
    LimitType.REQUESTS: "requests per min (RPM)",
    LimitType.TOKENS: "tokens per min (TPM)",
}


@dataclass(frozen=True)
class Bucket:
    """A bucket's level at time ``at`` (limiter clock seconds); negative means debt."""

    level: float
    at: float


@dataclass(frozen=True)
class Reservation:
    """What ``reserve`` took for one request; ``settle`` needs it, headers come from it.

    ``remaining_*``/``reset_*_s`` describe the buckets right after admission (``None`` and
    0.0 for a limit that is off); ``reset`` is the time until the bucket is full again.
    """

    key_id: str
    tokens: int
    rpm: int | None
    tpm: int | None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float = 0.0
    reset_tokens_s: float = 0.0

    @property
    def idle_after_s(self) -> float:
        """Seconds until both buckets are full, after which the state can be forgotten."""
        return max(self.reset_requests_s, self.reset_tokens_s)


@dataclass(frozen=True)
class Admission:
    """An admitted request: the buckets' new states and the reservation."""

    requests: Bucket | None
    tokens: Bucket | None
    reservation: Reservation


def level_at(bucket: Bucket | None, capacity: int, now: float) -> float:
    """The level at ``now`` after refilling; a bucket never seen (or forgotten) is full."""
    if bucket is None:
        return float(capacity)
    elapsed = max(0.0, now - bucket.at)
    return min(float(capacity), bucket.level + elapsed * capacity / MINUTE_S)


def holds(level: float, amount: float) -> bool:
    return level + EPSILON >= amount


def seconds_until(level: float, capacity: int, amount: float) -> float:
    """Refill time until a bucket at ``level`` holds ``amount``, rounded up to the ms."""
    if holds(level, amount):
        return 0.0
    return math.ceil((amount - level) * MINUTE_S / capacity * 1000 - 1e-6) / 1000


def format_duration(seconds: float) -> str:
    """OpenAI's style for reset headers and messages: "20ms", "10.8s", "6m0s"."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, MINUTE_S)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def request_too_large(tpm: int, tokens: int) -> RateLimitError:
    """A request asking more tokens than the whole TPM limit: it can never pass."""
    return RateLimitError(
        f"Request too large for {_LABELS[LimitType.TOKENS]}: limit {tpm}, requested {tokens}. "
        "The input or output tokens (max_tokens) must be reduced; retrying will not help.",
        limit_type=LimitType.TOKENS,
        retry_after_s=MINUTE_S,
    )


def rate_limited(kind: LimitType, limit: int, level: float, requested: int) -> RateLimitError:
    wait = seconds_until(level, limit, requested)
    return RateLimitError(
        f"Rate limit reached for {_LABELS[kind]}: limit {limit}, "
        f"remaining {_remaining(level)}, requested {requested}. "
        f"Please try again in {format_duration(wait)}.",
        limit_type=kind,
        retry_after_s=wait,
    )


def refusal(
    rpm: int | None, tpm: int | None, tokens: int, requests: float, token_level: float
) -> RateLimitError | None:
    """Why a request is refused at these levels, or ``None``; names the longer wait."""
    if tpm is not None and tokens > tpm:
        return request_too_large(tpm, tokens)
    refused = [
        rate_limited(kind, limit, level, amount)
        for kind, limit, level, amount in (
            (LimitType.REQUESTS, rpm, requests, 1),
            (LimitType.TOKENS, tpm, token_level, tokens),
        )
        if limit is not None and not holds(level, amount)
    ]
    return max(refused, key=lambda e: e.retry_after_s or 0.0, default=None)


def admit(
    key_id: str,
    rpm: int | None,
    tpm: int | None,
    tokens: int,
    requests: Bucket | None,
    token_bucket: Bucket | None,
    now: float,
) -> Admission:
    """Charge 1 request and ``tokens`` tokens to both buckets, or raise ``RateLimitError``."""
    check_limits(rpm, tpm, tokens)
    r_level = level_at(requests, rpm, now) if rpm is not None else 0.0
    t_level = level_at(token_bucket, tpm, now) if tpm is not None else 0.0
    error = refusal(rpm, tpm, tokens, r_level, t_level)
    if error is not None:
        raise error
    new_r = Bucket(r_level - 1, now) if rpm is not None else None
    new_t = Bucket(t_level - tokens, now) if tpm is not None else None
    reservation = Reservation(
        key_id=key_id,
        tokens=tokens,
        rpm=rpm,
        tpm=tpm,
        remaining_requests=_remaining(new_r.level) if new_r else None,
        remaining_tokens=_remaining(new_t.level) if new_t else None,
        reset_requests_s=seconds_until(new_r.level, rpm, rpm) if new_r and rpm else 0.0,
        reset_tokens_s=seconds_until(new_t.level, tpm, tpm) if new_t and tpm else 0.0,
    )
    return Admission(new_r, new_t, reservation)


def refund(bucket: Bucket | None, capacity: int, now: float, amount: float) -> Bucket:
    """Give ``amount`` back (capped at capacity); a negative amount charges into debt."""
    return Bucket(min(float(capacity), level_at(bucket, capacity, now) + amount), now)


def check_limits(rpm: int | None, tpm: int | None, tokens: int) -> None:
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    for name, limit in (("rpm", rpm), ("tpm", tpm)):
        if limit is not None and limit < 1:
            raise ValueError(f"{name} must be >= 1 or None, got {limit}")


def rate_limit_headers(r: Reservation) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` response headers, for the limits that are set."""
    headers: dict[str, str] = {}
    for kind, limit, remaining, reset in (
        (LimitType.REQUESTS, r.rpm, r.remaining_requests, r.reset_requests_s),
        (LimitType.TOKENS, r.tpm, r.remaining_tokens, r.reset_tokens_s),
    ):
        if limit is None:
            continue
        headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(remaining or 0)
        headers[f"x-ratelimit-reset-{kind}"] = format_duration(reset)
    return headers


def _remaining(level: float) -> int:
    return max(0, math.floor(level + EPSILON))
