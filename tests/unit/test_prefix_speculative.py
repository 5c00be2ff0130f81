"""Prefix KV reuse and speculative decoding together: a slot kept for reuse holds the cells
of accepted tokens only, a later request reusing it decodes as without the cache, and drafts
never take the cells that cached prefixes hold. The fake runner holds every cell's token and
refuses a chunk whose slot does not hold exactly its request's earlier tokens."""

from __future__ import annotations

import pytest

from switchboard.engine import LLMEngine, SamplingParams, SchedulerConfig
from switchboard.engine.speculative import SpeculativeConfig, Speculator
from tests.unit.fakes import FakeTokenizer
from tests.unit.spec_rig import CellsFakeRunner, Predict, count_up

pytestmark = pytest.mark.unit

SHARED = [(7 * i) % 50 + 1 for i in range(40)]  # a "system prompt" of 40 tokens


def make(runner: CellsFakeRunner, cache: int, k: int = 8, **limits: int) -> LLMEngine:
    config = dict(
        max_num_seqs=4, max_batch_tokens=64, kv_cache_tokens=1024, max_model_len=256,
        max_waiting=8, prefix_cache_tokens=cache,
    )  # fmt: skip
    config.update(limits)
    speculator = Speculator(SpeculativeConfig(k, 1, 16, 4), config["max_model_len"], runner.trim)
    return LLMEngine(runner, FakeTokenizer(), SchedulerConfig(**config), speculator=speculator)


def generate(engine: LLMEngine, rid: str, prompt: list[int], max_tokens: int) -> list[int]:
    params = SamplingParams(max_tokens=max_tokens, temperature=0, ignore_eos=True)
    engine.add_request(prompt, params, rid)
    tokens: list[int] = []
    for _ in range(500):
        if not engine.has_unfinished:
            break
        for out in engine.step():
            tokens.extend(out.token_ids)
    return tokens


def alternating(context: list[int] | tuple[int, ...]) -> int:
    """A fake model whose answer repeats a 3-token period for a while, then breaks it: the
    n-gram drafts are accepted in part and rejected in part."""
    return context[-3] if len(context) % 7 else (context[-1] + 5) % 64


@pytest.mark.parametrize("predict", [count_up, alternating])
def test_a_kept_slot_holds_only_accepted_cells_and_its_reuse_decodes_as_without_cache(
    predict: Predict,
) -> None:
    first = [*SHARED, 9, 10, 11, 9, 10, 11, 9, 10]
    runs: dict[str, list[int]] = {}
    for label, cache in (("reuse", 1024), ("recompute", 0)):
        runner = CellsFakeRunner(predict)
        engine = make(runner, cache)
        answer = generate(engine, "first", first, 12)
        stats = engine.speculative_stats
        assert stats.drafted > stats.accepted  # some drafts were rejected and trimmed
        engine.step()  # applies what the finished request left to its slot
        cache_ = engine.scheduler.prefix_cache
        kept = {s: len(c) for s, c in runner.cells.items() if c}
        assert kept == {s: cache_.cached(s) for s in range(4) if cache_.cached(s)}
        follow_up = [*first, *answer, 33, 34, 35]  # the next turn of the conversation
        runs[label] = generate(engine, "second", follow_up, 12)
        if cache:
            reused = cache_.stats.reused_tokens
            assert reused == len(first) + len(answer) - 1  # the answer's cells too
    assert runs["reuse"] == runs["recompute"]


def test_drafts_leave_the_cells_of_cached_prefixes_alone() -> None:
    """One pool of 64 cells: a cached prefix holds 43, and a request decoding beside it
    drafts only into the cells still free, so llama.cpp never finds the pool full."""
    runner = CellsFakeRunner(lambda context: context[-12], capacity=64)  # copies its source
    engine = make(runner, 64, kv_cache_tokens=64, max_model_len=64)
    generate(engine, "cached", SHARED, 4)
    engine.step()
    assert engine.scheduler.prefix_cache.cached_tokens == 43
    source = list(range(50, 62))
    answer = generate(engine, "beside", [*source, 50, 51], 10)  # 14 cells, 7 left free
    assert answer == source[2:]
    assert engine.speculative_stats.accepted > 0
    assert runner.full == 0


def test_a_stop_string_inside_accepted_drafts_leaves_a_reusable_prefix() -> None:
    """The output is cut inside a step's accepted drafts; the cells kept are those of the
    tokens that remain, and the next turn reuses them as they are."""
    first = [*SHARED, *[1, 2, 3] * 3]
    params = SamplingParams(max_tokens=20, temperature=0, stop=("cd",))
    runs: dict[str, list[int]] = {}
    for label, cache in (("reuse", 1024), ("recompute", 0)):
        engine = make(CellsFakeRunner(lambda context: context[-3]), cache, k=6)
        request = engine.add_request(first, params, "first")
        while engine.has_unfinished:
            engine.step()
        engine.step()
        answer = request.output_token_ids
        assert answer == [1, 2, 3]  # b c d: the stop string ends inside the drafts
        runs[label] = generate(engine, "second", [*first, *answer, 40, 41], 8)
        if cache:
            assert engine.scheduler.prefix_cache.stats.reused_tokens == len(first) + 3
    assert runs["reuse"] == runs["recompute"]
