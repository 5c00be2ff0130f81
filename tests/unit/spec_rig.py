"""A fake runner for speculative decoding: it takes draft tokens, returns a logits row for
each one, keeps each slot's KV length and checks every batch and trim against it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from switchboard.engine.scheduler import ScheduledChunk
from tests.unit.fakes import FakeRunner

Predict = Callable[[Sequence[int]], int]
"""The fake model: the whole context -> its greedy next token."""


def count_up(context: Sequence[int]) -> int:
    return (context[-1] + 1) % 64


class DraftingFakeRunner(FakeRunner):
    def __init__(self, predict: Predict = count_up) -> None:
        super().__init__()
        self.predict = predict
        self.trims: list[tuple[int, int]] = []
        self.drafts: list[tuple[str, tuple[int, ...]]] = []

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        rows = []
        for chunk in chunks:
            if self.kv.get(chunk.slot, 0) != chunk.start:
                raise AssertionError(f"slot {chunk.slot} holds {self.kv.get(chunk.slot)} cells")
            self.kv[chunk.slot] = chunk.start + chunk.num_tokens + len(chunk.draft)
            if chunk.draft:
                self.drafts.append((chunk.request.request_id, chunk.draft))
            if not chunk.sample:
                continue
            context = chunk.request.token_ids(0, chunk.start + chunk.num_tokens)
            for j in range(len(chunk.draft) + 1):
                row = np.zeros(self.vocab, dtype=np.float32)
                row[self.predict([*context, *chunk.draft[:j]])] = 10.0
                rows.append(row)
        return np.stack(rows) if rows else np.empty((0, self.vocab), dtype=np.float32)

    def trim(self, slot: int, keep: int) -> None:
        if keep > self.kv.get(slot, 0):
            raise AssertionError(f"trim of slot {slot} to {keep} beyond its cells")
        self.trims.append((slot, keep))
        self.kv[slot] = keep
