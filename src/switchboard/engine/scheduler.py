"""Continuous-batching scheduler: pure Python, never imports llama.cpp.

Each ``schedule()`` fills one step's token budget, running requests first (their next
token, or the next chunk of a prompt still being prefilled), then waiting requests in
arrival order (chunked prefill). Requests therefore join and leave the batch at token
boundaries, and a long prompt is spread over several steps instead of stalling the
streams already running.

The KV budget is counted in cache cells (one per token). A waiting request is admitted
only while its chunk fits; when a running request needs a cell and none is free, the
most recently admitted request is preempted: its cells are freed, its progress reset,
and it goes back to the front of the queue to be recomputed (prompt + tokens so far).

With ``prefix_cache_tokens`` set, a finished request's slot keeps its cells and a waiting
request reuses the longest cached prefix of its tokens (see ``prefix_cache``), and its
first chunk ends on a block boundary (see ``exact_reuse``); cached cells yield before any
running request is preempted. Changes to the runner's cells (free,
cut, copy) are queued as ``KvOp``s, applied in order before the next batch.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from switchboard.engine.exact_reuse import ChunkLayout
from switchboard.engine.prefix_cache import PrefixCache, PrefixMatch
from switchboard.engine.request import Request, RequestStatus
from switchboard.errors import QueueFullError


@dataclass(frozen=True)
class SchedulerConfig:
    max_num_seqs: int
    max_batch_tokens: int
    kv_cache_tokens: int
    max_model_len: int
    max_waiting: int
    prefix_cache_tokens: int = 0  # cells idle slots may keep for reuse; 0: none

    def __post_init__(self) -> None:
        if min(self.max_num_seqs, self.max_batch_tokens, self.kv_cache_tokens) < 1:
            raise ValueError("scheduler limits must be positive")
        if not 0 <= self.prefix_cache_tokens <= self.kv_cache_tokens:
            raise ValueError("prefix_cache_tokens must be between 0 and kv_cache_tokens")
        if self.max_model_len > self.kv_cache_tokens:
            raise ValueError("max_model_len must fit in the KV cache")


@dataclass(frozen=True)
class ScheduledChunk:
    """``num_tokens`` tokens of ``request`` from position ``start`` go into this step's batch
    on sequence ``slot``; when ``sample`` is set the chunk ends the known tokens and its
    last row is sampled. ``slot`` is copied here because an abort may release the
    request's slot while the batch runs. ``draft`` tokens (speculative decoding) follow the
    chunk in the batch, each with its logits row, and are not counted in ``num_tokens``."""

    request: Request
    start: int
    num_tokens: int
    sample: bool
    slot: int
    draft: tuple[int, ...] = ()


@dataclass(frozen=True)
class KvOp:
    """A change to the KV cells of sequence ``slot``: when ``source`` is set, ``slot`` first
    gets a copy of ``source``'s cells; then it keeps only those below position ``keep``
    (0: none). Ops are applied in the order they were queued."""

    slot: int
    keep: int
    source: int | None = None


@dataclass
class SchedulerOutput:
    chunks: list[ScheduledChunk] = field(default_factory=list)
    preempted: list[Request] = field(default_factory=list)

    @property
    def sampled(self) -> list[ScheduledChunk]:
        return [c for c in self.chunks if c.sample]


class Scheduler:
    def __init__(self, config: SchedulerConfig) -> None:
        self.config = config
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self._free_slots = list(range(config.max_num_seqs - 1, -1, -1))
        self._kv_ops: list[KvOp] = []
        self.layout = ChunkLayout(config.max_batch_tokens)
        self.prefix_cache = PrefixCache(config.prefix_cache_tokens, self.layout)

    # -- queue -------------------------------------------------------------------------
    def add(self, request: Request) -> None:
        # Requests that a free slot will take at the next step are not really waiting.
        idle = len(self._free_slots) + len(self.prefix_cache)
        if len(self.waiting) >= self.config.max_waiting + idle:
            raise QueueFullError(len(self.waiting))
        self.waiting.append(request)

    def abort(self, request_id: str) -> Request | None:
        for request in [*self.running, *self.waiting]:
            if request.request_id == request_id:
                self.finish(request, RequestStatus.FINISHED_ABORTED)
                return request
        return None

    def finish(self, request: Request, status: RequestStatus) -> None:
        if not status.finished:
            raise ValueError(f"{status!r} is not a finished status")
        if request in self.running:
            self.running.remove(request)
        elif request in self.waiting:
            self.waiting.remove(request)
        request.status = status
        request.timings.finished = time.perf_counter()
        self._release(request, keep_prefix=True)

    def take_kv_ops(self) -> list[KvOp]:
        """The changes the runner must make to its KV cells, in order, before the next
        batch: a finished or preempted request's slot freed, a cached prefix cut past its
        match or copied into an empty slot, cells an aborted request's batch wrote dropped."""
        ops, self._kv_ops = self._kv_ops, []
        return ops

    def clear_prefix_cache(self) -> None:
        """Evict every cached prefix (their slots are cleared before the next batch)."""
        while self.prefix_cache:
            self._evict_prefix()

    @property
    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    @property
    def kv_cells_used(self) -> int:
        """Cells held by requests (cached prefixes are reclaimable and not counted)."""
        return sum(r.num_computed_tokens for r in self.running)

    @property
    def free_cells(self) -> int:
        """Cells neither requests nor cached prefixes hold."""
        return self.config.kv_cache_tokens - self.kv_cells_used - self.prefix_cache.cached_tokens

    # -- one step ----------------------------------------------------------------------
    def schedule(self) -> SchedulerOutput:
        out = SchedulerOutput()
        budget = self.config.max_batch_tokens
        free_cells = self.free_cells
        now = time.perf_counter()

        for request in list(self.running):
            if request not in self.running:  # preempted earlier in this pass
                continue
            n = min(request.num_tokens - request.num_computed_tokens, budget)
            if n <= 0:
                continue
            while free_cells < n:
                if self.prefix_cache:  # idle prefixes yield before running requests do
                    free_cells += self._evict_prefix()
                    continue
                victim = self.running[-1]
                free_cells += self._preempt(victim)
                out.preempted.append(victim)
                if victim is request:
                    break
            if request.status is not RequestStatus.RUNNING:
                continue
            out.chunks.append(self._chunk(request, n))
            budget -= n
            free_cells -= n

        while self.waiting and budget > 0 and self._has_idle_slot() and not out.preempted:
            request = self.waiting[0]
            match = self.prefix_cache.lookup(request.token_ids(0, request.num_tokens))
            reused = match.length if match else 0
            n = min(self.layout.chunk_end(reused, request.num_tokens) - reused, budget)
            if n > free_cells + self.prefix_cache.cached_tokens - reused:
                break  # admission control: wait for cells to be freed
            self.waiting.popleft()
            free_cells += self._place(request, match)
            while free_cells < n:
                free_cells += self._evict_prefix()
            request.status = RequestStatus.RUNNING
            request.timings.on_scheduled(now)
            self.running.append(request)
            out.chunks.append(self._chunk(request, n))
            budget -= n
            free_cells -= n
        return out

    def update(
        self, output: SchedulerOutput, sampled: Mapping[str, Sequence[int]]
    ) -> list[Request]:
        """Apply one step's results: advance progress, append sampled tokens (more than one
        when drafts were accepted: each one before the last is in the cache), and finish
        requests on a stop token, ``max_tokens`` or the context window; tokens after the
        finishing one are dropped. Returns the requests that got new tokens this step."""
        now = time.perf_counter()
        advanced: list[Request] = []
        for chunk in output.chunks:
            request = chunk.request
            if request.status is not RequestStatus.RUNNING:
                continue  # aborted while its batch ran
            request.num_computed_tokens = chunk.start + chunk.num_tokens
            if not chunk.sample:
                continue
            for i, token in enumerate(sampled[request.request_id]):
                if i:  # the draft this token follows is in the cache
                    request.num_computed_tokens += 1
                request.output_token_ids.append(token)
                request.timings.on_token(now)
                self._check_stop(request, token)
                if request.status.finished:
                    break
            advanced.append(request)
        return advanced

    def preempt_newest(self) -> Request | None:
        """Free the cells of the most recently admitted request (the runner found the
        cache full even though the budget said it fits, e.g. through fragmentation);
        while prefixes are cached, free those instead and preempt nothing."""
        if self.prefix_cache:
            self.clear_prefix_cache()
            return None
        if not self.running:
            return None
        victim = self.running[-1]
        self._preempt(victim)
        return victim

    # -- helpers -------------------------------------------------------------------------
    def _chunk(self, request: Request, n: int) -> ScheduledChunk:
        if request.slot is None:
            raise ValueError(f"request {request.request_id} holds no sequence slot")
        start = request.num_computed_tokens
        return ScheduledChunk(
            request, start, n, sample=start + n == request.num_tokens, slot=request.slot
        )

    def _check_stop(self, request: Request, token: int) -> None:
        if token in request.eos_token_ids or token in request.params.stop_token_ids:
            request.stop_reason = token
            self.finish(request, RequestStatus.FINISHED_STOPPED)
        elif (
            len(request.output_token_ids) >= request.max_tokens
            or request.num_tokens >= self.config.max_model_len
        ):
            self.finish(request, RequestStatus.FINISHED_LENGTH)

    def _preempt(self, request: Request) -> int:
        cells = request.num_computed_tokens
        self.running.remove(request)
        self._release(request)
        request.status = RequestStatus.PREEMPTED
        request.num_computed_tokens = 0
        request.num_preemptions += 1
        self.waiting.appendleft(request)
        return cells

    def _release(self, request: Request, *, keep_prefix: bool = False) -> None:
        """Give back ``request``'s slot: to the prefix cache with the cells of its computed
        tokens (``keep_prefix``, within the cache's bound), else emptied."""
        slot, request.slot = request.slot, None
        if slot is None:
            return
        cells = request.num_computed_tokens if keep_prefix else 0
        tokens = request.token_ids(0, cells)
        kept, evicted = self.prefix_cache.put(slot, tokens, request.num_prompt_tokens)
        for old in evicted:
            self._free(old)
        if kept:
            self._kv_ops.append(KvOp(slot, kept))
        else:
            self._free(slot)

    def _has_idle_slot(self) -> bool:
        return bool(self._free_slots or self.prefix_cache)

    def _place(self, request: Request, match: PrefixMatch | None) -> int:
        """Give ``request`` a slot holding ``match``'s prefix: a copy in an empty slot while
        the cached one has more to offer later, else the cached slot itself, its tail cut;
        with no match, an empty slot (the oldest prefix evicted if none is). Returns the
        change in free cells."""
        reused = match.length if match else 0
        if match is None:
            freed = 0 if self._free_slots else self._evict_prefix()
            request.slot = self._free_slots.pop()
        elif self._free_slots and reused < self.prefix_cache.cached(match.slot):
            request.slot = self._free_slots.pop()
            self._kv_ops.append(KvOp(request.slot, reused, source=match.slot))
            self.prefix_cache.touch(match.slot)
            freed = -reused
        else:
            freed = self.prefix_cache.take(match.slot) - reused
            self._kv_ops.append(KvOp(match.slot, reused))
            request.slot = match.slot
        request.num_computed_tokens = reused
        self.prefix_cache.count_admission(reused, request.num_tokens - reused)
        return freed

    def _evict_prefix(self) -> int:
        slot, cells = self.prefix_cache.evict_oldest()
        self._free(slot)
        return cells

    def _free(self, slot: int) -> None:
        self._free_slots.append(slot)
        self._kv_ops.append(KvOp(slot, 0))
