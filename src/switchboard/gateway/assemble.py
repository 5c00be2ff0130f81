"""One ``chat.completion`` from the chunks of a stream.

The gateway always streams from its providers (so the TTFT deadline and fallback work the
same for every request) and assembles the answer for clients that did not ask to stream:
content concatenated, tool-call fragments merged by index, the last finish reason, usage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from switchboard.errors import UpstreamError


def _merge_tool_calls(calls: dict[int, dict[str, Any]], fragments: list[dict[str, Any]]) -> None:
    for fragment in fragments:
        index = int(fragment.get("index", len(calls)))
        call = calls.setdefault(
            index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fragment.get("type"):
            call["type"] = fragment["type"]
        function = fragment.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""


def assemble_completion(chunks: Iterable[bytes]) -> dict[str, Any]:
    """The ``chat.completion`` object the chunks (JSON of ``chat.completion.chunk``) add up to."""
    head: dict[str, Any] | None = None
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish_reason: str | None = None
    extra: dict[str, Any] = {}
    for data in chunks:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise UpstreamError(f"malformed chunk from the provider: {exc}") from exc
        head = head or chunk
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content.append(delta.get("content") or "")
            _merge_tool_calls(calls, delta.get("tool_calls") or [])
            finish_reason = choice.get("finish_reason") or finish_reason
        for key in ("usage", "timings", "system_fingerprint"):
            if chunk.get(key) is not None:
                extra[key] = chunk[key]
    if head is None:
        raise UpstreamError("the provider sent no chunks")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
        message["content"] = message["content"] or None
    return {
        "id": head.get("id", ""),
        "object": "chat.completion",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        **extra,
    }
