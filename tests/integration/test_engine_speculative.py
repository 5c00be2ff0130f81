"""N-gram speculative decoding on the real default model: greedy outputs identical to
decoding without it (alone and batched), drafts accepted on an answer that copies its
source, and an aborted request's draft cells dropped mid-speculation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from switchboard.engine import RequestStatus, SamplingParams
from switchboard.engine.local import LocalEngine
from tests.integration.engine_rig import generate_each, run, speculating_engine

pytestmark = pytest.mark.integration

GREEDY = SamplingParams(max_tokens=64, temperature=0.0)
SOURCE = (
    "[1] How long do I have to return an item? (https://help.larkspur.example/returns-window)\n"
    "You can return most items within 30 days from delivery. The 30-day return window starts "
    "on the day the carrier marks your parcel as delivered. Items bought between 15 November "
    "and 24 December can be returned until 15 January of the following year."
)
PROMPTS = {
    "rag": [
        {"role": "system", "content": "Answer from the sources; copy their wording."},
        {"role": "user", "content": f"Sources:\n{SOURCE}\n\nQuestion: How long can I return?"},
    ],
    "repeat": [{"role": "user", "content": "Repeat exactly: the parcel is in Kiel. " * 3}],
    "no-match": [{"role": "user", "content": "Hi"}],
    "poem": [{"role": "user", "content": "Write a short poem about parcels and rain."}],
}


def local_engine(path: Path, speculative: str) -> LocalEngine:
    return speculating_engine(path, speculative)


@pytest.fixture(scope="module")
def plain(default_model_path: Path) -> Iterator[LocalEngine]:
    engine = local_engine(default_model_path, "off")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def ngram(default_model_path: Path) -> Iterator[LocalEngine]:
    engine = local_engine(default_model_path, "ngram")
    yield engine
    engine.close()


def test_greedy_outputs_are_identical_with_ngram_speculation(
    plain: LocalEngine, ngram: LocalEngine
) -> None:
    expected = generate_each(plain, PROMPTS, GREEDY)
    before = ngram.engine.speculative_stats.accepted
    assert generate_each(ngram, PROMPTS, GREEDY) == expected
    stats = ngram.engine.speculative_stats
    assert stats.accepted > before  # the answers copy their prompt: drafts were used
    assert stats.drafted > stats.accepted  # and some were rejected and trimmed

    drafted = stats.drafted
    for name, messages in PROMPTS.items():  # all at once: each with its own drafts
        ngram.engine.add_request(ngram.encode_chat(messages), GREEDY, name)
    assert run(ngram.engine) == expected
    assert stats.drafted > drafted


def test_seeded_sampling_with_speculation_completes(ngram: LocalEngine) -> None:
    params = SamplingParams(max_tokens=48, temperature=0.7, top_p=0.9, seed=3)
    prompt = ngram.encode_chat(PROMPTS["rag"])
    ngram.engine.add_request(prompt, params, "s1")
    first = run(ngram.engine)["s1"]
    ngram.engine.add_request(prompt, params, "s2")
    assert run(ngram.engine)["s2"] == first  # the same seed draws the same tokens
    assert 0 < len(first) <= 48


def test_abort_mid_speculation_keeps_only_computed_cells_and_clearing_frees_them(
    ngram: LocalEngine,
) -> None:
    engine = ngram.engine
    request = engine.add_request(ngram.encode_chat(PROMPTS["repeat"]), GREEDY, "cancel-me")
    drafted = engine.speculative_stats.drafted
    for _ in range(GREEDY.max_tokens or 0):  # until a step has verified drafts
        engine.step()
        if engine.speculative_stats.drafted > drafted:
            break
    assert engine.speculative_stats.drafted > drafted
    assert request.status is RequestStatus.RUNNING
    slot = request.slot
    assert slot is not None
    memory = ngram.runner.memory
    computed = request.num_computed_tokens
    assert llama_cpp.llama_memory_seq_pos_max(memory, slot) == computed - 1
    assert engine.abort("cancel-me")
    engine.step()
    assert not engine.has_unfinished
    # the slot keeps its computed cells, and no draft's, as a cached prefix
    assert engine.scheduler.prefix_cache.cached(slot) == computed
    assert llama_cpp.llama_memory_seq_pos_max(memory, slot) == computed - 1
    engine.clear_prefix_cache()
    assert llama_cpp.llama_memory_seq_pos_max(memory, slot) == -1
