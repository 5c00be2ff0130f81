"""The response cache's view of a chat completion (the cache stage, ``stages.cache``, does
the looking up and storing).

A request is looked up (exact key first, then the nearest earlier question) only when its
answer could be shared: no tools, one choice, and greedy sampling (``temperature: 0``)
unless ``cache_sampled``; the semantic lookup only for a first question (one user
message), whose answer does not lean on earlier turns. Its answer is stored only when it
completed normally, called no tool, and no guardrail found personal data in the request
or changed the answer. When every provider fails, a matching answer is served anyway
(``serve_on_failure``), marked ``x-switchboard-cache: fallback``.

Entries are scoped by tenant, the requested model name, the request's instructions (every
message that is not the user's: system, developer) and its sampling parameters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from switchboard.cache.keys import SAMPLING_PARAMS, exact_key, system_hash
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.config import CacheSettings
from switchboard.gateway.messages import is_text_only, text_of
from switchboard.gateway.types import StreamChunk, Usage
from switchboard.stages.cache import CacheRequest

if TYPE_CHECKING:
    from switchboard.gateway.service import GatewayCall

KNOWN_FIELDS = SAMPLING_PARAMS | {
    "model",
    "messages",
    "stream",
    "stream_options",
    "user",
    "metadata",
}


def scope_of(tenant: str, body: Mapping[str, Any]) -> CacheScope:
    """Semantic neighbours must share the system messages and the sampling parameters
    (another ``max_tokens`` is another answer): both are hashed into the scope."""
    messages = body.get("messages") or ()
    instructions = [m for m in messages if m.get("role") != "user"]  # system, developer...
    setup = system_hash(exact_key(instructions, _params(body)))
    return CacheScope(tenant, str(body.get("model", "")), setup)


def key_of(body: Mapping[str, Any]) -> str:
    return exact_key(body.get("messages") or (), _params(body))


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("messages", "model", "stream")}


def query_of(body: Mapping[str, Any]) -> str | None:
    """The question for a semantic lookup: the only user message, or None (earlier turns,
    or anything but text: two questions about two pictures read the same)."""
    messages = body.get("messages") or ()
    users = [m for m in messages if m.get("role") == "user"]
    if len(users) != 1 or any(m.get("role") in ("assistant", "tool") for m in messages):
        return None
    if not all(is_text_only(m) for m in messages):
        return None
    return text_of(users[0]) or None


def as_greedy(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request as if sampled greedily: what a fallback looks up (the stored answers
    are greedy ones), so a sampled request can still get one when no provider answers."""
    greedy = {k: v for k, v in body.items() if k not in ("top_p", "seed")}
    greedy["temperature"] = 0
    return greedy


def shareable(body: Mapping[str, Any], settings: CacheSettings) -> bool:
    """Whether this request's answer may be served from, and stored in, the cache: not
    with tools, several choices, or a parameter the key does not know (a provider's own
    extension, e.g. ``guided_json``, may change the answer)."""
    if body.get("tools") or body.get("functions") or body.get("n", 1) != 1:
        return False
    if not set(body) <= KNOWN_FIELDS:
        return False
    return settings.cache_sampled or body.get("temperature") == 0


class RequestKeys:
    """How the cache stage looks a chat completion up and stores its answer: by the body
    the providers get (PII redacted)."""

    def __init__(self, settings: CacheSettings) -> None:
        self.settings = settings

    def request(self, call: GatewayCall, *, failed: bool = False) -> CacheRequest | None:
        body = call.sent_body
        if failed:  # a sampled request may get a greedy answer; one with tools none
            if body.get("tools") or body.get("functions"):
                return None
            body = as_greedy(body)
        elif not shareable(body, self.settings):
            return None
        query = query_of(body)
        return CacheRequest(scope_of(call.tenant, body), query or "", key_of(body))

    def answer(self, call: GatewayCall) -> CachedAnswer | None:
        if not (call.cacheable and call.output):
            return None
        extra = {"model": call.record.served_model, "finish_reason": call.finish_reason}
        return CachedAnswer("".join(call.output), extra)


def cached_chunks(answer: CachedAnswer, model: str, request_id: str) -> list[StreamChunk]:
    """A cached answer as the chunks of a stream: the content, the finish (as the model
    finished it), and usage (zero tokens: no model ran)."""
    head = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return json.dumps({**head, "choices": choices, **extra}, ensure_ascii=False).encode()

    delta = {"role": "assistant", "content": answer.text}
    finish = answer.extra.get("finish_reason") or "stop"
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return [
        StreamChunk(chunk([{"index": 0, "delta": delta, "finish_reason": None}]), tokens=True),
        StreamChunk(chunk([{"index": 0, "delta": {}, "finish_reason": finish}]), tokens=False),
        StreamChunk(chunk([], usage=usage), tokens=False, usage=Usage(0, 0)),
    ]
