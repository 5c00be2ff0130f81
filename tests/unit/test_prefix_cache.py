"""Prefix KV reuse: the cache's bookkeeping, and the scheduler and engine with it on. The
fake runner holds a cell count per slot and refuses a chunk that does not start where its
slot's cells end, so every reuse below is checked against the cells really kept."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.engine import LLMEngine, RequestOutput, SamplingParams, SchedulerConfig
from switchboard.engine.exact_reuse import ChunkLayout
from switchboard.engine.prefix_cache import MIN_REUSE_TOKENS, PrefixCache, PrefixMatch
from switchboard.engine.scheduler import ScheduledChunk
from tests.unit.fakes import FakeRunner, FakeTokenizer

pytestmark = pytest.mark.unit

SHARED = [(7 * i) % 50 + 1 for i in range(40)]  # a "system prompt" of 40 tokens
LAYOUT = ChunkLayout(32)  # chunks below SMALL_BATCH_ROWS: every cell rounds alike


def put(cache: PrefixCache, slot: int, tokens: list[int]) -> tuple[int, list[int]]:
    return cache.put(slot, tokens, len(tokens))


def prompt(tail: list[int]) -> list[int]:
    return SHARED + tail


def make(
    cache: int = 1024, runner: FakeRunner | None = None, **limits: int
) -> tuple[LLMEngine, FakeRunner]:
    config = dict(
        max_num_seqs=4, max_batch_tokens=32, kv_cache_tokens=1024, max_model_len=256,
        max_waiting=8, prefix_cache_tokens=cache,
    )  # fmt: skip
    config.update(limits)
    runner = runner or FakeRunner()
    return LLMEngine(runner, FakeTokenizer(), SchedulerConfig(**config)), runner


def run(engine: LLMEngine) -> dict[str, list[int]]:
    tokens: dict[str, list[int]] = {}
    for _ in range(1000):
        if not engine.has_unfinished:
            break
        for out in engine.step():
            tokens.setdefault(out.request_id, []).extend(out.token_ids)
    return tokens


def greedy(n: int = 4) -> SamplingParams:
    return SamplingParams(max_tokens=n, temperature=0, ignore_eos=True)


def first_chunk(runner: FakeRunner, rid: str) -> tuple[int, int]:
    """(start, tokens) of ``rid``'s first chunk: where its prefill began."""
    for batch in runner.batches:
        for req, start, n in batch:
            if req == rid:
                return start, n
    raise AssertionError(f"{rid} never ran")


def assert_cells_match(engine: LLMEngine, runner: FakeRunner) -> None:
    """The runner holds exactly the cells of running requests and cached prefixes."""
    scheduler = engine.scheduler
    held = {slot: n for slot, n in runner.kv.items() if n}
    expected = {r.slot: r.num_computed_tokens for r in scheduler.running if r.slot is not None}
    cache = scheduler.prefix_cache
    expected |= {s: cache.cached(s) for s in range(engine.config.max_num_seqs) if cache.cached(s)}
    assert held == {s: n for s, n in expected.items() if n}


# -- the cache alone ------------------------------------------------------------------------
def test_lookup_finds_the_longest_prefix_and_leaves_the_last_token() -> None:
    cache = PrefixCache(1000, LAYOUT)
    put(cache, 0, SHARED[:20])
    put(cache, 1, [*SHARED, 60, 61])
    put(cache, 2, [*SHARED[:30], 9, 9, 9])
    assert cache.lookup(prompt([60, 62])) == PrefixMatch(1, 41)
    assert cache.lookup([*SHARED, 60, 61]) == PrefixMatch(1, 41)  # identical: 1 to compute
    assert cache.lookup(SHARED[:25]) == PrefixMatch(1, 24)  # a strict prefix of a cached one
    assert cache.lookup([1, 2, 3]) is None


def test_a_match_shorter_than_the_minimum_is_not_reused() -> None:
    cache = PrefixCache(1000, LAYOUT)
    put(cache, 0, SHARED)
    assert cache.lookup([*SHARED[: MIN_REUSE_TOKENS - 1], 0, 0]) is None
    assert cache.lookup([*SHARED[:MIN_REUSE_TOKENS], 0]) == PrefixMatch(0, MIN_REUSE_TOKENS)


def test_equal_matches_go_to_the_least_recently_cached_slot() -> None:
    cache = PrefixCache(1000, LAYOUT)
    put(cache, 3, [*SHARED, 1])
    put(cache, 1, [*SHARED, 2])
    assert cache.lookup(prompt([5, 5])) == PrefixMatch(3, 40)


def test_the_bound_evicts_least_recently_used_entries_and_cuts_a_long_one() -> None:
    cache = PrefixCache(100, LAYOUT)
    assert put(cache, 0, list(range(40))) == (40, [])
    assert put(cache, 1, list(range(40))) == (40, [])
    assert put(cache, 2, list(range(40))) == (40, [0])  # 120 > 100: the oldest goes
    assert cache.cached_tokens == 80
    assert put(cache, 3, list(range(150))) == (100, [1, 2])  # alone over the bound: cut
    assert (cache.cached_tokens, len(cache), cache.cached(3)) == (100, 1, 100)


def test_a_cache_of_capacity_zero_keeps_nothing() -> None:
    cache = PrefixCache(0, LAYOUT)
    assert put(cache, 0, SHARED) == (0, [])
    assert (len(cache), cache.cached_tokens) == (0, 0)
    cache.count_admission(0, 40)
    assert (cache.stats.lookups, cache.stats.hits, cache.stats.computed_tokens) == (1, 0, 40)


# -- scheduler and engine with reuse --------------------------------------------------------
def test_a_shared_prefix_is_reused_and_only_the_rest_is_prefilled() -> None:
    engine, runner = make()
    engine.add_request(prompt([60, 61, 62]), greedy(), "a")
    run(engine)
    engine.add_request(prompt([63, 62]), greedy(), "b")
    run(engine)
    assert first_chunk(runner, "a") == (0, 32)
    assert first_chunk(runner, "b") == (40, 2)  # 40 shared tokens reused
    stats = engine.scheduler.prefix_cache.stats
    assert (stats.lookups, stats.hits) == (2, 1)
    assert (stats.computed_tokens, stats.reused_tokens) == (43 + 2, 40)


def test_an_identical_prompt_and_a_strict_prefix_reuse_all_but_one_token() -> None:
    engine, runner = make()
    engine.add_request(prompt([60, 61]), greedy(), "a")
    run(engine)
    engine.add_request(prompt([60, 61]), greedy(), "same")
    run(engine)
    engine.add_request(SHARED[:30], greedy(), "prefix")
    run(engine)
    assert first_chunk(runner, "same") == (41, 1)
    assert first_chunk(runner, "prefix") == (29, 1)


def test_outputs_are_the_same_with_and_without_reuse() -> None:
    prompts = {"a": prompt([60]), "b": prompt([61, 2]), "c": SHARED[:20], "d": prompt([60])}
    results = []
    for cache in (0, 1024):
        engine, _ = make(cache)
        tokens: dict[str, list[int]] = {}
        for rid, ids in prompts.items():
            engine.add_request(ids, greedy(6), rid)
            tokens |= run(engine)
        results.append(tokens)
    assert results[0] == results[1]


def test_a_conversation_turn_reuses_the_previous_turn_with_its_answer() -> None:
    engine, runner = make()
    engine.add_request(prompt([60]), greedy(4), "turn-1")
    answer = run(engine)["turn-1"]
    engine.add_request(prompt([60, *answer, 3, 4]), greedy(4), "turn-2")
    run(engine)
    # the first turn's cells cover its prompt and its answer but the last sampled token
    assert first_chunk(runner, "turn-2") == (41 + 3, 3)


def test_abort_keeps_only_the_computed_prefix_and_frees_the_rest() -> None:
    class AbortingRunner(FakeRunner):
        engine: LLMEngine

        def execute(self, chunks: list[ScheduledChunk]) -> npt.NDArray[np.float32]:  # type: ignore[override]
            if len(self.batches) == 1:
                self.engine.abort("a")  # a client disconnects while a's chunk runs
            return super().execute(chunks)

    runner = AbortingRunner()
    engine, _ = make(runner=runner)
    runner.engine = engine
    engine.add_request(prompt([60] * 30), greedy(), "a")
    run(engine)  # chunks of 32: 0-32, then 32-64 while a is aborted: 32 cells computed
    scheduler = engine.scheduler
    assert scheduler.kv_cells_used == 0
    assert scheduler.prefix_cache.cached_tokens == 32
    engine.step()  # applies the removals queued by the abort
    assert_cells_match(engine, runner)
    assert runner.kv == {0: 32}


def test_preemption_evicts_cached_prefixes_first_and_frees_the_victim() -> None:
    engine, runner = make(120, kv_cache_tokens=120, max_model_len=120, max_num_seqs=3)
    engine.add_request(prompt([60]), greedy(2), "cached")
    run(engine)
    assert engine.scheduler.prefix_cache.cached_tokens == 42
    engine.add_request([1] * 20, greedy(60), "a")
    engine.add_request([2] * 20, greedy(60), "b")
    requests = list(engine.scheduler.waiting)
    tokens = run(engine)
    assert [len(tokens[r]) for r in "ab"] == [60, 60]
    assert sum(r.num_preemptions for r in requests) > 0  # 2 x 80 cells > 120
    assert engine.scheduler.kv_cells_used == 0
    assert engine.scheduler.prefix_cache.cached_tokens == 79  # b, the last to finish
    engine.step()
    assert_cells_match(engine, runner)


def test_no_cells_leak_over_many_mixed_requests_within_the_bound() -> None:
    engine, runner = make(cache=100, kv_cache_tokens=300, max_model_len=100, max_num_seqs=3)
    for i in range(12):
        engine.add_request(prompt([i, i + 1] * (i % 4)), greedy(3 + i % 5), f"r{i}")
        if i % 3 == 2:
            engine.abort(f"r{i - 1}")
        for _ in range(3):
            engine.step()
            assert engine.scheduler.prefix_cache.cached_tokens <= 100
    run(engine)
    engine.step()
    assert engine.scheduler.prefix_cache.stats.hits > 0
    assert_cells_match(engine, runner)


def test_the_least_recently_used_prefix_is_evicted_for_a_new_request() -> None:
    engine, _ = make(max_num_seqs=2)
    for rid, first in (("a", 10), ("b", 20), ("c", 30)):  # no shared prefix: three slots' worth
        engine.add_request([first] * 30, greedy(), rid)
        run(engine)
    cache = engine.scheduler.prefix_cache
    assert len(cache) == 2
    assert cache.lookup([10] * 30) is None  # a's prefix, the oldest, was evicted for c
    assert cache.lookup([20] * 30) is not None
    assert cache.lookup([30] * 30) is not None


def test_a_full_cache_found_by_the_runner_is_cleared_before_anyone_is_preempted() -> None:
    engine, _ = make()
    engine.add_request(prompt([60]), greedy(), "a")
    run(engine)
    engine.add_request([9] * 20, greedy(), "b")
    engine.step()
    assert engine.scheduler.preempt_newest() is None  # the cached prefix went instead
    assert (len(engine.scheduler.prefix_cache), len(engine.scheduler.running)) == (0, 1)


def test_clear_prefix_cache_frees_every_cached_slot_at_once() -> None:
    engine, runner = make()
    for rid, first in (("a", 10), ("b", 20)):
        engine.add_request([first] * 30, greedy(), rid)
    run(engine)
    assert len(engine.scheduler.prefix_cache) == 2
    engine.clear_prefix_cache()
    assert len(engine.scheduler.prefix_cache) == 0
    assert not any(runner.kv.values())


def test_outputs_report_the_prompt_whatever_was_reused() -> None:
    engine, _ = make()
    outs: list[RequestOutput] = []
    for rid in "ab":
        engine.add_request(prompt([60]), greedy(2), rid)
        while engine.has_unfinished:
            outs.extend(engine.step())
    assert [o.prompt_tokens for o in outs if o.finished] == [41, 41]


def test_a_partial_match_is_copied_into_an_empty_slot_and_the_cached_prefix_stays() -> None:
    engine, runner = make()
    engine.add_request(prompt([60, 61]), greedy(), "a")
    run(engine)
    engine.add_request(prompt([62]), greedy(), "b")
    run(engine)
    assert runner.copied == [(0, 1)]  # a's slot keeps a's tokens for later
    assert first_chunk(runner, "b") == (40, 1)
    engine.add_request(prompt([60, 61]), greedy(), "a-again")
    run(engine)
    assert first_chunk(runner, "a-again") == (41, 1)  # a's whole prompt, still cached
    engine.step()
    assert_cells_match(engine, runner)


def test_with_no_empty_slot_the_cached_slot_itself_is_reused() -> None:
    engine, runner = make(max_num_seqs=1)
    engine.add_request(prompt([60, 61]), greedy(), "a")
    run(engine)
    engine.add_request(prompt([62]), greedy(), "b")
    run(engine)
    assert runner.copied == []
    assert (runner.trimmed[-1], first_chunk(runner, "b")) == ((0, 40), (40, 1))


def test_a_copy_source_evicted_in_the_same_step_is_copied_first() -> None:
    engine, runner = make(
        128, kv_cache_tokens=128, max_model_len=64, max_batch_tokens=64, max_num_seqs=3
    )
    engine.add_request(prompt([60]), greedy(), "a")  # 44 cells stay cached in slot 0
    run(engine)
    engine.add_request(prompt([61, 62]), greedy(), "b")  # copies 40 of a's cells
    engine.add_request([9] * 50, greedy(), "c")  # needs a's cells: a is evicted
    engine.step()  # the fake runner refuses b's chunk if its cells were not copied
    assert runner.copied == [(0, 1)]
    assert len(engine.scheduler.prefix_cache) == 0
    assert runner.kv == {1: 42, 2: 50}
