"""Speculative decoding: draft a few tokens per sequence, verify them in the step's one
batched forward pass, keep the longest prefix the model agrees with plus one token of its
own. A step then emits up to ``k + 1`` tokens of a sequence for about the cost of one.

Continuous batching is kept: while at most ``max_seqs`` sequences run, every sequence that
samples in a step gets its own drafts in the same batch; drafts only take the step's spare
token budget and KV room, so they never delay a prompt or preempt a request. Each
sequence's output is the one it would have had without speculation (greedy: token for
token). ``max_seqs`` defaults to 1 because llama.cpp splits a batch whose sequences carry
unequal token counts into several passes (one per distinct count, with a partitioned
cache), which can cost a large batch more than its accepted drafts save.

The acceptance rule is the one of Leviathan et al., "Fast Inference from Transformers via
Speculative Decoding" (ICML 2023, Algorithm 1) and Chen et al., "Accelerating Large
Language Model Decoding with Speculative Sampling" (2023): a draft token ``x`` proposed
with probability ``q(x)`` is accepted with probability ``min(1, p(x) / q(x))``, where
``p`` is the model's distribution after the request's own sampling transforms; on
rejection the token is drawn from ``max(0, p - q)`` renormalised, and every later draft is
dropped. A draft (prompt lookup, or a draft model's arg-max; see ``Drafter``) is
deterministic, so ``q`` is a point mass on ``x``: accept
``x`` with probability ``p(x)``, and on rejection draw from ``p`` with ``x`` removed and the
rest renormalised. The emitted tokens are then distributed exactly as when sampling from
``p`` one token at a time. Greedy decoding is the case where ``p`` is a point mass on the
arg-max: a draft is accepted while it equals the model's own greedy token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from switchboard.engine.draft_model import DraftRequest
from switchboard.engine.ngram import ngram_draft
from switchboard.engine.params import SamplingParams
from switchboard.engine.sampler import Sampler, distribution
from switchboard.engine.scheduler import KvOp, ScheduledChunk, SchedulerOutput

Trim = Callable[[int, int], None]
"""(slot, keep): drop the KV cells of sequence ``slot`` from position ``keep`` on."""


@dataclass(frozen=True)
class SpeculativeConfig:
    """Prompt-lookup drafting: up to ``num_tokens`` drafts per sequence and step, from the
    longest suffix n-gram of ``ngram_max`` down to ``ngram_min`` tokens, while at most
    ``max_seqs`` sequences run."""

    num_tokens: int  # k: drafts per sequence and step
    ngram_min: int
    ngram_max: int
    max_seqs: int = 1

    def __post_init__(self) -> None:
        if min(self.num_tokens, self.max_seqs) < 1 or not 1 <= self.ngram_min <= self.ngram_max:
            raise ValueError(
                "speculative: need num_tokens, max_seqs >= 1 and 1 <= ngram_min <= ngram_max"
            )


class Drafter(Protocol):
    """Where drafts come from (``method``: its name in metrics): ``propose`` one per
    request; ``apply`` sees every change the scheduler makes to a slot's KV cells."""

    @property
    def method(self) -> str: ...

    def propose(self, wants: Sequence[DraftRequest]) -> list[list[int]]: ...

    def apply(self, op: KvOp) -> None: ...


@dataclass(frozen=True)
class NgramDrafter:
    """Prompt-lookup drafts (``ngram_draft``): no model, no state."""

    ngram_min: int
    ngram_max: int
    method: str = "ngram"

    def propose(self, wants: Sequence[DraftRequest]) -> list[list[int]]:
        return [ngram_draft(w.tokens, w.max_tokens, self.ngram_min, self.ngram_max) for w in wants]

    def apply(self, op: KvOp) -> None:
        pass


@dataclass
class SpeculativeStats:
    """Draft tokens verified and accepted since the engine started."""

    drafted: int = 0
    accepted: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


def verify(
    rows: npt.NDArray[np.float32],
    draft: Sequence[int],
    params: SamplingParams,
    rng: np.random.Generator,
    prompt_ids: Sequence[int],
    output_ids: Sequence[int],
    sampler: Sampler,
) -> list[int]:
    """The tokens one step emits: the accepted drafts, then one token of the model's own.
    ``rows[i]`` are the logits after the known tokens and ``draft[:i]``
    (``len(draft) + 1`` rows)."""
    out: list[int] = []
    for i, row in enumerate(rows[: len(draft) + 1]):
        history = [*output_ids, *out]
        if i == len(draft) or params.greedy:
            token = sampler(row, params, rng, prompt_ids, history)
            accepted = i < len(draft) and token == draft[i]
        else:
            token, accepted = _accept_or_resample(row, draft[i], params, rng, prompt_ids, history)
        out.append(token)
        if not accepted:
            break
    return out


def _accept_or_resample(
    row: npt.NDArray[np.float32],
    drafted: int,
    params: SamplingParams,
    rng: np.random.Generator,
    prompt_ids: Sequence[int],
    output_ids: Sequence[int],
) -> tuple[int, bool]:
    """Accept ``drafted`` with probability p(drafted); otherwise draw from p without it."""
    candidates, probs = distribution(row, params, prompt_ids, output_ids)
    hit = candidates == drafted
    if rng.random() < probs[hit].sum():
        return drafted, True
    residual = np.where(hit, 0.0, probs)
    total = residual.sum()
    if total <= 0.0:  # p(drafted) rounds to 1: nothing else can be drawn
        return drafted, True
    return int(candidates[rng.choice(len(candidates), p=residual / total)]), False


class Speculator:
    """Plans and attaches drafts to a step's sampled chunks and settles them after the
    forward pass, trimming the KV cells of rejected drafts.

    Each sequence's draft length adapts, as verifying a token costs a share of a step: after
    a fully accepted draft the next may be twice as long (up to ``num_tokens``), after a
    rejection it is one longer than the part accepted."""

    def __init__(
        self,
        config: SpeculativeConfig,
        max_model_len: int,
        trim: Trim,
        drafter: Drafter | None = None,
    ) -> None:
        self.config = config
        self.max_model_len = max_model_len
        self.trim = trim
        self.drafter: Drafter = drafter or NgramDrafter(config.ngram_min, config.ngram_max)
        self.stats = SpeculativeStats()
        self._lengths: dict[str, int] = {}  # request id -> its next draft length

    def plan(
        self, out: SchedulerOutput, running: int, spare_tokens: int, spare_cells: int
    ) -> dict[int, DraftRequest]:
        """What to draft for each sampled chunk (by its index in ``out.chunks``): up to
        ``num_tokens`` tokens, within the step's spare budget and KV room (reserved in
        chunk order), the request's ``max_tokens`` and the context window; nothing while
        more than ``max_seqs`` sequences are ``running``. Reads the scheduler's state: call
        it under the engine's lock."""
        config, lengths = self.config, self._lengths
        self._lengths = {}  # kept for the sequences sampled in this step
        if running > config.max_seqs:
            return {}
        wants: dict[int, DraftRequest] = {}
        for i, chunk in enumerate(out.chunks):
            request = chunk.request
            length = lengths.get(request.request_id, config.num_tokens)
            self._lengths[request.request_id] = length
            room = min(
                length,
                spare_tokens,
                spare_cells,
                request.max_tokens - len(request.output_token_ids) - 1,
                self.max_model_len - request.num_tokens - 1,
            )
            if not chunk.sample or room < 1:
                continue
            wants[i] = DraftRequest(chunk.slot, request.token_ids(0, request.num_tokens), room)
            spare_tokens -= room
            spare_cells -= room
        return wants

    def attach(self, out: SchedulerOutput, wants: dict[int, DraftRequest]) -> None:
        """Draft what ``plan`` asked for and attach the drafts to their chunks (a draft
        model runs here: call it without the engine's lock)."""
        drafts = self.drafter.propose(list(wants.values())) if wants else []
        for i, draft in zip(wants, drafts, strict=True):
            if draft:
                out.chunks[i] = replace(out.chunks[i], draft=tuple(draft))

    def settle(self, chunk: ScheduledChunk, emitted: Sequence[int] | None) -> None:
        """Count one verified chunk and drop its rejected drafts' KV cells; ``emitted`` is
        ``None`` when the request left the batch (aborted, failed) meanwhile."""
        accepted = len(emitted) - 1 if emitted else 0
        if emitted is not None:
            self.stats.drafted += len(chunk.draft)
            self.stats.accepted += accepted
            full = accepted == len(chunk.draft)
            self._lengths[chunk.request.request_id] = (
                min(self.config.num_tokens, 2 * accepted) if full else accepted + 1
            )
        if accepted < len(chunk.draft):
            self.trim(chunk.slot, chunk.start + chunk.num_tokens + accepted)
