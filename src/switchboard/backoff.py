"""Retry delays: exponential backoff with full jitter (AWS's "Exponential Backoff And
Jitter"), shared by every client that retries (the Order API client, the model router)."""

from __future__ import annotations


def backoff_delay(retry: int, base_s: float, cap_s: float, rand: float) -> float:
    """Uniform in [0, min(cap_s, base_s * 2**retry)) for ``rand`` uniform in [0, 1)."""
    return rand * min(cap_s, base_s * 2**retry)
