"""Prefix KV reuse on the real default model: greedy outputs are identical with and without
it, and the KV cells llama.cpp holds are exactly those of running requests and cached
prefixes after aborts, preemption and clearing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from switchboard.config import EngineSettings
from switchboard.engine import LLMEngine, SamplingParams
from switchboard.engine.local import LocalEngine

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


def run(engine: LLMEngine) -> dict[str, list[int]]:
    tokens: dict[str, list[int]] = {}
    while engine.has_unfinished:
        for output in engine.step():
            tokens.setdefault(output.request_id, []).extend(output.token_ids)
    return tokens


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


def workload(local: LocalEngine, first_answer: list[int]) -> dict[str, list[int]]:
    """Prompts sharing prefixes with the first one: another question, the same prompt, a
    strict prefix of it, and the conversation's next turn (prompt + answer + question)."""
    first = chat(local, QUESTIONS[0])
    follow_up = local.model.tokenize(
        "<|im_end|>\n<|im_start|>user\nAnd for shoes?<|im_end|>\n<|im_start|>assistant\n",
        add_special=False,
        parse_special=True,
    )
    return {
        "other": chat(local, QUESTIONS[1]),
        "same": first,
        "prefix": first[: len(first) * 2 // 3],
        "turn-2": first + first_answer + follow_up,
    }


def test_greedy_outputs_are_identical_with_and_without_reuse(
    reuse: LocalEngine, recompute: LocalEngine
) -> None:
    outputs = []
    for local in (reuse, recompute):
        engine = local.engine
        engine.add_request(chat(local, QUESTIONS[0]), GREEDY, "first")
        tokens = run(engine)
        for rid, ids in workload(local, tokens["first"]).items():  # one at a time
            engine.add_request(ids, GREEDY, rid)
            tokens |= run(engine)
        for i, question in enumerate(QUESTIONS):  # together, in one batch
            engine.add_request(chat(local, question), GREEDY, f"batched-{i}")
        tokens |= run(engine)
        outputs.append(tokens)
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 8

    stats, off = reuse.async_engine.stats, recompute.async_engine.stats
    assert stats.prefix_cache_hits >= 5
    assert stats.prefill_tokens_reused > stats.prefill_tokens_computed
    assert stats.prefill_tokens_computed + stats.prefill_tokens_reused == (
        off.prefill_tokens_computed
    )
    assert (off.prefix_cache_hits, off.prefill_tokens_reused) == (0, 0)
    assert off.prefix_cache_lookups == stats.prefix_cache_lookups  # one per admission
    recompute.engine.step()  # frees what the last requests held
    assert cells(recompute) == {}


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
