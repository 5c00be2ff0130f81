"""Asyncio front of the engine: one background thread runs ``LLMEngine.step()`` in a
loop; each request's outputs reach its coroutine through an ``asyncio.Queue``.

Abandoning the ``generate()`` iterator (a client that disconnects) aborts the request;
its sequence and KV cells are freed at the start of the next step.

Two kinds of failure: the engine failing on one request (its sampling or text) ends that
request with ``GenerationError`` (500) and the loop goes on; the loop itself failing (the
forward pass) is fatal: it is logged once, every request in flight and every later one
gets ``EngineDeadError`` at once, and ``/health`` says down so the process is restarted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import cast

from switchboard.engine.engine import LLMEngine, RequestOutput
from switchboard.engine.params import SamplingParams
from switchboard.errors import EngineDeadError, GenerationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineStats:
    running: int
    waiting: int
    kv_cells_used: int
    kv_cells_total: int
    prefix_cache_cells: int = 0  # held by idle slots for reuse, reclaimable
    prefix_cache_lookups: int = 0
    prefix_cache_hits: int = 0
    prefill_tokens_computed: int = 0
    prefill_tokens_reused: int = 0
    draft_tokens: int = 0  # speculative decoding: drafts verified, and accepted
    accepted_draft_tokens: int = 0
    speculative: str = "off"  # where drafts come from: off, ngram, draft


class AsyncEngine:
    def __init__(self, engine: LLMEngine) -> None:
        self.engine = engine
        self._queues: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue[object]]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dead: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
            self._thread.start()

    def shutdown(self) -> None:
        """Stop the loop after its current step; pending requests get ``EngineDeadError``.
        Raises ``EngineDeadError`` if the loop does not stop (it may still use the model)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                raise EngineDeadError("engine loop did not stop within 60 s")
            self._thread = None

    def check_alive(self) -> None:
        """Raise ``EngineDeadError`` if the engine loop has died."""
        if self._dead is not None:
            raise EngineDeadError(f"engine loop died: {self._dead}")

    @property
    def stats(self) -> EngineStats:
        scheduler = self.engine.scheduler
        with self.engine.lock:
            cache = scheduler.prefix_cache
            return EngineStats(
                running=len(scheduler.running),
                waiting=len(scheduler.waiting),
                kv_cells_used=scheduler.kv_cells_used,
                kv_cells_total=scheduler.config.kv_cache_tokens,
                prefix_cache_cells=cache.cached_tokens,
                prefix_cache_lookups=cache.stats.lookups,
                prefix_cache_hits=cache.stats.hits,
                prefill_tokens_computed=cache.stats.computed_tokens,
                prefill_tokens_reused=cache.stats.reused_tokens,
                draft_tokens=self.engine.speculative_stats.drafted,
                accepted_draft_tokens=self.engine.speculative_stats.accepted,
                speculative=self.engine.speculative_method,
            )

    # -- requests ----------------------------------------------------------------------------
    async def generate(
        self, prompt_token_ids: list[int], params: SamplingParams, request_id: str | None = None
    ) -> AsyncGenerator[RequestOutput, None]:
        """Stream one request's outputs. Raises ``RequestError`` before the first output
        when the request is refused (context length, queue full)."""
        rid = request_id or uuid.uuid4().hex
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._queues[rid] = (asyncio.get_running_loop(), queue)
        try:
            self.check_alive()  # after registering: a loop dying now still sees our queue
            self.engine.add_request(prompt_token_ids, params, rid)
        except BaseException:
            self._queues.pop(rid, None)
            raise
        self._wake.set()
        finished = False
        try:
            while not finished:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise EngineDeadError(f"engine loop died: {item}") from item
                output = cast(RequestOutput, item)
                finished = output.finished
                if output.error is not None:  # the engine has dropped it already
                    raise GenerationError(
                        f"The engine failed while generating request {rid}; the error is "
                        "logged with this id. Other requests are not affected."
                    )
                yield output
        finally:
            self._queues.pop(rid, None)
            if not finished:
                self.engine.abort(rid)
                self._wake.set()

    # -- engine thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.engine.has_unfinished:
                    self._wake.wait(timeout=0.5)
                    self._wake.clear()
                    continue
                for output in self.engine.step():
                    self._deliver(output.request_id, output)
        except BaseException as exc:  # the loop must never die silently
            log.error(
                "engine loop died (%s): every request fails until the server is restarted",
                exc,
                exc_info=exc,
            )
            self._fail_all(exc)
        else:
            self._fail_all(EngineDeadError("engine shut down"))

    def _fail_all(self, exc: BaseException) -> None:
        self._dead = exc
        for rid in list(self._queues):
            self._deliver(rid, exc)

    def _deliver(self, request_id: str, item: object) -> None:
        target = self._queues.get(request_id)
        if target is not None:
            loop, queue = target
            loop.call_soon_threadsafe(queue.put_nowait, item)
