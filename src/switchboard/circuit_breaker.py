"""A circuit breaker: stop calling a dependency that keeps failing, try again later.

    CLOSED --(failure_threshold consecutive failures)--> OPEN
    OPEN --(reset_timeout_s passed; the next call is the trial)--> HALF_OPEN
    HALF_OPEN --(trial succeeds)--> CLOSED
    HALF_OPEN --(trial fails)--> OPEN

While OPEN, and while a HALF_OPEN trial is in flight, ``before_call`` raises
``CircuitOpenError`` at once. A trial that never reports back (a cancelled call) is
given up after another ``reset_timeout_s``, and the next call becomes the trial.
Pure logic: the clock is injected, nothing is awaited or slept; one lock guards the state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from switchboard.errors import CircuitOpenError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout_s <= 0:
            raise ValueError(f"reset_timeout_s must be > 0, got {reset_timeout_s}")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._since = 0.0  # when the breaker opened, or when the half-open trial began

    @property
    def state(self) -> BreakerState:
        """The stored state: OPEN stays OPEN until a call after the timeout asks."""
        with self._lock:
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def before_call(self) -> None:
        """Admit a call, or raise ``CircuitOpenError``; call it before every attempt."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            waited = self._clock() - self._since
            if waited < self.reset_timeout_s:
                raise CircuitOpenError(self.reset_timeout_s - waited)
            self._state = BreakerState.HALF_OPEN  # this caller is the trial
            self._since = self._clock()

    def record_success(self) -> None:
        with self._lock:
            if self._state is BreakerState.OPEN:
                return  # a call admitted before the breaker opened: no evidence to act on
            self._state = BreakerState.CLOSED
            self._failures = 0

    def record_failure(self) -> None:
        with self._lock:
            if self._state is BreakerState.OPEN:
                return  # already open: do not push the reopening further out
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = BreakerState.OPEN
                self._since = self._clock()
