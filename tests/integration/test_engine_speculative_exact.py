"""N-gram speculation past 512 KV cells on the real default model, with two threads.

There llama.cpp computes the attention of a one-row step (every step without drafts) split
over the threads when the cache is f16, and a verified draft's rows unsplit, so the two
round differently and greedy outputs can part at near-ties. A q8_0 cache takes the unsplit
path for both: a verify batch gives the logits of one-row steps bit for bit, and greedy
outputs with speculation are those without it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.config import EngineSettings
from switchboard.engine import SamplingParams
from switchboard.engine.draft_model import TokenSpan
from switchboard.engine.local import LocalEngine
from switchboard_bench.spec_bench import assistant_prompts
from tests.integration.engine_rig import generate_each

pytestmark = pytest.mark.integration

GREEDY = SamplingParams(max_tokens=48, temperature=0.0)
Logits = npt.NDArray[np.float32]
SPLIT_FROM = 512  # cells: llama.cpp's one-row attention splits over threads from here


def settings(kv_cache_type: str, speculative: str = "off") -> EngineSettings:
    return EngineSettings(
        max_model_len=1024,
        max_num_seqs=1,
        n_threads=2,
        kv_cache_type=kv_cache_type,
        speculative=speculative,
        prefix_cache=False,
    )


def long_prompt(local: LocalEngine) -> list[int]:
    """A bench prompt (question + its article) padded past ``SPLIT_FROM`` tokens."""
    (_, messages), *_ = assistant_prompts(1, 2400)
    ids = local.encode_chat(messages)
    assert len(ids) > SPLIT_FROM
    return ids


def verify_and_step(local: LocalEngine, ids: list[int], rows: int) -> tuple[Logits, Logits]:
    """Logits of the last ``rows`` tokens of ``ids`` (the rest prefilled): computed in one
    batch, as a verify step does, and one a step."""
    runner, step = local.runner, local.scheduler_config.max_batch_tokens
    known = len(ids) - rows
    for start in range(0, known, step):
        runner.decode([TokenSpan(0, start, ids[start : min(start + step, known)])])
    batch = runner.decode([TokenSpan(0, known, ids[known:], rows)]).copy()
    runner.trim(0, known)
    steps = [runner.decode([TokenSpan(0, known + i, [ids[known + i]], 1)])[0].copy()
             for i in range(rows)]  # fmt: skip
    return batch, np.stack(steps)


@pytest.mark.parametrize(("kv_cache_type", "exact"), [("q8_0", True), ("f16", False)])
def test_a_verify_batch_rounds_as_one_row_steps_only_on_a_q8_0_cache(
    default_model_path: Path, kv_cache_type: str, exact: bool
) -> None:
    local = LocalEngine("rows", default_model_path, settings(kv_cache_type))
    try:
        batch, steps = verify_and_step(local, long_prompt(local), 9)
    finally:
        local.close()
    assert np.array_equal(batch, steps) is exact


@pytest.fixture(scope="module")
def engines(default_model_path: Path) -> Iterator[dict[str, LocalEngine]]:
    pair = {
        mode: LocalEngine(mode, default_model_path, settings("q8_0", mode))
        for mode in ("off", "ngram")
    }
    yield pair
    for local in pair.values():
        local.close()


def test_greedy_outputs_are_identical_with_speculation_past_512_cells_on_a_q8_0_cache(
    engines: dict[str, LocalEngine],
) -> None:
    prompts = {case_id: messages for case_id, messages in assistant_prompts(3, 2400)}
    expected = generate_each(engines["off"], prompts, GREEDY)
    stats = engines["ngram"].engine.speculative_stats
    assert generate_each(engines["ngram"], prompts, GREEDY) == expected
    assert stats.accepted > 0


@pytest.mark.parametrize(("kv_cache_type", "warned"), [("f16", True), ("q8_0", False)])
def test_speculating_on_an_f16_cache_with_threads_warns_of_near_ties(
    default_model_path: Path, kv_cache_type: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="switchboard.engine.local"):
        LocalEngine("warn", default_model_path, settings(kv_cache_type, "ngram")).close()
    assert ('kv_cache_type = "q8_0"' in caplog.text) is warned
