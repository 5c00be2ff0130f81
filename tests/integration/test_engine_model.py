"""The engine on the real default model: batching invariance, preemption, cancellation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from switchboard.config import EngineSettings
from switchboard.engine import SamplingParams
from switchboard.engine.local import LocalEngine
from tests.integration.engine_rig import run

pytestmark = pytest.mark.integration

GREEDY = SamplingParams(max_tokens=48, temperature=0.0, ignore_eos=True)
QUESTION = [{"role": "user", "content": "How do I return a pair of shoes that do not fit?"}]
OTHER = [{"role": "user", "content": "Write a short poem about parcels and rain."}]


@pytest.fixture(scope="module")
def local(default_model_path: Path) -> Iterator[LocalEngine]:
    engine = LocalEngine(
        "test",
        default_model_path,
        # batching invariance without reuse (prefix reuse: test_engine_prefix_cache.py)
        EngineSettings(max_model_len=512, max_num_seqs=4, max_batch_tokens=64, prefix_cache=False),
    )
    yield engine
    engine.close()


def test_chat_template_comes_from_the_gguf(local: LocalEngine) -> None:
    assert local.model.chat_template is not None
    assert "<|im_start|>" in local.model.chat_template
    ids = local.encode_chat(QUESTION)
    text = local.model.detokenize(ids)
    assert "How do I return a pair of shoes" in text
    assert local.model.eog_token_ids  # <|im_end|> / <|endoftext|>


def test_greedy_output_is_identical_alone_and_batched(local: LocalEngine) -> None:
    prompt = local.encode_chat(QUESTION)
    local.engine.add_request(prompt, GREEDY, "alone")
    alone = run(local.engine)["alone"]

    other = local.encode_chat(OTHER)
    local.engine.add_request(other, GREEDY, "other-1")
    local.engine.add_request(prompt, GREEDY, "batched")
    local.engine.add_request(other[:20], GREEDY, "other-2")
    batched = run(local.engine)
    assert batched["batched"] == alone
    assert len(alone) == 48


def test_seeded_sampling_is_identical_alone_and_batched(local: LocalEngine) -> None:
    params = SamplingParams(max_tokens=32, temperature=0.9, top_p=0.95, seed=42, ignore_eos=True)
    prompt = local.encode_chat(QUESTION)
    local.engine.add_request(prompt, params, "alone")
    alone = run(local.engine)["alone"]
    local.engine.add_request(local.encode_chat(OTHER), GREEDY, "other")
    local.engine.add_request(prompt, params, "batched")
    assert run(local.engine)["batched"] == alone


def test_abort_frees_the_sequence_kv_within_one_step(local: LocalEngine) -> None:
    engine = local.engine
    request = engine.add_request(local.encode_chat(QUESTION), GREEDY, "cancel-me")
    engine.step()
    engine.step()
    slot = request.slot
    assert slot is not None
    assert llama_cpp.llama_memory_seq_pos_max(local.runner.memory, slot) > 0
    assert engine.abort("cancel-me")
    assert request.finish_reason == "abort"
    engine.step()
    assert llama_cpp.llama_memory_seq_pos_max(local.runner.memory, slot) == -1
    assert not engine.has_unfinished


def test_unified_pool_preempts_and_every_request_completes(default_model_path: Path) -> None:
    settings = EngineSettings(
        max_model_len=256,
        max_num_seqs=4,
        max_batch_tokens=64,
        kv_unified=True,
        kv_cache_tokens=300,  # four requests of ~110 cells each cannot all fit
    )
    local = LocalEngine("unified", default_model_path, settings)
    try:
        params = SamplingParams(max_tokens=64, temperature=0.0, ignore_eos=True)
        requests = [
            local.engine.add_request(local.encode_chat(QUESTION), params, f"r{i}") for i in range(4)
        ]
        tokens = run(local.engine)
        assert sum(r.num_preemptions for r in requests) > 0
        assert all(len(tokens[r.request_id]) == 64 for r in requests)
        assert all(r.finish_reason == "length" for r in requests)
        assert local.engine.scheduler.kv_cells_used == 0
    finally:
        local.close()


def test_requantized_q8_0_keeps_the_base_models_perplexity(
    local: LocalEngine, default_model_path: Path
) -> None:
    from switchboard.models.catalog import CATALOG
    from switchboard_bench.quant_bench import perplexity

    base_path = default_model_path.parent / CATALOG["smollm2-135m"].filename
    base = LocalEngine("base", base_path, EngineSettings(max_num_seqs=1, max_model_len=1024))
    try:
        base_ppl = perplexity(base)
    finally:
        base.close()
    q8_ppl = perplexity(local)
    assert 5.0 < base_ppl < 100.0  # a working model on plain English, not noise
    assert abs(q8_ppl - base_ppl) / base_ppl < 0.02
