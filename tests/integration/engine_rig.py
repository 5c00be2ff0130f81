"""Helpers for tests that drive a real ``LocalEngine`` step by step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from switchboard.config import EngineSettings
from switchboard.engine import LLMEngine, SamplingParams
from switchboard.engine.local import LocalEngine

Messages = Sequence[Mapping[str, str]]


def run(engine: LLMEngine) -> dict[str, list[int]]:
    """Step until every request has finished; each request's tokens."""
    tokens: dict[str, list[int]] = {}
    while engine.has_unfinished:
        for output in engine.step():
            tokens.setdefault(output.request_id, []).extend(output.token_ids)
    return tokens


def generate_each(
    local: LocalEngine, prompts: Mapping[str, Messages], params: SamplingParams
) -> dict[str, list[int]]:
    """Each chat prompt alone, in order, under its name."""
    out = {}
    for name, messages in prompts.items():
        local.engine.add_request(local.encode_chat(messages), params, name)
        out |= run(local.engine)
    return out


def speculating_engine(path: Path, speculative: str, **settings: int) -> LocalEngine:
    """A small engine on ``path`` that speculates (``off``, ``ngram``, or ``draft``: the
    model drafting for itself) while up to 4 sequences run."""
    draft = path if speculative == "draft" else None
    config = EngineSettings(
        max_model_len=512,
        max_num_seqs=4,
        max_batch_tokens=128,
        speculative=speculative,
        draft_model=str(draft) if draft else None,
        speculative_max_seqs=4,  # batched sequences speculate too
        **settings,
    )
    return LocalEngine(speculative, path, config, draft)
