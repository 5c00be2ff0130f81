"""Draft-model speculation: a small model that shares the target's vocabulary proposes each
sequence's next tokens greedily, in its own llama.cpp context (a second ``LlamaRunner``).

The draft context keeps one KV sequence per engine slot, and the drafter records the
tokens whose cells each sequence holds. Before proposing, it compares that record with the
request's tokens (prompt + output): cells past the common prefix are dropped (rejected
drafts, another request's prefix on a reused slot, a preempted request recomputed), the
rest of the request's tokens are decoded in chunks of the batch size (the prompt's
prefill, then the tokens accepted since), and then up to ``k`` tokens are proposed one
decode at a time, every sequence of the step in the same batch. The slot changes the
scheduler makes to the target's cells (freed, cut, copied) are made to the draft's cells
too, so a finished, aborted or preempted request's draft cells go when its target cells
go; correctness never depends on it, since every proposal starts from the comparison.

A draft is the draft model's arg-max, a deterministic proposal, so the speculator's
point-mass rejection rule applies to sampled requests unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from switchboard.engine.scheduler import KvOp
from switchboard.errors import KVCacheFullError, ModelMismatchError


@dataclass(frozen=True)
class TokenSpan:
    """``tokens`` of sequence ``slot`` from position ``start`` in one forward pass; the last
    ``outputs`` of them get a logits row each."""

    slot: int
    start: int
    tokens: Sequence[int]
    outputs: int = 0


@dataclass(frozen=True)
class DraftRequest:
    """Propose up to ``max_tokens`` tokens to follow ``tokens`` (a request's prompt and
    output) on sequence ``slot``."""

    slot: int
    tokens: Sequence[int]
    max_tokens: int


class DraftRunner(Protocol):
    def decode(self, spans: Sequence[TokenSpan]) -> npt.NDArray[np.float32]: ...

    def free(self, slot: int) -> None: ...

    def trim(self, slot: int, keep: int) -> None: ...

    def copy(self, source: int, slot: int) -> None: ...


class Vocabulary(Protocol):
    n_vocab: int
    vocab_type: int
    add_bos: bool
    add_eos: bool
    bos_id: int
    eos_id: int

    def token_text(self, token_id: int) -> bytes: ...


def check_vocabularies(target: Vocabulary, draft: Vocabulary) -> None:
    """Raise ``ModelMismatchError`` unless ``draft`` tokenizes as ``target`` does: the same
    vocabulary type, size, special tokens and token texts (llama.cpp's own rule, in
    ``common_speculative_are_compatible``, but with equal sizes, as every draft token id
    must be one of the target's)."""
    for field in ("vocab_type", "n_vocab", "add_bos", "add_eos", "bos_id", "eos_id"):
        ours, theirs = getattr(draft, field), getattr(target, field)
        if ours != theirs:
            raise ModelMismatchError(
                f"the draft model's vocabulary differs from the target's: {field} {ours} "
                f"(draft) vs {theirs} (target)"
            )
    for token_id in range(target.n_vocab):
        if draft.token_text(token_id) != target.token_text(token_id):
            raise ModelMismatchError(
                f"the draft model's vocabulary differs from the target's: token {token_id} "
                f"is {draft.token_text(token_id)!r} (draft) vs "
                f"{target.token_text(token_id)!r} (target)"
            )


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    if not n:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


class ModelDrafter:
    """Proposes drafts with a draft model's context, ``batch_tokens`` tokens per decode."""

    method = "draft"

    def __init__(self, runner: DraftRunner, batch_tokens: int) -> None:
        self.runner = runner
        self.batch_tokens = batch_tokens
        self.held: dict[int, list[int]] = {}  # slot -> the tokens of its cells, in order

    def propose(self, wants: Sequence[DraftRequest]) -> list[list[int]]:
        """Each request's draft; none when the draft context has no room for them."""
        try:
            rows = self._catch_up(wants)
            return self._extend(wants, rows)
        except KVCacheFullError:  # a unified pool is full: decode without drafts
            return [[] for _ in wants]

    def apply(self, op: KvOp) -> None:
        """Make the change the scheduler made to the target's cells of ``op.slot``."""
        if op.source is not None:
            source = list(self.held.get(op.source, []))
            if source:
                self.runner.copy(op.source, op.slot)
            elif op.slot in self.held:
                self.runner.free(op.slot)
            self._set(op.slot, source)
        if op.keep < len(self.held.get(op.slot, [])):
            self._cut(op.slot, op.keep)

    def _catch_up(self, wants: Sequence[DraftRequest]) -> list[npt.NDArray[np.float32]]:
        """Sync each sequence with its request's tokens; return the logits after them."""
        spans = []
        for want in wants:
            held = self.held.get(want.slot, [])
            keep = min(common_prefix(held, want.tokens), len(want.tokens) - 1)
            if keep < len(held):
                self._cut(want.slot, keep)
            spans.append(TokenSpan(want.slot, keep, want.tokens[keep:], 1))
        rows: list[npt.NDArray[np.float32]] = []
        batch: list[TokenSpan] = []
        room = self.batch_tokens
        for span in spans:
            done = 0
            while done < len(span.tokens):
                n = min(len(span.tokens) - done, room)
                last = done + n == len(span.tokens)
                piece = span.tokens[done : done + n]
                batch.append(TokenSpan(span.slot, span.start + done, piece, int(last)))
                done, room = done + n, room - n
                if not room:
                    rows.extend(self._decode(batch))
                    batch, room = [], self.batch_tokens
        if batch:
            rows.extend(self._decode(batch))
        return rows

    def _extend(
        self, wants: Sequence[DraftRequest], rows: Sequence[npt.NDArray[np.float32]]
    ) -> list[list[int]]:
        """Greedy drafts, one decode per round for every sequence that wants more."""
        drafts = [[int(np.argmax(row))] for row in rows]
        while live := [i for i, w in enumerate(wants) if len(drafts[i]) < w.max_tokens]:
            spans = [
                TokenSpan(wants[i].slot, len(self.held[wants[i].slot]), drafts[i][-1:], 1)
                for i in live
            ]
            for i, row in zip(live, self._decode(spans), strict=True):
                drafts[i].append(int(np.argmax(row)))
        return drafts

    def _decode(self, spans: Sequence[TokenSpan]) -> npt.NDArray[np.float32]:
        rows = self.runner.decode(spans)
        for span in spans:
            self.held.setdefault(span.slot, []).extend(span.tokens)
        return rows

    def _cut(self, slot: int, keep: int) -> None:
        if keep:
            self.runner.trim(slot, keep)
        else:
            self.runner.free(slot)
        self._set(slot, self.held.get(slot, [])[:keep])

    def _set(self, slot: int, tokens: list[int]) -> None:
        if tokens:
            self.held[slot] = tokens
        else:
            self.held.pop(slot, None)
