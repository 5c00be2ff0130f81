"""Draft-model speculation on the real default model drafting for itself (one thread, so
the one-row draft decodes and the many-row verification round alike): every draft
accepted, greedy outputs identical to decoding without speculation (alone, batched, and
with the prefix cache reusing slots), and the draft context's cells dropped on abort."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from switchboard.engine import RequestStatus, SamplingParams
from switchboard.engine.local import LocalEngine
from tests.integration.engine_rig import generate_each, run, speculating_engine

pytestmark = pytest.mark.integration

GREEDY = SamplingParams(max_tokens=48, temperature=0.0)
SOURCE = (
    "[1] How long do I have to return an item? (https://help.larkspur.example/returns-window)\n"
    "You can return most items within 30 days from delivery. The 30-day return window starts "
    "on the day the carrier marks your parcel as delivered."
)
PROMPTS = {
    "rag": [
        {"role": "system", "content": "Answer from the sources; copy their wording."},
        {"role": "user", "content": f"Sources:\n{SOURCE}\n\nQuestion: How long can I return?"},
    ],
    "rag-again": [  # shares the first prompt's prefix: the prefix cache reuses its slot
        {"role": "system", "content": "Answer from the sources; copy their wording."},
        {"role": "user", "content": f"Sources:\n{SOURCE}\n\nQuestion: Who pays the return?"},
    ],
    "poem": [{"role": "user", "content": "Write a short poem about parcels and rain."}],
}


def local_engine(path: Path, speculative: str) -> LocalEngine:
    return speculating_engine(path, speculative, n_threads=1)


@pytest.fixture(scope="module")
def plain(default_model_path: Path) -> Iterator[LocalEngine]:
    engine = local_engine(default_model_path, "off")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def drafted(default_model_path: Path) -> Iterator[LocalEngine]:
    engine = local_engine(default_model_path, "draft")
    yield engine
    engine.close()


def test_a_model_drafting_for_itself_has_every_draft_accepted_and_identical_output(
    plain: LocalEngine, drafted: LocalEngine
) -> None:
    expected = generate_each(plain, PROMPTS, GREEDY)
    stats = drafted.engine.speculative_stats
    assert generate_each(drafted, PROMPTS, GREEDY) == expected
    assert stats.drafted > 0
    assert stats.accepted == stats.drafted
    assert drafted.engine.scheduler.prefix_cache.stats.hits > 0  # a slot was reused

    for name, messages in PROMPTS.items():  # all at once: one draft batch per round
        drafted.engine.add_request(drafted.encode_chat(messages), GREEDY, name)
    before = (stats.drafted, stats.accepted)
    assert run(drafted.engine) == expected
    # Batched, the target prefills in other batch shapes than the draft, and llama.cpp's CPU
    # kernels round batches of under 64 rows differently: a near-tie may flip in the draft.
    drafted_now, accepted_now = stats.drafted - before[0], stats.accepted - before[1]
    assert accepted_now >= 0.95 * drafted_now


def test_seeded_sampling_with_a_draft_model_completes_and_repeats(drafted: LocalEngine) -> None:
    params = SamplingParams(max_tokens=32, temperature=0.8, top_p=0.9, seed=5)
    prompt = drafted.encode_chat(PROMPTS["poem"])
    drafted.engine.add_request(prompt, params, "s1")
    first = run(drafted.engine)["s1"]
    drafted.engine.add_request(prompt, params, "s2")
    assert run(drafted.engine)["s2"] == first  # the same seed draws the same tokens
    assert 0 < len(first) <= 32


def test_abort_mid_speculation_drops_the_draft_cells_past_the_kept_prefix(
    drafted: LocalEngine,
) -> None:
    engine, draft_runner = drafted.engine, drafted.draft[1] if drafted.draft else None
    assert draft_runner is not None
    engine.clear_prefix_cache()
    request = engine.add_request(drafted.encode_chat(PROMPTS["poem"]), GREEDY, "cancel-me")
    before = engine.speculative_stats.drafted
    while engine.speculative_stats.drafted == before:  # until a step has verified drafts
        engine.step()
    assert request.status is RequestStatus.RUNNING
    slot = request.slot
    assert slot is not None
    draft_memory = draft_runner.memory
    assert llama_cpp.llama_memory_seq_pos_max(draft_memory, slot) >= request.num_prompt_tokens
    computed = request.num_computed_tokens
    assert engine.abort("cancel-me")
    engine.step()
    assert not engine.has_unfinished
    # the target keeps its computed cells as a cached prefix, the draft no more than those
    assert engine.scheduler.prefix_cache.cached(slot) == computed
    assert llama_cpp.llama_memory_seq_pos_max(draft_memory, slot) <= computed - 1
    engine.clear_prefix_cache()
    assert llama_cpp.llama_memory_seq_pos_max(draft_memory, slot) == -1
    assert llama_cpp.llama_memory_seq_pos_max(drafted.runner.memory, slot) == -1
