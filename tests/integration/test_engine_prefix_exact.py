"""Prefix reuse on the real default model gives every sampled logits row bit for bit as
prefilling each prompt from position 0 does, one request at a time, so greedy outputs are
identical with and without the cache; and the rounding rule it relies on holds: llama.cpp's
CPU kernels round a batch of fewer than ``SMALL_BATCH_ROWS`` rows differently."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from switchboard.config import EngineSettings
from switchboard.engine import LLMEngine, SamplingParams
from switchboard.engine.exact_reuse import SMALL_BATCH_ROWS
from switchboard.engine.local import LocalEngine
from switchboard.engine.request import Request
from switchboard.engine.sampler import sample
from switchboard.engine.scheduler import ScheduledChunk

pytestmark = pytest.mark.integration

SYSTEM = (
    "You are the support assistant of Larkspur, an online shop for outdoor clothing. Answer "
    "from the sources, cite them as [1] or [2], and say you are not sure when they do not "
    "answer the question."
)
SOURCES = (
    "[1] Returns: You can return most items within 30 days from delivery. Return shipping is "
    "free for exchanges.\n[2] Delivery: Standard delivery takes 3-5 working days; express "
    "delivery arrives the next working day."
)
QUESTIONS = (
    "How many days do I have to return a jacket?",
    "Who pays for return shipping when I exchange boots?",
    "How fast is express delivery, and what does it cost to Berlin?",
)
MORE_SOURCES = f"{SOURCES}\n[3] Express delivery costs 9.90 EUR in Germany, 14.90 EUR in Austria."
GREEDY = SamplingParams(max_tokens=8, temperature=0.0, ignore_eos=True)


def chat(local: LocalEngine, question: str, sources: str = SOURCES) -> list[int]:
    return local.encode_chat(
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{sources}\n\nQuestion: {question}"},
        ]
    )


@pytest.fixture(scope="module")
def engines(default_model_path: Path) -> Iterator[dict[bool, LocalEngine]]:
    settings = EngineSettings(max_model_len=512, max_num_seqs=3, max_batch_tokens=64)
    pair = {
        on: LocalEngine(f"cache-{on}", default_model_path, settings.model_copy(update={
            "prefix_cache": on}))
        for on in (True, False)
    }  # fmt: skip
    yield pair
    for local in pair.values():
        local.close()


def sampled_rows(local: LocalEngine, prompts: Sequence[list[int]]) -> tuple[list[Any], Any]:
    """Every logits row sampled from, prompt after prompt, and the engine's cache stats."""
    rows: list[Any] = []

    def recording(logits: Any, *args: Any) -> int:
        rows.append(np.array(logits, copy=True))
        return sample(logits, *args)

    engine = LLMEngine(local.runner, local.model, local.scheduler_config, sampler=recording)
    for i, ids in enumerate(prompts):
        engine.add_request(ids, GREEDY, f"r{i}")
        while engine.has_unfinished:
            engine.step()
    engine.clear_prefix_cache()
    return rows, engine.scheduler.prefix_cache.stats


def test_reuse_gives_the_logits_of_a_fresh_prefill_bit_for_bit(
    engines: dict[bool, LocalEngine],
) -> None:
    local = engines[True]
    first = chat(local, QUESTIONS[0])
    longer = chat(local, QUESTIONS[2], MORE_SOURCES)
    prompts = [
        first,
        first,  # the same prompt again
        chat(local, QUESTIONS[1]),  # the same system prompt and sources
        longer,  # a longer prompt: cells that rounded small before round big in it
        first[: len(first) * 2 // 3],  # a strict prefix
        longer,
    ]
    with_cache, stats = sampled_rows(engines[True], prompts)
    without, _ = sampled_rows(engines[False], prompts)
    assert stats.hits == len(prompts) - 1
    assert stats.reused_tokens > stats.computed_tokens / 2
    assert len(with_cache) == len(without) == len(prompts) * GREEDY.max_tokens  # type: ignore[operator]
    for cached, fresh in zip(with_cache, without, strict=True):
        assert np.array_equal(cached, fresh)


def test_a_batch_of_fewer_rows_than_the_threshold_rounds_differently(
    default_model_path: Path,
) -> None:
    """The rule exact reuse relies on: the last row's logits are the same whether the
    prompt comes in one chunk or in two of at least ``SMALL_BATCH_ROWS`` rows, and differ
    when the last chunk is smaller."""
    settings = EngineSettings(max_model_len=512, max_num_seqs=1, max_batch_tokens=256)
    local = LocalEngine("rounding", default_model_path, settings)
    ids = chat(local, QUESTIONS[2], MORE_SOURCES)
    n = len(ids)

    def last_row(splits: list[int]) -> Any:
        local.runner.free(0)
        request = Request("probe", ids, SamplingParams(), 1)
        row = None
        for start, end in itertools.pairwise([*splits, len(ids)]):
            chunk = ScheduledChunk(request, start, end - start, end == len(ids), 0)
            rows = local.runner.execute([chunk])
            row = rows[0].copy() if len(rows) else row
        return row

    try:
        assert n >= 2 * SMALL_BATCH_ROWS
        whole = last_row([0])
        assert np.array_equal(whole, last_row([0, n - SMALL_BATCH_ROWS]))
        assert not np.array_equal(whole, last_row([0, n - SMALL_BATCH_ROWS + 1]))
    finally:
        local.close()
