"""The output guard on a chat completion's chunks (the guard stage, ``stages.guard``,
checks the request's messages and gives the moderator).

The content deltas go through the stream moderator; the chunks that carry them are
rewritten with the text it releases (the others pass unchanged), and a block ends the
answer with the safe message and ``finish_reason: "content_filter"``, as OpenAI's own
filter does. Placeholders in tool calls' arguments are restored too (``ToolArguments``);
the arguments are not otherwise moderated: they go to the client's own code, not to the
customer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

from switchboard.gateway.types import StreamChunk, Usage
from switchboard.guard.placeholders import Placeholders, RestoringStream
from switchboard.guard.stream import StreamModerator
from switchboard.stages.stage import Exchange


async def moderate_chunks(
    chunks: AsyncIterator[StreamChunk],
    moderator: StreamModerator,
    exchange: Exchange,
    used: Callable[[], Usage],
) -> AsyncGenerator[StreamChunk, None]:
    """The chunks with their content moderated: a chunk's content is replaced by what the
    moderator releases (a chunk left with nothing to say is dropped), and what it still
    holds goes out before the finish. Once blocked, a closing ``content_filter`` chunk
    and a usage chunk (``used()``: what the model used until it was stopped) end the answer,
    and the upstream iterator is left (the caller closes it)."""
    first: StreamChunk | None = None
    try:
        async for chunk in _moderated(chunks, moderator, exchange, used):
            first = first or chunk
            yield chunk
    except Exception:  # the provider failed mid-stream: what was held goes out (checked)
        tail = "" if moderator.blocked else await moderator.aend()
        template = _parse(first) if first is not None else None
        if tail and template is not None:
            yield StreamChunk(_content_chunk(template, tail), tokens=True)
        raise


async def _moderated(
    chunks: AsyncIterator[StreamChunk],
    moderator: StreamModerator,
    exchange: Exchange,
    used: Callable[[], Usage],
) -> AsyncGenerator[StreamChunk, None]:
    template: dict[str, Any] | None = None
    arguments = ToolArguments(exchange.placeholders)
    async for chunk in chunks:
        parsed = _parse(chunk)
        if parsed is None:  # not JSON: nothing to moderate in it
            yield chunk
            continue
        template = template or parsed
        delta, finish = _delta(parsed)
        closing = finish is not None or not parsed.get("choices")
        if (delta and delta.get("tool_calls")) or (finish is not None and arguments.pending):
            parsed = arguments.restored(parsed, closing=finish is not None)
            chunk = replace(chunk, data=_dump(parsed))
            delta, finish = _delta(parsed)
        content = (delta or {}).get("content")
        has_text = isinstance(content, str) and bool(content)
        released = await moderator.afeed(str(content)) if has_text else ""
        if closing and not moderator.blocked:
            released += await moderator.aend()
        if moderator.blocked:
            exchange.cut_off = True
            if released:
                yield StreamChunk(_content_chunk(template, released), tokens=True)
            yield _finish_chunk(template, "content_filter")
            yield _usage_chunk(template, used())
            return
        if not has_text and not (closing and released):
            yield chunk  # a role, tool-call, finish or usage chunk: untouched
        elif released and parsed.get("choices"):
            yield replace(chunk, data=_with_content(parsed, released), tokens=True)
        else:
            if released:  # the held text, before a usage-only chunk
                yield StreamChunk(_content_chunk(template, released), tokens=True)
            if _has_other_fields(delta, finish) or not parsed.get("choices"):
                yield replace(chunk, data=_with_content(parsed, ""), tokens=False)
    tail = "" if moderator.blocked else await moderator.aend()  # no finish chunk came
    if tail and template is not None:
        yield StreamChunk(_content_chunk(template, tail), tokens=True)
    if arguments.pending and template is not None and not moderator.blocked:
        last = {k: v for k, v in template.items() if k != "usage"}
        last["choices"] = [{"index": 0, "delta": {}, "finish_reason": None}]
        yield StreamChunk(_dump(arguments.restored(last, closing=True)), tokens=True)


class ToolArguments:
    """Placeholders in the tool calls' arguments, restored as they stream: the client's
    tool gets the customer's own email, not ``<EMAIL_ADDRESS_1>``. A fragment ending in
    what may still become a placeholder is held (per call), and whatever is held goes out
    with the closing chunk. Values are JSON-escaped: arguments are JSON text and a
    placeholder stands inside one of its strings."""

    def __init__(self, placeholders: Placeholders) -> None:
        self._placeholders = placeholders
        self._streams: dict[int, RestoringStream] = {}

    @property
    def pending(self) -> bool:
        return any(stream.held for stream in self._streams.values())

    def restored(self, parsed: dict[str, Any], *, closing: bool) -> dict[str, Any]:
        """The chunk with its argument fragments restored; when ``closing``, every held
        tail is added (to the call's own fragment in this chunk, or as one of its own)."""
        choices = parsed.get("choices") or [{}]
        choice = {**choices[0]}
        delta = {**(choice.get("delta") or {})}
        calls = [self._restore(call) for call in delta.get("tool_calls") or ()]
        if closing:
            calls = self._with_tails(calls)
        if calls:
            delta["tool_calls"] = calls
        choice["delta"] = delta
        choice.setdefault("index", 0)
        return {**parsed, "choices": [choice, *choices[1:]]}

    def _restore(self, call: Any) -> Any:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("arguments"), str):
            return call
        stream = self._streams.setdefault(
            _index(call), RestoringStream(self._placeholders, _json_escaped)
        )
        return {**call, "function": {**function, "arguments": stream.feed(function["arguments"])}}

    def _with_tails(self, calls: list[Any]) -> list[Any]:
        tails = {index: stream.end() for index, stream in self._streams.items()}
        out = []
        for call in calls:
            tail = tails.pop(_index(call), "") if isinstance(call, Mapping) else ""
            if tail:
                function = call.get("function") or {}
                arguments = str(function.get("arguments") or "") + tail
                call = {**call, "function": {**function, "arguments": arguments}}
            out.append(call)
        out += [{"index": i, "function": {"arguments": t}} for i, t in tails.items() if t]
        return out


def _index(call: Mapping[str, Any]) -> int:
    index = call.get("index", 0)
    return index if isinstance(index, int) else 0


def _json_escaped(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _dump(parsed: Mapping[str, Any]) -> bytes:
    return json.dumps(parsed, ensure_ascii=False).encode()


def _parse(chunk: StreamChunk) -> dict[str, Any] | None:
    try:
        parsed = json.loads(chunk.data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _delta(parsed: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    choices = (parsed or {}).get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    return choice.get("delta"), choice.get("finish_reason")


def _has_other_fields(delta: Mapping[str, Any] | None, finish: str | None) -> bool:
    return finish is not None or any(k not in ("content", "role") for k in delta or {})


def _with_content(parsed: dict[str, Any], text: str) -> bytes:
    """The chunk with its content replaced (a chunk without choices is left as it is)."""
    if not parsed.get("choices"):
        return json.dumps(parsed, ensure_ascii=False).encode()
    choice = {**parsed["choices"][0]}
    choice["delta"] = {**(choice.get("delta") or {}), "content": text}
    return json.dumps({**parsed, "choices": [choice]}, ensure_ascii=False).encode()


def _content_chunk(template: Mapping[str, Any], text: str) -> bytes:
    body = {k: v for k, v in template.items() if k not in ("choices", "usage")}
    body["choices"] = [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
    return json.dumps(body, ensure_ascii=False).encode()


def _usage_chunk(template: Mapping[str, Any] | None, usage: Usage) -> StreamChunk:
    body = {
        k: v
        for k, v in (template or {"object": "chat.completion.chunk"}).items()
        if k not in ("choices", "usage")
    }
    body["choices"] = []
    body["usage"] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    return StreamChunk(json.dumps(body).encode(), tokens=False, usage=usage)


def _finish_chunk(template: Mapping[str, Any] | None, reason: str) -> StreamChunk:
    body = {
        k: v
        for k, v in (template or {"object": "chat.completion.chunk"}).items()
        if k not in ("choices", "usage")
    }
    body["choices"] = [{"index": 0, "delta": {}, "finish_reason": reason}]
    return StreamChunk(json.dumps(body).encode(), tokens=False)
