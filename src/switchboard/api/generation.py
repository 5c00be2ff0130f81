"""Running one request through the engine on behalf of an HTTP client.

A request is *admitted* (queued, length-checked, first token produced) before any
response byte is sent, so refusals keep their status codes even for ``stream=true``.
While the server waits on the engine it also watches the connection: a client that
goes away aborts its request instead of leaving it to run to ``max_tokens``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from starlette.types import Receive

from switchboard.api.deps import ServedEngine
from switchboard.engine import RequestOutput, SamplingParams
from switchboard.errors import ContextLengthError, QueueFullError

T = TypeVar("T")

Outputs = AsyncGenerator[RequestOutput, None]


@dataclass
class Admitted:
    """A request the engine accepted: its first output and the stream of the rest."""

    first: RequestOutput
    rest: Outputs


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (the body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """Await ``work``; cancel it and return ``None`` if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    return None if task.cancelled() else task.result()


async def until_disconnected(receive: Receive, work: Awaitable[T]) -> T | None:
    """Await ``work`` in this task; ``None`` if the client disconnects first (``work`` is
    then cancelled). One watcher task, cheaper than ``unless_disconnected``'s two."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("until_disconnected needs a running task")
    state = {"waiting": True, "gone": False}

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if state["waiting"]:
            state["gone"] = True
            task.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not state["gone"]:
            raise
        task.uncancel()
        return None
    finally:
        state["waiting"] = False
        watcher.cancel()


async def admit(
    request: Request,
    engine: ServedEngine,
    prompt_token_ids: list[int],
    params: SamplingParams,
    *,
    request_id: str,
    prompt_param: str,
    retry_after_s: int,
) -> Admitted | None:
    """Queue the request and wait for its first output; ``None`` if the client left.

    Raises the engine's ``RequestError`` (context length, queue full) unchanged except
    for naming this endpoint's prompt parameter and the server's ``Retry-After``.
    """
    outputs = engine.async_engine.generate(prompt_token_ids, params, request_id=request_id)
    first: RequestOutput | None = None
    try:
        first = await unless_disconnected(request, anext(outputs))
    except ContextLengthError as exc:
        exc.param = prompt_param
        raise
    except QueueFullError as exc:
        exc.retry_after_s = max(exc.retry_after_s or 0, retry_after_s)
        raise
    finally:
        if first is None:
            await outputs.aclose()
    if first is None:
        return None
    return Admitted(first, outputs)


async def _rest(outputs: Outputs) -> list[RequestOutput]:
    return [output async for output in outputs]


async def collect(request: Request, admitted: Admitted) -> list[RequestOutput] | None:
    """Every output of an admitted request; ``None`` (request aborted) if the client left."""
    try:
        rest = await unless_disconnected(request, _rest(admitted.rest))
    finally:
        await admitted.rest.aclose()
    return None if rest is None else [admitted.first, *rest]
