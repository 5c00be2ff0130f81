"""Budget periods: the UTC day ("2026-11-25") or month ("2026-11") a moment falls in.

The budget ledger and the request log's spend aggregates key spend by these strings.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import UTC, datetime, timedelta
from typing import Literal

BudgetPeriod = Literal["day", "month"]

_FORMATS: dict[BudgetPeriod, str] = {"day": "%Y-%m-%d", "month": "%Y-%m"}
PERIOD_FORMS = "'day', 'month', YYYY-MM-DD or YYYY-MM"  # what ``parse_period`` accepts


def period_of(now: float, period: BudgetPeriod) -> str:
    """The UTC period containing unix time ``now``: "2026-11-25" (day) or "2026-11" (month)."""
    return _period_of_day(int(now // _DAY_S), period)  # unix days are exactly 86,400 s


_DAY_S = 86_400


@functools.lru_cache(maxsize=64)  # asked on every request; the answer changes once a day
def _period_of_day(day: int, period: BudgetPeriod) -> str:
    return datetime.fromtimestamp(day * _DAY_S, UTC).strftime(_FORMATS[period])


def parse_period(text: str | None, now: float) -> str:
    """The period a user names: "day" or "month" is the current one (UTC), "2026-11-25" or
    "2026-11" itself, nothing the current month; anything else is a ``ValueError`` naming
    the accepted forms."""
    if text is None:
        return period_of(now, "month")
    if text in _FORMATS:  # "day" or "month"
        return period_of(now, text)
    for form in _FORMATS.values():
        with contextlib.suppress(ValueError):  # round-trip: strptime accepts "2026-1" too
            if datetime.strptime(text, form).strftime(form) == text:
                return text
    raise ValueError(f"Unknown period {text!r}: use {PERIOD_FORMS}.")


def period_end(now: float, period: BudgetPeriod) -> float:
    """Unix time at which the period containing ``now`` ends."""
    start = datetime.fromtimestamp(now, UTC)
    if period == "day":
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return (day + timedelta(days=1)).timestamp()
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (month + timedelta(days=32)).replace(day=1).timestamp()
