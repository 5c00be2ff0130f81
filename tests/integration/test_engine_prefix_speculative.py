"""Prefix KV reuse with n-gram speculation on the real default model: a request whose
drafts are partly rejected leaves llama.cpp exactly the cells of its accepted tokens in the
slot it keeps for reuse, and the next turn of the conversation, reusing those it may reuse
exactly, decodes the same tokens as an engine that recomputes the whole prompt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from switchboard.config import EngineSettings
from switchboard.engine import LLMEngine, SamplingParams
from switchboard.engine.exact_reuse import SMALL_BATCH_ROWS
from switchboard.engine.local import LocalEngine

pytestmark = pytest.mark.integration

GREEDY = SamplingParams(max_tokens=40, temperature=0.0, ignore_eos=True)
SOURCE = (
    "[1] How long do I have to return an item? (https://help.larkspur.example/returns-window)\n"
    "You can return most items within 30 days from delivery. The 30-day return window starts "
    "on the day the carrier marks your parcel as delivered. Items bought between 15 November "
    "and 24 December can be returned until 15 January of the following year."
)
MESSAGES = [
    {"role": "system", "content": "Answer from the sources; copy their wording."},
    {"role": "user", "content": f"Sources:\n{SOURCE}\n\nQuestion: How long can I return?"},
]


def local_engine(path: Path, prefix_cache: bool) -> LocalEngine:
    settings = EngineSettings(
        max_model_len=512,
        max_num_seqs=2,
        max_batch_tokens=512,  # a prompt in one chunk in both engines
        speculative="ngram",
        ngram_min=1,  # one-token matches draft too: some drafts are rejected
        prefix_cache=prefix_cache,
    )
    return LocalEngine("spec-reuse" if prefix_cache else "spec", path, settings)


@pytest.fixture(scope="module")
def engines(default_model_path: Path) -> Iterator[dict[str, LocalEngine]]:
    pair = {"reuse": local_engine(default_model_path, True)}
    pair["recompute"] = local_engine(default_model_path, False)
    yield pair
    for local in pair.values():
        local.close()


def generate(engine: LLMEngine, rid: str, prompt: list[int]) -> list[int]:
    engine.add_request(prompt, GREEDY, rid)
    tokens: list[int] = []
    while engine.has_unfinished:
        for output in engine.step():
            tokens.extend(output.token_ids)
    engine.step()  # applies what the finished request left to its slot
    return tokens


def cells(local: LocalEngine, slot: int) -> tuple[int, int]:
    """First and last position of the cells llama.cpp holds for ``slot``."""
    memory = local.runner.memory
    return (
        llama_cpp.llama_memory_seq_pos_min(memory, slot),
        llama_cpp.llama_memory_seq_pos_max(memory, slot),
    )


def test_a_kept_slot_after_rejected_drafts_is_reused_as_if_recomputed(
    engines: dict[str, LocalEngine],
) -> None:
    reuse = engines["reuse"]
    prompt = reuse.encode_chat(MESSAGES)
    first: dict[str, list[int]] = {}
    for label, local in engines.items():
        stats = local.engine.speculative_stats
        drafted, accepted = stats.drafted, stats.accepted
        first[label] = generate(local.engine, f"{label}-first", prompt)
        assert 0 < stats.accepted - accepted < stats.drafted - drafted  # some rejected
    assert first["reuse"] == first["recompute"]  # no reuse yet

    cache = reuse.engine.scheduler.prefix_cache
    kept = len(prompt) + len(first["reuse"]) - 1  # every token but the last was computed
    slot = next(s for s in range(2) if cache.cached(s))
    assert cache.cached(slot) == kept
    assert cells(reuse, slot) == (0, kept - 1)  # no rejected draft's cell past it
    assert cells(reuse, 1 - slot) == (-1, -1)

    follow_up = reuse.model.tokenize("\nAnd who pays for the return shipping?", add_special=False)
    second = {
        label: generate(local.engine, f"{label}-next", [*prompt, *first[label], *follow_up])
        for label, local in engines.items()
    }
    # The next turn reuses the first one's prompt, not its answer (computed a few rows at a
    # time, it rounds otherwise than a prefill does), and leaves a big batch to compute.
    next_prompt = len(prompt) + len(first["reuse"]) + len(follow_up)
    assert cache.stats.reused_tokens == min(len(prompt), next_prompt - SMALL_BATCH_ROWS)
    assert second["reuse"] == second["recompute"]
