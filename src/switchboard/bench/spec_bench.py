"""``switchboard bench speculative``: assistant-style prompts (a customer's question from
the golden set and the demo-shop article that answers it, as the assistant's prompt
builder lays them out) decoded greedily with and without n-gram speculation, in one run.

Two engines on the same GGUF and settings, one with ``speculative="ngram"``, take each
prompt in turn (which one goes first alternates), one request at a time (concurrency 1).
Decode speed counts the tokens after the first over the time from the first token to the
last, so prefill is left out; both engines must produce the same tokens for every prompt.
The prefix cache is off in both (``bench prefix`` measures it): a reused prefix changes how
a prompt is split into batches, and llama.cpp's CPU kernels then round differently, so at
a near-tie the two greedy outputs could part for that reason rather than speculation's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from switchboard.assistant.prompt_budget import source_text
from switchboard.assistant.replies import GROUNDED_SYSTEM
from switchboard.bench.demo_articles import demo_article
from switchboard.config import EngineSettings
from switchboard.engine import Request, SamplingParams
from switchboard.engine.local import LocalEngine
from switchboard.evaluation.golden import default_golden_path, load_golden

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class SpecBenchConfig:
    prompts: int = 12
    max_tokens: int = 128
    source_chars: int = 1600  # about the 450-token prompt of a policy answer


@dataclass
class _Totals:
    prompt_tokens: int = 0
    output_tokens: int = 0
    decode_tokens: int = 0
    decode_s: float = 0.0
    total_s: float = 0.0

    def add(self, request: Request) -> None:
        timings = request.timings
        self.prompt_tokens += request.num_prompt_tokens
        self.output_tokens += len(request.output_token_ids)
        if timings.first_token is not None and timings.last_token is not None:
            self.decode_tokens += len(request.output_token_ids) - 1
            self.decode_s += timings.last_token - timings.first_token
            self.total_s += timings.last_token - timings.arrival

    @property
    def decode_tok_s(self) -> float:
        return self.decode_tokens / self.decode_s if self.decode_s else 0.0

    @property
    def output_tok_s(self) -> float:
        """Output tokens over the whole time of their requests, prefill included."""
        return self.output_tokens / self.total_s if self.total_s else 0.0


def assistant_prompts(count: int, source_chars: int) -> list[tuple[str, Messages]]:
    """The first ``count`` single-turn policy questions of the golden set, each with the
    article it expects as source [1] (cut at a paragraph to about ``source_chars``)."""
    prompts = []
    for case in load_golden(default_golden_path()):
        if case.history or not case.expected_sources or "policy" not in case.tags:
            continue
        article = demo_article(case.expected_sources[0])
        source = source_text(1, replace(article, text=article.text.strip()))
        user = f"Sources:\n{_cut(source, source_chars)}\n\nQuestion: {case.message}"
        messages = [
            {"role": "system", "content": GROUNDED_SYSTEM},
            {"role": "user", "content": user},
        ]
        prompts.append((case.id, messages))
        if len(prompts) == count:
            break
    return prompts


def _cut(text: str, limit: int) -> str:
    end = text.rfind("\n\n", 0, limit)
    return text if len(text) <= limit or end < 0 else text[:end]


def _generate(local: LocalEngine, messages: Messages, params: SamplingParams) -> Request:
    engine = local.engine
    request = engine.add_request(local.encode_chat(messages), params)
    while engine.has_unfinished:
        engine.step()
    return request


def run_spec_bench(
    name: str, model_path: Path, settings: EngineSettings, config: SpecBenchConfig
) -> dict[str, Any]:
    prompts = assistant_prompts(config.prompts, config.source_chars)
    params = SamplingParams(max_tokens=config.max_tokens, temperature=0.0)
    engines = {
        mode: LocalEngine(
            name,
            model_path,
            settings.model_copy(update={"speculative": mode, "prefix_cache": False}),
        )
        for mode in ("off", "ngram")
    }
    totals = {mode: _Totals() for mode in engines}
    mismatched: list[str] = []
    try:
        for local in engines.values():  # warm-up
            _generate(local, prompts[0][1], SamplingParams(max_tokens=8, temperature=0.0))
        stats = engines["ngram"].engine.speculative_stats
        drafted, accepted = stats.drafted, stats.accepted
        order = list(engines.items())
        for i, (case_id, messages) in enumerate(prompts):
            outputs = {}
            for mode, local in order if i % 2 == 0 else order[::-1]:  # who goes first alternates
                request = _generate(local, messages, params)
                totals[mode].add(request)
                outputs[mode] = request.output_token_ids
            if outputs["ngram"] != outputs["off"]:
                mismatched.append(case_id)
        drafted, accepted = stats.drafted - drafted, stats.accepted - accepted
    finally:
        for local in engines.values():
            local.close()
    off, ngram = totals["off"], totals["ngram"]
    return {
        "model": name,
        "gguf": str(model_path),
        "n_threads": settings.n_threads,
        "workload": {
            "prompts": len(prompts),
            "mean_prompt_tokens": round(off.prompt_tokens / len(prompts), 1),
            "mean_output_tokens": round(off.output_tokens / len(prompts), 1),
            "max_tokens": config.max_tokens,
            "sampling": "greedy",
            "concurrency": 1,
        },
        "prefix_cache": False,
        "speculative_tokens": settings.speculative_tokens,
        "ngram_min": settings.ngram_min,
        "ngram_max": settings.ngram_max,
        "decode_tok_s_off": round(off.decode_tok_s, 1),
        "decode_tok_s_ngram": round(ngram.decode_tok_s, 1),
        "decode_speedup_ngram": round(ngram.decode_tok_s / off.decode_tok_s, 3)
        if off.decode_tok_s
        else 0.0,
        "output_tok_s_off": round(off.output_tok_s, 1),
        "output_tok_s_ngram": round(ngram.output_tok_s, 1),
        "acceptance_rate_ngram": round(accepted / drafted, 3) if drafted else 0.0,
        "draft_tokens_ngram": drafted,
        "greedy_identical_ngram": not mismatched,
        "mismatched_ngram": mismatched,
    }
