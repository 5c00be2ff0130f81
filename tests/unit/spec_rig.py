"""Fake runners for speculative decoding: a target that takes draft tokens, returns a logits
row for each one, keeps each slot's KV length and checks every batch and trim against it;
and a draft model's context that holds every cell's token."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from switchboard.engine.draft_model import TokenSpan
from switchboard.engine.scheduler import ScheduledChunk
from switchboard.errors import KVCacheFullError
from tests.unit.fakes import VOCAB, FakeRunner

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


class FakeDraftRunner:
    """A draft model's context: holds the token of every cell per slot, refuses a span that
    does not start where its slot's cells end or a batch over ``batch_tokens``, and
    predicts with ``predict`` (a greedy fake model). With ``capacity`` set, a batch that
    would hold more cells than that in all raises ``KVCacheFullError``."""

    def __init__(
        self, predict: Predict = count_up, batch_tokens: int = 64, capacity: int | None = None
    ) -> None:
        self.predict = predict
        self.batch_tokens = batch_tokens
        self.capacity = capacity
        self.cells: dict[int, list[int]] = {}
        self.decodes: list[list[TokenSpan]] = []
        self.freed: list[int] = []
        self.trims: list[tuple[int, int]] = []

    def decode(self, spans: Sequence[TokenSpan]) -> npt.NDArray[np.float32]:
        added = sum(len(s.tokens) for s in spans)
        if added > self.batch_tokens:
            raise AssertionError(f"a batch of {added} tokens, over {self.batch_tokens}")
        if self.capacity is not None and sum(map(len, self.cells.values())) + added > self.capacity:
            raise KVCacheFullError("the fake draft pool has no room for the batch")
        self.decodes.append(list(spans))
        rows = []
        for span in spans:
            held = self.cells.setdefault(span.slot, [])
            if len(held) != span.start:
                raise AssertionError(f"slot {span.slot} holds {len(held)} cells, not {span.start}")
            for i, token in enumerate(span.tokens):
                held.append(token)
                if i >= len(span.tokens) - span.outputs:
                    row = np.zeros(VOCAB, dtype=np.float32)
                    row[self.predict(held)] = 10.0
                    rows.append(row)
        return np.stack(rows) if rows else np.empty((0, VOCAB), dtype=np.float32)

    def free(self, slot: int) -> None:
        self.freed.append(slot)
        self.cells.pop(slot, None)

    def trim(self, slot: int, keep: int) -> None:
        if keep > len(self.cells.get(slot, [])):
            raise AssertionError(f"trim of draft slot {slot} to {keep} beyond its cells")
        self.trims.append((slot, keep))
        self.cells[slot] = self.cells.get(slot, [])[:keep]

    def copy(self, source: int, slot: int) -> None:
        self.cells[slot] = list(self.cells.get(source, []))
