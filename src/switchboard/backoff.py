"""Retry delays: exponential backoff with full jitter (AWS's "Exponential Backoff And
Jitter"), shared by every client that retries (the Order API client, the model router);
and the restart delays of a supervised process (the Order API beside the server)."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_DOUBLINGS = 32  # far past any cap; keeps 2**n a small number


def backoff_delay(retry: int, base_s: float, cap_s: float, rand: float) -> float:
    """Uniform in [0, min(cap_s, base_s * 2**retry)) for ``rand`` uniform in [0, 1)."""
    return rand * min(cap_s, base_s * 2**retry)


@dataclass
class RestartBackoff:
    """Delays before restarting a process that exited: ``base_s`` doubling per failure up
    to ``cap_s``, jittered to [1/2, 1) of that (never a tight loop, and restarts of several
    servers spread out); a run of ``reset_after_s`` or longer starts again at ``base_s``."""

    base_s: float = 0.5
    cap_s: float = 30.0
    reset_after_s: float = 60.0
    failures: int = 0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s or self.reset_after_s <= 0:
            raise ValueError(f"invalid restart backoff: {self}")

    def next_delay(self, ran_s: float, rand: float) -> float:
        """The wait before the next start, for a process that ran ``ran_s`` seconds;
        ``rand`` uniform in [0, 1)."""
        if ran_s >= self.reset_after_s:
            self.failures = 0
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, _MAX_DOUBLINGS))
        self.failures += 1
        return ceiling * (0.5 + rand / 2)
