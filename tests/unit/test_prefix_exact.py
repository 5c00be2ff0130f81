"""Prefix reuse that keeps greedy outputs identical: the fake runner below rounds like
llama.cpp's CPU kernels, a cell computed in a batch of fewer than ``SMALL_BATCH_ROWS`` rows
differently from one computed in a bigger batch, and every logits row depends on how each
cell of its sequence was rounded. Reuse must give every token the rounding of a prefill of
the whole prompt from position 0."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.engine import LLMEngine, SamplingParams, SchedulerConfig
from switchboard.engine.exact_reuse import SMALL_BATCH_ROWS, ChunkLayout
from switchboard.engine.scheduler import ScheduledChunk
from tests.unit.fakes import FakeRunner, FakeTokenizer

pytestmark = pytest.mark.unit

BLOCK = 64  # max_batch_tokens: prefill chunks of 64 rows round like big batches


class RoundingRunner(FakeRunner):
    """Keeps, per slot, how each cell was rounded (``True``: in a batch of at least
    ``SMALL_BATCH_ROWS`` rows); the predicted token depends on all of them."""

    def __init__(self) -> None:
        super().__init__()
        self.rounding: dict[int, list[bool]] = {}

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        rows = sum(c.num_tokens + len(c.draft) for c in chunks)
        for chunk in chunks:
            cells = self.rounding.setdefault(chunk.slot, [])
            cells[chunk.start :] = [rows >= SMALL_BATCH_ROWS] * chunk.num_tokens
        logits = super().execute(chunks)
        for row, chunk in zip(logits, [c for c in chunks if c.sample], strict=True):
            shift = zlib.crc32(bytes(self.rounding[chunk.slot])) % 5
            row[:] = np.roll(row, shift)
        return logits

    def free(self, slot: int) -> None:
        super().free(slot)
        self.rounding.pop(slot, None)

    def trim(self, slot: int, keep: int) -> None:
        super().trim(slot, keep)
        del self.rounding.get(slot, [])[keep:]

    def copy(self, source: int, slot: int) -> None:
        super().copy(source, slot)
        self.rounding[slot] = list(self.rounding.get(source, []))


def engine(cache: int) -> tuple[LLMEngine, RoundingRunner]:
    runner = RoundingRunner()
    config = SchedulerConfig(
        max_num_seqs=3, max_batch_tokens=BLOCK, kv_cache_tokens=1024, max_model_len=320,
        max_waiting=8, prefix_cache_tokens=cache,
    )  # fmt: skip
    return LLMEngine(runner, FakeTokenizer(), config), runner


def tokens(n: int, seed: int) -> list[int]:
    return [(seed * 7 + 11 * i) % 50 + 1 for i in range(n)]


BASE = tokens(100, 1)
PROMPTS = {
    "first": BASE,  # 64 + 36: the last 36 cells round small
    "same": BASE,
    "longer": [*BASE, *tokens(50, 2)],  # 64 + 64 + 22: cells 64..127 round big now
    "tail": [*BASE[:90], *tokens(10, 3)],  # differs in the small last chunk
    "long": [*BASE, *tokens(100, 4)],  # 200: cells 100..191 big, in blocks from 64
    "long-again": [*BASE, *tokens(100, 4)[:60], *tokens(40, 5)],
    "cut": BASE[:70],  # a prefix: 64 + 6
}


def run_one_at_a_time(engine: LLMEngine) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for rid, ids in PROMPTS.items():
        engine.add_request(ids, SamplingParams(max_tokens=5, temperature=0, ignore_eos=True), rid)
        while engine.has_unfinished:
            for output in engine.step():
                out.setdefault(output.request_id, []).extend(output.token_ids)
    return out


def test_greedy_outputs_are_identical_with_and_without_reuse_where_rounding_matters() -> None:
    with_cache, _ = engine(1024)
    without, _ = engine(0)
    assert run_one_at_a_time(with_cache) == run_one_at_a_time(without)
    stats = with_cache.scheduler.prefix_cache.stats
    assert stats.hits >= 5
    assert stats.reused_tokens >= 300  # reuse is cut where it must be, not given up


def test_a_reused_prefill_starts_where_fresh_rounding_allows_and_ends_on_a_block() -> None:
    eng, runner = engine(1024)
    run_one_at_a_time(eng)
    first = {}
    for batch in runner.batches:
        for rid, start, n in batch:
            first.setdefault(rid, (start, n))
    assert first["same"] == (99, 1)  # the small last chunk: any cut rounds alike
    assert first["longer"] == (64, 64)  # cells 64..99 were small, here they are big
    assert first["tail"] == (90, 10)
    assert first["long-again"] == (128, 64)  # 160 shared, but 160..191 must be big


def test_the_layout_gives_the_cells_a_fresh_prefill_rounds_big() -> None:
    layout = ChunkLayout(BLOCK)
    assert [layout.big_until(n) for n in (10, 64, 100, 128, 150, 192, 200)] == [
        0, 64, 64, 128, 128, 192, 192,
    ]  # fmt: skip
    assert ChunkLayout(32).big_until(100) == 0  # every chunk is small
    assert layout.chunk_end(100, 300) == 128
    assert layout.chunk_end(128, 300) == 192
    assert layout.chunk_end(280, 300) == 300


def test_exact_reuse_keeps_only_cells_rounded_as_a_fresh_prefill_would() -> None:
    layout = ChunkLayout(BLOCK)
    # cached cells big below 64; the new prompt of 150 rounds big below 128
    assert layout.exact_reuse(100, cached_big_until=64, length=150) == 64
    # same rounding; the rest (100..127 of a big block) would be a chunk of 28 small rows
    assert layout.exact_reuse(100, cached_big_until=128, length=150) == 64
    assert layout.exact_reuse(64, cached_big_until=128, length=150) == 64
    assert layout.exact_reuse(130, cached_big_until=128, length=150) == 130  # small tail
    assert layout.exact_reuse(99, cached_big_until=64, length=100) == 99
