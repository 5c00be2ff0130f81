"""A fake runner for speculative decoding: it takes draft tokens, returns a logits row for
each one, keeps each slot's KV length and checks every batch and trim against it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from switchboard.engine.scheduler import ScheduledChunk
from switchboard.errors import KVCacheFullError
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


class CellsFakeRunner(DraftingFakeRunner):
    """Holds the token of every KV cell per slot and refuses a chunk whose slot does not
    hold exactly its request's tokens before it, so a reused prefix with a stale or
    rejected cell fails the batch. With ``capacity`` set, the slots share one pool of that
    many cells (llama.cpp's unified KV): a batch that does not fit raises
    ``KVCacheFullError`` and is counted in ``full``, the cells left as they were."""

    def __init__(self, predict: Predict = count_up, capacity: int | None = None) -> None:
        super().__init__(predict)
        self.cells: dict[int, list[int]] = {}
        self.capacity = capacity
        self.full = 0

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        for chunk in chunks:
            held = self.cells.get(chunk.slot, [])
            if held != chunk.request.token_ids(0, chunk.start):
                raise AssertionError(f"slot {chunk.slot} holds {held}, not the request's tokens")
        added = sum(c.num_tokens + len(c.draft) for c in chunks)
        if self.capacity is not None and sum(map(len, self.cells.values())) + added > self.capacity:
            self.full += 1
            raise KVCacheFullError("the fake pool has no room for the batch")
        rows = super().execute(chunks)
        for chunk in chunks:
            end = chunk.start + chunk.num_tokens
            written = [*chunk.request.token_ids(chunk.start, end), *chunk.draft]
            self.cells[chunk.slot] = self.cells.get(chunk.slot, []) + written
        return rows

    def trim(self, slot: int, keep: int) -> None:
        super().trim(slot, keep)
        self.cells[slot] = self.cells.get(slot, [])[:keep]

    def free(self, slot: int) -> None:
        super().free(slot)
        self.cells.pop(slot, None)

    def copy(self, source: int, slot: int) -> None:
        super().copy(source, slot)
        self.cells[slot] = list(self.cells.get(source, []))
