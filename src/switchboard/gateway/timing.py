"""Latency of one streamed request as the client sees it: time to first token and the gaps
between the chunks that carry tokens after it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class StreamTimer:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.started = clock()
        self.first_token: float | None = None
        self._last: float | None = None
        self.gaps: list[float] = []  # seconds between consecutive token chunks

    def token(self) -> None:
        """A chunk carrying generated output is about to go to the client."""
        now = self._clock()
        if self.first_token is None:
            self.first_token = now
        elif self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def elapsed_s(self) -> float:
        return self._clock() - self.started

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    @property
    def mean_gap_s(self) -> float | None:
        return sum(self.gaps) / len(self.gaps) if self.gaps else None

    @property
    def p99_gap_s(self) -> float | None:
        """Nearest-rank 99th percentile of the gaps."""
        if not self.gaps:
            return None
        ordered = sorted(self.gaps)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)
