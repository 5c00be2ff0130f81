"""Prefix KV reuse on the real default model: reused cells give bit-identical logits to
recomputing them in the same chunks, and the KV cells llama.cpp holds are exactly those of
running requests and cached prefixes after aborts, preemption and clearing. (Greedy output
is not compared with a recompute in other chunks: llama.cpp's CPU kernels round a chunk of
fewer than 64 rows differently from a longer one, so any change of chunking, e.g. a
prompt's tail, can move a near-tie; see docs/engine.md.)"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import pytest

from switchboard.config import EngineSettings
from switchboard.engine import SamplingParams
from switchboard.engine.local import LocalEngine
from switchboard.engine.prefix_cache import common_prefix_length
from switchboard.engine.request import Request
from switchboard.engine.scheduler import ScheduledChunk
from tests.integration.engine_rig import run

pytestmark = pytest.mark.integration

GREEDY = SamplingParams(max_tokens=16, temperature=0.0, ignore_eos=True)
SYSTEM = (
    "You are the support assistant of Larkspur, an online shop for outdoor clothing. Answer "
    "from the sources below, cite them as [1] or [2], and say you are not sure when they do "
    "not answer the question.\n[1] Returns: You can return most items within 30 days from "
    "delivery. Return shipping is free for exchanges.\n[2] Delivery: Standard delivery takes "
    "3-5 working days; express delivery arrives the next working day."
)
QUESTIONS = (
    "How many days do I have to return a jacket?",
    "Who pays for return shipping when I exchange boots?",
    "How fast is express delivery?",
)
SETTINGS = dict(max_model_len=512, max_num_seqs=4, max_batch_tokens=64)


def chat(local: LocalEngine, question: str) -> list[int]:
    return local.encode_chat(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    )


def cells(local: LocalEngine) -> dict[int, int]:
    """Cells llama.cpp holds per sequence (positions are contiguous from 0)."""
    held = {
        slot: llama_cpp.llama_memory_seq_pos_max(local.runner.memory, slot) + 1
        for slot in range(local.scheduler_config.max_num_seqs)
    }
    return {slot: n for slot, n in held.items() if n}


def cached(local: LocalEngine) -> dict[int, int]:
    cache = local.engine.scheduler.prefix_cache
    held = {slot: cache.cached(slot) for slot in range(local.scheduler_config.max_num_seqs)}
    return {slot: n for slot, n in held.items() if n}


@pytest.fixture(scope="module")
def reuse(default_model_path: Path) -> Iterator[LocalEngine]:
    engine = LocalEngine("reuse", default_model_path, EngineSettings(**SETTINGS))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def recompute(default_model_path: Path) -> Iterator[LocalEngine]:
    settings = EngineSettings(**SETTINGS, prefix_cache=False)
    engine = LocalEngine("recompute", default_model_path, settings)
    yield engine
    engine.close()


def logits(local: LocalEngine, ids: list[int], slot: int, splits: list[int]) -> Any:
    """The last row's logits: ``ids`` computed on ``slot`` from ``splits[0]`` on (the slot
    holds the cells before it), one chunk per split."""
    request = Request("r", ids, SamplingParams(), 1)
    bounds = [*splits, len(ids)]
    row = None
    for start, end in itertools.pairwise(bounds):
        chunk = ScheduledChunk(request, start, end - start, end == len(ids), slot)
        rows = local.runner.execute([chunk])
        row = rows[0].copy() if len(rows) else row
    return row


def test_reused_cells_give_the_same_logits_as_recomputing_them(default_model_path: Path) -> None:
    """A cached prefix, copied to another slot or cut in place, gives bit-identical logits
    to computing the same chunks afresh."""
    settings = EngineSettings(max_model_len=512, max_num_seqs=4, max_batch_tokens=512)
    local = LocalEngine("exact", default_model_path, settings)
    try:
        first, other = chat(local, QUESTIONS[0]), chat(local, QUESTIONS[1])
        shared = common_prefix_length(np.asarray(first), np.asarray(other))
        assert shared > 64
        logits(local, first, 0, [0, shared])  # slot 0 holds the first prompt
        fresh = logits(local, other, 1, [0, shared])
        local.runner.copy(0, 2)
        local.runner.trim(2, shared)
        copied = logits(local, other, 2, [shared])
        local.runner.trim(0, shared)
        in_place = logits(local, other, 0, [shared])
        assert np.array_equal(fresh, copied)
        assert np.array_equal(fresh, in_place)
    finally:
        local.close()


def test_reuse_counts_and_cells_over_prompts_sharing_prefixes(
    reuse: LocalEngine, recompute: LocalEngine
) -> None:
    prompts = [chat(reuse, q) for q in QUESTIONS]
    first = prompts[0]
    prompts += [first, first[: len(first) * 2 // 3]]  # the same prompt, a strict prefix
    for local in (reuse, recompute):
        for i, ids in enumerate(prompts):  # one at a time
            local.engine.add_request(ids, GREEDY, f"seq-{i}")
            run(local.engine)
        for i, ids in enumerate(prompts[:3]):  # together, in one batch
            local.engine.add_request(ids, GREEDY, f"batch-{i}")
        run(local.engine)
        local.engine.step()  # applies what finished requests left to free
    stats, off = reuse.async_engine.stats, recompute.async_engine.stats
    assert stats.prefix_cache_hits == 7  # all but the first
    assert stats.prefill_tokens_reused > stats.prefill_tokens_computed
    assert stats.prefill_tokens_computed + stats.prefill_tokens_reused == (
        off.prefill_tokens_computed
    )
    assert (off.prefix_cache_hits, off.prefill_tokens_reused) == (0, 0)
    assert off.prefix_cache_lookups == stats.prefix_cache_lookups  # one per admission
    assert cells(recompute) == {}
    assert cells(reuse) == cached(reuse)


def test_abort_leaves_only_the_cached_prefix_in_llama_cpp(reuse: LocalEngine) -> None:
    engine = reuse.engine
    request = engine.add_request(chat(reuse, QUESTIONS[2]), GREEDY, "cancel-me")
    for _ in range(4):
        engine.step()
    slot = request.slot
    assert slot is not None
    computed = request.num_computed_tokens
    assert engine.abort("cancel-me")
    engine.step()
    assert engine.scheduler.kv_cells_used == 0
    assert cached(reuse)[slot] == computed
    assert cells(reuse) == cached(reuse)
    engine.clear_prefix_cache()
    assert cells(reuse) == {}


def test_unified_pool_with_reuse_preempts_completes_and_leaks_no_cells(
    default_model_path: Path,
) -> None:
    settings = EngineSettings(
        max_model_len=256,
        max_num_seqs=4,
        max_batch_tokens=64,
        kv_unified=True,
        kv_cache_tokens=400,  # four requests of ~170 cells cannot all fit
        prefix_cache_tokens=200,
    )
    local = LocalEngine("unified", default_model_path, settings)
    try:
        params = SamplingParams(max_tokens=64, temperature=0.0, ignore_eos=True)
        engine = local.engine
        engine.add_request(chat(local, QUESTIONS[0]), params, "warm")
        run(engine)
        requests = [
            engine.add_request(chat(local, QUESTIONS[i % 3]), params, f"r{i}") for i in range(4)
        ]
        tokens = run(engine)
        engine.step()
        assert sum(r.num_preemptions for r in requests) > 0
        assert all(len(tokens[r.request_id]) == 64 for r in requests)
        assert local.async_engine.stats.prefix_cache_hits > 0
        assert engine.scheduler.kv_cells_used == 0
        assert 0 < engine.scheduler.prefix_cache.cached_tokens <= 200
        assert cells(local) == cached(local)
    finally:
        local.close()
