"""What the request log, the metrics and the traces know about one request: the record the
gateway fills as a request runs, and the providers it tried (the fallback path).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attempt:
    """One provider tried for one request, in order; ``error`` is ``None`` for the one served."""

    provider: str
    model: str
    error: str | None = None
    latency_ms: float | None = None
    started_at: float | None = None  # unix seconds; None when it was skipped (breaker open)


def failure_kind(error: str) -> str:
    """A bounded label (for metrics and spans) of an attempt's error text."""
    if error.startswith("HTTP "):
        return "http_" + error.removeprefix("HTTP ").split()[0]
    for prefix, kind in _FAILURE_KINDS:
        if error.startswith(prefix):
            return kind
    return "error"


_FAILURE_KINDS = (("no first token", "ttft_deadline"), ("circuit open", "circuit_open"))


@dataclass(frozen=True)
class TurnSummary:
    """What an assistant turn did, beside what it cost: for its request record."""

    intent: str
    answer_path: str
    cited_article_ids: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)  # the tools it called, in order
    cache: str | None = None  # "exact", "semantic", "fallback", "miss"; None: not looked up


@dataclass
class RequestRecord:
    """Everything the request log keeps about one request (filled as it runs)."""

    request_id: str
    started_at: float  # unix seconds
    key_id: str
    tenant: str
    endpoint: str
    model: str  # as the client asked
    status: int = 0  # HTTP status, or the status of the in-band error for broken streams
    error_code: str | None = None
    provider: str | None = None  # the provider that served it
    served_model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)  # the fallback path
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    queue_wait_ms: float | None = None
    ttft_ms: float | None = None
    itl_mean_ms: float | None = None
    itl_p99_ms: float | None = None
    total_ms: float | None = None
    cache_hit: bool = False
    guard_events: list[str] = field(default_factory=list)
    input_text: str | None = None  # only when the log is configured to keep text
    output_text: str | None = None
    turn: TurnSummary | None = None  # an assistant turn's intent, citations and tools

    @property
    def failed(self) -> bool:
        return self.error_code is not None or self.status >= 400
