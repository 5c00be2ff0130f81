"""``switchboard bench speculative``: assistant-style prompts (a customer's question from
the golden set and the demo-shop article that answers it, as the assistant's prompt
builder lays them out) decoded greedily with and without speculation, in one run: n-gram
drafts on the model, then, given a ``DraftPair``, a draft model's drafts on its target.

Each time two engines on the same GGUF and settings, one of them speculating, take each
prompt in turn (which one goes first alternates), one request at a time (concurrency 1),
``repeats`` times each. Decode speed counts the tokens after the first over the time from
the first token to the last, so prefill is left out; of a prompt's repeats each engine's
fastest counts (other work on the machine only ever slows a run down). Both engines must
produce the same tokens for every prompt, every time.
The prefix cache is off in both (``bench prefix`` measures it): a reused prefix changes how
a prompt is split into batches, and llama.cpp's CPU kernels then round differently, so at
a near-tie the two greedy outputs could part for that reason rather than speculation's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from switchboard.assistant.definition import demo_definition
from switchboard.assistant.prompt_budget import source_text
from switchboard.config import EngineSettings
from switchboard.engine import Request, SamplingParams
from switchboard.engine.local import LocalEngine
from switchboard.evaluation.golden import default_golden_path, load_golden
from switchboard_bench.demo_articles import demo_article

Messages = list[dict[str, str]]


WARM_UP: Messages = [{"role": "user", "content": "Where is my parcel?"}]


@dataclass(frozen=True)
class SpecBenchConfig:
    prompts: int = 12
    max_tokens: int = 128
    source_chars: int = 1600  # about the 450-token prompt of a policy answer
    repeats: int = 1  # decodes of each prompt per engine; the fastest counts


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
    system = demo_definition("shop").prompts.grounded
    prompts = []
    for case in load_golden(default_golden_path()):
        if case.history or not case.expected_sources or "policy" not in case.tags:
            continue
        article = demo_article(case.expected_sources[0])
        source = source_text(1, replace(article, text=article.text.strip()))
        user = f"Sources:\n{_cut(source, source_chars)}\n\nQuestion: {case.message}"
        messages = [
            {"role": "system", "content": system},
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


@dataclass(frozen=True)
class DraftPair:
    """A target model and the draft model that proposes its tokens (same vocabulary)."""

    target: str
    target_path: Path
    draft: str
    draft_path: Path


@dataclass
class _Comparison:
    """One prompt set decoded by an engine without speculation (``off``) and one with."""

    totals: dict[str, _Totals]
    mismatched: list[str]
    drafted: int
    accepted: int


def run_spec_bench(
    name: str,
    model_path: Path,
    settings: EngineSettings,
    config: SpecBenchConfig,
    pair: DraftPair | None = None,
) -> dict[str, Any]:
    """N-gram speculation on ``name``, then (with ``pair``) draft-model speculation on the
    pair's target, each against the same model without speculation."""
    prompts = assistant_prompts(config.prompts, config.source_chars)
    params = SamplingParams(max_tokens=config.max_tokens, temperature=0.0)
    settings = settings.model_copy(update={"prefix_cache": False})
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(_opened(LocalEngine(name, model_path, settings)))
        spec = settings.model_copy(update={"speculative": "ngram"})
        ngram_engine = stack.enter_context(_opened(LocalEngine(name, model_path, spec)))
        ngram = _compare("ngram", plain, ngram_engine, prompts, params, config.repeats)
    off = ngram.totals["off"]
    result: dict[str, Any] = {
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
            "repeats": config.repeats,
        },
        "prefix_cache": False,
        "kv_cache_type": settings.kv_cache_type,
        "speculative_tokens": settings.speculative_tokens,
        "ngram_min": settings.ngram_min,
        "ngram_max": settings.ngram_max,
        **_fields("ngram", "off", ngram),
    }
    if pair is not None:
        draft = settings.model_copy(update={"speculative": "draft", "draft_model": pair.draft})
        with contextlib.ExitStack() as stack:
            plain = stack.enter_context(
                _opened(LocalEngine(pair.target, pair.target_path, settings))
            )
            drafting = stack.enter_context(
                _opened(LocalEngine(pair.target, pair.target_path, draft, pair.draft_path))
            )
            drafted = _compare("draft", plain, drafting, prompts, params, config.repeats)
        result |= {
            "draft_target_model": pair.target,
            "draft_model": pair.draft,
            "mean_output_tokens_draft": round(
                drafted.totals["off"].output_tokens / len(prompts), 1
            ),
            **_fields("draft", "target_off", drafted),
        }
    return result


@contextlib.contextmanager
def _opened(local: LocalEngine) -> Iterator[LocalEngine]:
    try:
        yield local
    finally:
        local.close()


def _compare(
    mode: str,
    plain: LocalEngine,
    speculative: LocalEngine,
    prompts: list[tuple[str, Messages]],
    params: SamplingParams,
    repeats: int = 1,
) -> _Comparison:
    """Every prompt through both engines ``repeats`` times, one at a time (which goes first
    alternates); each engine's fastest decode of a prompt counts."""
    order = [("off", plain), (mode, speculative)]
    totals = {label: _Totals() for label, _ in order}
    mismatched: list[str] = []
    for _, local in order:  # warm-up, with a short prompt: a large model prefills slowly
        _generate(local, WARM_UP, SamplingParams(max_tokens=8, temperature=0.0))
    stats = speculative.engine.speculative_stats
    drafted, accepted = stats.drafted, stats.accepted
    for i, (case_id, messages) in enumerate(prompts):
        fastest: dict[str, Request] = {}
        outputs = set()
        for r in range(repeats):
            for label, local in order if (i + r) % 2 == 0 else order[::-1]:
                request = _generate(local, messages, params)
                outputs.add(tuple(request.output_token_ids))
                if label not in fastest or _decode_s(request) < _decode_s(fastest[label]):
                    fastest[label] = request
        for label, request in fastest.items():
            totals[label].add(request)
        if len(outputs) > 1:
            mismatched.append(case_id)
    return _Comparison(totals, mismatched, stats.drafted - drafted, stats.accepted - accepted)


def _decode_s(request: Request) -> float:
    timings = request.timings
    if timings.first_token is None or timings.last_token is None:
        return 0.0
    return timings.last_token - timings.first_token


def _fields(mode: str, off_label: str, cmp: _Comparison) -> dict[str, Any]:
    off, on = cmp.totals["off"], cmp.totals[mode]
    return {
        f"decode_tok_s_{off_label}": round(off.decode_tok_s, 1),
        f"decode_tok_s_{mode}": round(on.decode_tok_s, 1),
        f"decode_speedup_{mode}": round(on.decode_tok_s / off.decode_tok_s, 3)
        if off.decode_tok_s
        else 0.0,
        f"output_tok_s_{off_label}": round(off.output_tok_s, 1),
        f"output_tok_s_{mode}": round(on.output_tok_s, 1),
        f"acceptance_rate_{mode}": round(cmp.accepted / cmp.drafted, 3) if cmp.drafted else 0.0,
        f"draft_tokens_{mode}": cmp.drafted,
        f"greedy_identical_{mode}": not cmp.mismatched,
        f"mismatched_{mode}": cmp.mismatched,
    }
