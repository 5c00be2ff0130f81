"""Prefix KV reuse on assistant-shaped prompts, with and without it, in one run.

Each policy question of the golden set becomes a turn's prompt as ``prompt_budget`` lays it
out: the assistant's system prompt, then the opening of the articles that answer the
question as numbered sources, then the question. The prompts run one at a time (a support
desk at concurrency 1), greedily, on an engine with the prefix cache and on one without,
taking turns; the result is the prompt tokens each request had to compute, the hit rate,
time to first token, and whether every output is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from switchboard.assistant.definition import demo_definition
from switchboard.assistant.prompt_budget import (
    PromptBudget,
    PromptInputs,
    SourceChunk,
    build_prompt,
)
from switchboard.config import EngineSettings
from switchboard.demo import golden_set_path
from switchboard.engine import SamplingParams
from switchboard.engine.local import LocalEngine
from switchboard.evaluation.golden import load_golden
from switchboard_bench.demo_articles import demo_article
from switchboard_bench.stats import percentiles_ms

SOURCE_CHARS = 600  # an article's opening, about two 64-token retrieved chunks
PARAMS = SamplingParams(max_tokens=32, temperature=0.0, ignore_eos=True)


def _source(name: str) -> SourceChunk:
    article = demo_article(name)
    return replace(article, text=article.text[:SOURCE_CHARS])


def assistant_prompts(local: LocalEngine) -> list[list[int]]:
    """The golden set's policy questions as turn prompts, in the set's order."""
    cases = [c for c in load_golden(golden_set_path()) if "policy" in c.tags]
    budget = PromptBudget(local.max_model_len, PARAMS.max_tokens or 0)
    system = demo_definition("shop").prompts.grounded
    prompts = []
    for case in cases:
        sources = [_source(name) for name in case.expected_sources]
        inputs = PromptInputs(system, case.message, chunks=sources)
        built = build_prompt(inputs, budget, lambda m: len(local.encode_chat(m)))
        prompts.append(local.encode_chat(built.messages))
    return prompts


def _generate(local: LocalEngine, ids: list[int]) -> tuple[list[int], float]:
    """One request alone: its tokens and time to first token."""
    engine = local.engine
    request = engine.add_request(ids, PARAMS)
    tokens: list[int] = []
    while engine.has_unfinished:
        for output in engine.step():
            tokens.extend(output.token_ids)
    return tokens, request.timings.ttft_s or 0.0


def _summary(local: LocalEngine, prompts: Sequence[list[int]], ttfts: list[float]) -> Any:
    stats, n = local.async_engine.stats, len(prompts)
    ttft = percentiles_ms(ttfts, 50, 95)
    return {
        "requests": n,
        "prompt_tokens_per_request": round(sum(map(len, prompts)) / n, 1),
        "prefill_tokens_per_request": round(stats.prefill_tokens_computed / n, 1),
        "reused_tokens_per_request": round(stats.prefill_tokens_reused / n, 1),
        "hit_rate": round(stats.prefix_cache_hits / n, 3),
        "ttft_p50_ms": ttft["p50_ms"],
        "ttft_p95_ms": ttft["p95_ms"],
    }


def run_prefix_bench(
    name: str, model_path: Path, settings: EngineSettings, prompts: int | None = None
) -> dict[str, Any]:
    """The same prompts (the first ``prompts`` policy questions; all by default) through an
    engine with the prefix cache and one without, taking turns prompt by prompt (which one
    goes first alternates) so that drift in the machine's speed hits both alike."""
    engines = {
        label: LocalEngine(name, model_path, settings.model_copy(update={"prefix_cache": on}))
        for label, on in (("reuse", True), ("no_reuse", False))
    }
    outputs: dict[str, list[list[int]]] = {label: [] for label in engines}
    ttfts: dict[str, list[float]] = {label: [] for label in engines}
    try:
        ids = assistant_prompts(engines["reuse"])[:prompts]
        order = list(engines.items())
        for i, prompt in enumerate(ids):
            for label, local in order if i % 2 == 0 else order[::-1]:
                tokens, ttft = _generate(local, prompt)
                outputs[label].append(tokens)
                ttfts[label].append(ttft)
        results = {label: _summary(local, ids, ttfts[label]) for label, local in engines.items()}
    finally:
        for local in engines.values():
            local.close()
    on, off = results["reuse"], results["no_reuse"]
    return {
        "model": name,
        "n_threads": settings.n_threads,
        "workload": "golden-set policy questions, system prompt + expected articles as "
        f"sources ({SOURCE_CHARS} chars each), one at a time, {PARAMS.max_tokens} greedy tokens",
        **results,
        "prefill_reduction": round(
            off["prefill_tokens_per_request"] / max(on["prefill_tokens_per_request"], 1e-9), 2
        ),
        "ttft_p50_ratio": round(on["ttft_p50_ms"] / off["ttft_p50_ms"], 3)
        if off["ttft_p50_ms"]
        else 0.0,
        "greedy_identical": outputs["reuse"] == outputs["no_reuse"],
    }
