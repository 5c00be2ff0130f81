"""The key's requests-per-minute limit on every endpoint besides chat completions.

Chat completions reserve requests *and* tokens and settle them in the gateway; the other
endpoints (embeddings, search, collections, the assistant, text completions, models)
count one request against the same per-key bucket, so a key's ``rpm`` holds everywhere.
"""

from __future__ import annotations

from fastapi import Request

from switchboard.errors import RateLimitError
from switchboard.gateway.service import Gateway
from switchboard.gateway.types import Principal


async def count_request(request: Request) -> None:
    """A FastAPI dependency, after authentication: take one request or raise 429."""
    principal: Principal = request.state.principal
    gateway: Gateway = request.app.state.gateway
    try:
        await gateway.limiter.reserve(principal.key_id, principal.rpm, None, 0)
    except RateLimitError:
        gateway.metrics.rate_limited("requests")
        raise
