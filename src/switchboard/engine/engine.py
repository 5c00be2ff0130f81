"""The synchronous engine step: schedule → free → (draft) → forward → sample → update →
detokenize. Drafting, like the forward pass, runs without the lock.

``LLMEngine`` is driven by one thread (see ``async_engine``); it talks to the model only
through the ``Runner`` and ``Tokenizer`` protocols, so tests drive it with fakes.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from switchboard.engine.detokenizer import IncrementalDetokenizer
from switchboard.engine.draft_model import DraftRequest
from switchboard.engine.params import SamplingParams
from switchboard.engine.request import Request, RequestStatus, RequestTimings
from switchboard.engine.sampler import Sampler, sample
from switchboard.engine.scheduler import (
    ScheduledChunk,
    Scheduler,
    SchedulerConfig,
    SchedulerOutput,
)
from switchboard.engine.speculative import SpeculativeStats, Speculator, verify
from switchboard.errors import ContextLengthError, InvalidRequestError, KVCacheFullError

log = logging.getLogger(__name__)


class Tokenizer(Protocol):
    eog_token_ids: frozenset[int]
    n_vocab: int

    def token_bytes(self, token_id: int) -> bytes: ...


class Runner(Protocol):
    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]: ...

    def free(self, slot: int) -> None: ...

    def trim(self, slot: int, keep: int) -> None: ...

    def copy(self, source: int, slot: int) -> None: ...


@dataclass(frozen=True)
class RequestOutput:
    """What one step produced for one request: new text and tokens, and on the last
    output the finish reason, or ``error`` when the engine failed on this request."""

    request_id: str
    text: str
    token_ids: tuple[int, ...]
    finished: bool
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    timings: RequestTimings
    error: str | None = None


@dataclass
class _Tracked:
    request: Request
    detokenizer: IncrementalDetokenizer
    rng: np.random.Generator


class LLMEngine:
    def __init__(
        self,
        runner: Runner,
        tokenizer: Tokenizer,
        config: SchedulerConfig,
        seed: int | None = None,
        sampler: Sampler = sample,
        speculator: Speculator | None = None,
    ) -> None:
        self.runner = runner
        self.sampler = sampler
        self.speculator = speculator
        self.tokenizer = tokenizer
        self.config = config
        self.scheduler = Scheduler(config)
        self._seeds = np.random.SeedSequence(seed)
        self._tracked: dict[str, _Tracked] = {}
        # Guards scheduler state; released while the forward pass runs.
        self.lock = threading.Lock()

    # -- requests ------------------------------------------------------------------------
    def check_length(self, prompt_tokens: int, max_tokens: int | None) -> int:
        """Validate against the context window; return the effective ``max_tokens``."""
        limit = self.config.max_model_len
        if prompt_tokens == 0:
            raise InvalidRequestError("the prompt is empty", param="prompt")
        if prompt_tokens >= limit or (
            max_tokens is not None and prompt_tokens + max_tokens > limit
        ):
            requested = prompt_tokens + (max_tokens or 1)
            raise ContextLengthError(requested=requested, limit=limit, prompt_tokens=prompt_tokens)
        return max_tokens if max_tokens is not None else limit - prompt_tokens

    def add_request(
        self,
        prompt_token_ids: list[int],
        params: SamplingParams,
        request_id: str | None = None,
    ) -> Request:
        max_tokens = self.check_length(len(prompt_token_ids), params.max_tokens)
        n_vocab = self.tokenizer.n_vocab
        for param, ids in (("prompt", prompt_token_ids), ("stop_token_ids", params.stop_token_ids)):
            bad = next((t for t in ids if not 0 <= t < n_vocab), None)
            if bad is not None:
                raise InvalidRequestError(
                    f"token id {bad} is outside the vocabulary (0..{n_vocab - 1})", param=param
                )
        request = Request(
            request_id=request_id or uuid.uuid4().hex,
            prompt_token_ids=list(prompt_token_ids),
            params=params,
            max_tokens=max_tokens,
            eos_token_ids=frozenset() if params.ignore_eos else self.tokenizer.eog_token_ids,
        )
        if request.request_id in self._tracked:
            raise InvalidRequestError(f"duplicate request id {request.request_id}")
        seed = params.seed if params.seed is not None else self._seeds.spawn(1)[0]
        tracked = _Tracked(
            request,
            IncrementalDetokenizer(self.tokenizer.token_bytes, params.stop),
            np.random.default_rng(seed),
        )
        with self.lock:
            self.scheduler.add(request)
            self._tracked[request.request_id] = tracked
        return request

    def clear_prefix_cache(self) -> None:
        """Evict every cached prefix and clear its cells now (for direct use of the
        runner, e.g. scoring, while no request runs)."""
        with self.lock:
            self.scheduler.clear_prefix_cache()
            self._apply_kv_ops()

    def abort(self, request_id: str) -> bool:
        with self.lock:
            request = self.scheduler.abort(request_id)
            self._tracked.pop(request_id, None)
        return request is not None

    @property
    def has_unfinished(self) -> bool:
        return self.scheduler.has_unfinished

    @property
    def speculative_stats(self) -> SpeculativeStats:
        return self.speculator.stats if self.speculator else SpeculativeStats()

    @property
    def speculative_method(self) -> str:
        return self.speculator.drafter.method if self.speculator else "off"

    # -- one step --------------------------------------------------------------------------
    def step(self) -> list[RequestOutput]:
        with self.lock:
            scheduled = self.scheduler.schedule()
            self._apply_kv_ops()
            wants = self._plan_drafts(self.speculator, scheduled) if self.speculator else {}
        if not scheduled.chunks:
            return []
        if self.speculator is not None:  # a draft model runs: requests may come and go
            self.speculator.attach(scheduled, wants)
        try:
            logits = self.runner.execute(scheduled.chunks)
        except KVCacheFullError:
            with self.lock:  # llama.cpp restored the cache; make room and retry next step
                self.scheduler.preempt_newest()
            return []
        chunks = scheduled.sampled
        sampled, failed = self._sample(chunks, logits)
        with self.lock:
            outputs = [self._fail(request, "sampling", exc) for request, exc in failed]
            known = {c.request.request_id: len(c.request.output_token_ids) for c in chunks}
            for request in self.scheduler.update(scheduled, sampled):
                try:
                    outputs.append(self._output(request, known[request.request_id]))
                except Exception as exc:
                    outputs.append(self._fail(request, "detokenizing", exc))
            return outputs

    def _apply_kv_ops(self) -> None:
        """Make the scheduler's queued changes to the KV cells, in order (lock held), and
        to a draft model's cells."""
        for op in self.scheduler.take_kv_ops():
            if op.source is not None:
                self.runner.copy(op.source, op.slot)
            if op.keep:
                self.runner.trim(op.slot, op.keep)
            else:
                self.runner.free(op.slot)
            if self.speculator is not None:
                self.speculator.drafter.apply(op)

    def _sample(
        self, chunks: Sequence[ScheduledChunk], logits: npt.NDArray[np.float32]
    ) -> tuple[dict[str, list[int]], list[tuple[Request, Exception]]]:
        """Each sampled chunk's new tokens: the drafts the model agrees with, then one of
        its own (``1 + len(draft)`` logits rows per chunk).

        Sampling runs without the lock (only this thread appends tokens); a request
        aborted meanwhile has left ``_tracked`` and is skipped. A request whose sampling
        fails (a bug its parameters hit) ends alone; the batch goes on."""
        sampled: dict[str, list[int]] = {}
        failed: list[tuple[Request, Exception]] = []
        end = 0
        for chunk in chunks:
            start, end = end, end + 1 + len(chunk.draft)
            request = chunk.request
            tracked = self._tracked.get(request.request_id)
            if tracked is not None:
                try:
                    sampled[request.request_id] = verify(
                        logits[start:end], chunk.draft, request.params, tracked.rng,
                        request.prompt_token_ids, request.output_token_ids, self.sampler,
                    )  # fmt: skip
                except Exception as exc:
                    failed.append((request, exc))
            if chunk.draft and self.speculator is not None:
                self.speculator.settle(chunk, sampled.get(request.request_id))
        return sampled, failed

    def _plan_drafts(
        self, speculator: Speculator, scheduled: SchedulerOutput
    ) -> dict[int, DraftRequest]:
        """Let the speculator plan drafts in the step's spare batch tokens and KV cells
        (cells that cached prefixes hold are not spare: drafts are worth less)."""
        scheduled_tokens = sum(c.num_tokens for c in scheduled.chunks)
        return speculator.plan(
            scheduled,
            running=len(self.scheduler.running),
            spare_tokens=self.config.max_batch_tokens - scheduled_tokens,
            spare_cells=self.scheduler.free_cells - scheduled_tokens,
        )

    def _fail(self, request: Request, stage: str, error: Exception) -> RequestOutput:
        """End ``request`` with ``error`` (its KV cells are freed at the next step)."""
        log.error(
            "engine: request %s failed while %s; it ends with an error, the others go on",
            request.request_id, stage, exc_info=error,
        )  # fmt: skip
        if request.status.finished:
            request.status = RequestStatus.FINISHED_FAILED
        else:
            self.scheduler.finish(request, RequestStatus.FINISHED_FAILED)
        self._tracked.pop(request.request_id, None)
        return RequestOutput(
            request_id=request.request_id,
            text="",
            token_ids=(),
            finished=True,
            finish_reason=None,
            prompt_tokens=request.num_prompt_tokens,
            completion_tokens=len(request.output_token_ids),
            timings=request.timings,
            error=f"{type(error).__name__}: {error}",
        )

    def _output(self, request: Request, known: int) -> RequestOutput:
        """The text of the tokens after the first ``known`` ones; a stop string ends the
        request there and drops the tokens after it."""
        tracked = self._tracked[request.request_id]
        detok = tracked.detokenizer
        text = ""
        for i in range(known, len(request.output_token_ids)):
            text += detok.add(request.output_token_ids[i])
            if detok.stopped_on is not None:
                del request.output_token_ids[i + 1 :]
                break
        if detok.stopped_on is not None:
            request.stop_reason = detok.stopped_on
            if request.status.finished:  # a token up to here also ended it: "stop" wins
                request.status = RequestStatus.FINISHED_STOPPED
            else:
                self.scheduler.finish(request, RequestStatus.FINISHED_STOPPED)
        if request.status.finished:
            text += detok.flush()
            del self._tracked[request.request_id]
        return RequestOutput(
            request_id=request.request_id,
            text=text,
            token_ids=tuple(request.output_token_ids[known:]),
            finished=request.status.finished,
            finish_reason=request.finish_reason,
            prompt_tokens=request.num_prompt_tokens,
            completion_tokens=len(request.output_token_ids),
            timings=request.timings,
        )
