"""``switchboard bench quantization``: speed (prefill, single-stream decode, 16-stream
batched decode, through our engine's step loop) and quality (perplexity on a bundled
English text) of quantized variants of one model.

The default model is the fastest variant whose perplexity stays within
``MAX_PERPLEXITY_INCREASE`` of the most precise variant measured."""

from __future__ import annotations

import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

from switchboard.config import EngineSettings
from switchboard.engine import LLMEngine, SamplingParams
from switchboard.engine.local import LocalEngine
from switchboard_bench.workload import make_workload

#: A faster variant may cost at most this much perplexity relative to the best one.
MAX_PERPLEXITY_INCREASE = 0.05


def perplexity(local: LocalEngine) -> float:
    text = resources.files("switchboard_bench").joinpath("data/perplexity.txt").read_text()
    local.engine.clear_prefix_cache()  # scoring uses slot 0 directly
    logprobs = local.runner.logprobs(local.encode_prompt(text))
    return math.exp(-float(logprobs.mean()))


def _drain(engine: LLMEngine) -> tuple[float, list[float]]:
    """Step until idle; return the elapsed time and each output token's timestamp."""
    start, stamps = time.perf_counter(), list[float]()
    while engine.has_unfinished:
        for output in engine.step():
            stamps.extend(time.perf_counter() for _ in output.token_ids)
    return time.perf_counter() - start, stamps


def measure(path: Path, settings: EngineSettings, streams: int = 16) -> dict[str, float]:
    local = LocalEngine(path.stem, path, settings)
    engine = local.engine
    try:
        long = make_workload(local.encode_prompt, 1, 512, 1, seed=1)
        engine.add_request(list(long.prompts[0]), SamplingParams(max_tokens=1, temperature=0))
        prefill_s, _ = _drain(engine)

        short = make_workload(local.encode_prompt, streams, 16, 128, seed=2)
        params = SamplingParams(max_tokens=128, temperature=0, ignore_eos=True)
        engine.add_request(list(short.prompts[0]), params)
        _, stamps = _drain(engine)
        single = (len(stamps) - 1) / (stamps[-1] - stamps[0])

        params = SamplingParams(max_tokens=64, temperature=0, ignore_eos=True)
        for prompt in short.prompts:
            engine.add_request(list(prompt), params)
        batch_s, stamps = _drain(engine)
        return {
            "file_mib": round(path.stat().st_size / 2**20, 1),
            "perplexity": round(perplexity(local), 3),
            "prefill_tok_s": round(512 / prefill_s, 1),
            "decode_tok_s_1_stream": round(single, 1),
            f"decode_tok_s_{streams}_streams": round(len(stamps) / batch_s, 1),
        }
    finally:
        local.close()


def run_quant_bench(
    paths: dict[str, Path], settings: EngineSettings, rounds: int = 2
) -> dict[str, Any]:
    """Variants are measured in turn, ``rounds`` times; each speed is the best of its rounds
    (interference from other work on the machine only ever slows a run down)."""
    variants: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for quant, path in paths.items():
            row = measure(path, settings)
            kept = variants.setdefault(quant, row)
            for key, value in row.items():
                kept[key] = max(kept[key], value)
    floor = min(v["perplexity"] for v in variants.values())
    acceptable = [
        q for q, v in variants.items() if v["perplexity"] <= floor * (1 + MAX_PERPLEXITY_INCREASE)
    ]
    return {
        "n_threads": settings.n_threads,
        "variants": variants,
        "fastest": max(variants, key=lambda q: variants[q]["decode_tok_s_16_streams"]),
        "max_perplexity_increase": MAX_PERPLEXITY_INCREASE,
        "fastest_within_quality": max(
            acceptable, key=lambda q: variants[q]["decode_tok_s_16_streams"]
        ),
    }
