"""One request and everything the engine knows about it, end to end."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from switchboard.engine.params import SamplingParams


class RequestStatus(enum.IntEnum):
    """Ordered: every status after ``PREEMPTED`` is a finished one."""

    WAITING = 0
    RUNNING = 1
    PREEMPTED = 2
    FINISHED_STOPPED = 3
    FINISHED_LENGTH = 4
    FINISHED_ABORTED = 5
    FINISHED_FAILED = 6  # the engine failed on this request (no finish_reason: an error)

    @property
    def finished(self) -> bool:
        return self > RequestStatus.PREEMPTED


#: OpenAI ``finish_reason`` for each finished status.
FINISH_REASONS: dict[RequestStatus, str] = {
    RequestStatus.FINISHED_STOPPED: "stop",
    RequestStatus.FINISHED_LENGTH: "length",
    RequestStatus.FINISHED_ABORTED: "abort",
}


@dataclass
class RequestTimings:
    """Monotonic timestamps (``time.perf_counter``) of one request's life."""

    arrival: float = field(default_factory=time.perf_counter)
    first_scheduled: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    finished: float | None = None
    inter_token_s: list[float] = field(default_factory=list)

    def on_scheduled(self, now: float) -> None:
        if self.first_scheduled is None:
            self.first_scheduled = now

    def on_token(self, now: float) -> None:
        if self.first_token is None:
            self.first_token = now
        elif self.last_token is not None:
            self.inter_token_s.append(now - self.last_token)
        self.last_token = now

    @property
    def queue_wait_s(self) -> float | None:
        return None if self.first_scheduled is None else self.first_scheduled - self.arrival

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.arrival

    @property
    def total_s(self) -> float | None:
        return None if self.finished is None else self.finished - self.arrival


@dataclass(eq=False)
class Request:
    """State of one generation: tokens, progress through the KV cache, status, timings.

    ``num_computed_tokens`` counts the tokens whose keys/values are in the cache; the
    scheduler advances it, and resets it to 0 when it preempts the request (recompute).
    ``slot`` is the llama.cpp sequence id held while the request owns KV cells.
    """

    request_id: str
    prompt_token_ids: list[int]
    params: SamplingParams
    max_tokens: int
    eos_token_ids: frozenset[int] = frozenset()
    status: RequestStatus = RequestStatus.WAITING
    output_token_ids: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    slot: int | None = None
    num_preemptions: int = 0
    stop_reason: int | str | None = None
    timings: RequestTimings = field(default_factory=RequestTimings)

    @property
    def num_prompt_tokens(self) -> int:
        return len(self.prompt_token_ids)

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_token_ids) + len(self.output_token_ids)

    def token_ids(self, start: int, end: int) -> list[int]:
        """Tokens at positions ``[start, end)`` of prompt + output, without copying both."""
        n = len(self.prompt_token_ids)
        if end <= n:
            return self.prompt_token_ids[start:end]
        if start >= n:
            return self.output_token_ids[start - n : end - n]
        return self.prompt_token_ids[start:] + self.output_token_ids[: end - n]

    @property
    def finish_reason(self) -> str | None:
        return FINISH_REASONS.get(self.status)
