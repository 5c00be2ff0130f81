"""Draft-model speculation without a model: the drafter's bookkeeping of its own KV cells
(catch-up in chunks, sync after rejected drafts and reused slots, the scheduler's frees,
cuts and copies mirrored), the engine's output with a draft model, and the vocabulary
check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from switchboard.config import EngineSettings
from switchboard.engine import LLMEngine, SamplingParams, SchedulerConfig
from switchboard.engine.async_engine import AsyncEngine, EngineStats
from switchboard.engine.draft_model import (
    DraftRequest,
    ModelDrafter,
    TokenSpan,
    check_vocabularies,
    common_prefix,
)
from switchboard.engine.scheduler import KvOp
from switchboard.engine.speculative import SpeculativeConfig, Speculator
from switchboard.errors import ModelMismatchError
from switchboard.observability.metrics import GatewayMetrics
from tests.unit.fakes import FakeTokenizer
from tests.unit.spec_rig import CellsFakeRunner, FakeDraftRunner, Predict, count_up

pytestmark = pytest.mark.unit

PROMPT = [1, 2, 3, 4, 5]


def drafter(runner: FakeDraftRunner) -> ModelDrafter:
    return ModelDrafter(runner, runner.batch_tokens)


# -- the drafter's own cells ------------------------------------------------------------------


def test_a_new_sequence_is_prefilled_then_drafts_one_token_per_decode() -> None:
    runner = FakeDraftRunner(count_up)
    assert drafter(runner).propose([DraftRequest(0, PROMPT, 3)]) == [[6, 7, 8]]
    assert [[(s.start, list(s.tokens)) for s in d] for d in runner.decodes] == [
        [(0, PROMPT)],  # the prompt, then each draft but the last
        [(5, [6])],
        [(6, [7])],
    ]
    assert runner.cells[0] == [*PROMPT, 6, 7]


def test_a_long_prompt_is_prefilled_in_chunks_of_the_batch_size() -> None:
    runner = FakeDraftRunner(count_up, batch_tokens=4)
    model = drafter(runner)
    prompts = [list(range(1, 11)), list(range(20, 27))]
    wants = [DraftRequest(slot, p, 2) for slot, p in enumerate(prompts)]
    assert model.propose(wants) == [[11, 12], [27, 28]]
    prefill = runner.decodes[:-1]
    assert [sum(len(s.tokens) for s in d) for d in prefill] == [4, 4, 4, 4, 1]
    assert [len(d) for d in runner.decodes[-1:]] == [2]  # both sequences' drafts: one batch
    assert runner.cells == {0: [*prompts[0], 11], 1: [*prompts[1], 27]}


def test_after_rejected_drafts_only_the_cells_past_the_accepted_ones_are_dropped() -> None:
    runner = FakeDraftRunner(count_up)
    model = drafter(runner)
    model.propose([DraftRequest(0, PROMPT, 4)])  # 6 7 8 9; cells hold up to 8
    accepted = [*PROMPT, 6, 7, 30]  # the target took 6, 7, then its own 30
    assert model.propose([DraftRequest(0, accepted, 2)]) == [[31, 32]]
    assert runner.trims == [(0, 7)]  # 8 dropped
    assert [list(s.tokens) for s in runner.decodes[-2][:1]] == [[30]]  # only the new token
    assert runner.cells[0] == [*accepted, 31]


def test_when_every_draft_was_accepted_the_last_one_is_caught_up() -> None:
    runner = FakeDraftRunner(count_up)
    model = drafter(runner)
    model.propose([DraftRequest(0, PROMPT, 2)])  # 6 7; cells hold up to 6
    assert model.propose([DraftRequest(0, [*PROMPT, 6, 7, 8], 1)]) == [[9]]
    assert [(s.start, list(s.tokens)) for s in runner.decodes[-1]] == [(6, [7, 8])]
    assert runner.trims == []


def test_a_slot_reused_by_another_request_keeps_only_the_shared_prefix() -> None:
    runner = FakeDraftRunner(count_up)
    model = drafter(runner)
    model.propose([DraftRequest(2, [1, 2, 3, 4, 5, 6, 7], 1)])
    assert model.propose([DraftRequest(2, [1, 2, 3, 40, 41], 1)]) == [[42]]
    assert runner.trims == [(2, 3)]
    assert runner.cells[2] == [1, 2, 3, 40, 41]


def test_a_request_the_cells_already_hold_recomputes_its_last_token_for_logits() -> None:
    runner = FakeDraftRunner(count_up)
    model = drafter(runner)
    model.propose([DraftRequest(0, [1, 2, 3, 4, 5, 6, 7], 1)])
    assert model.propose([DraftRequest(0, [1, 2, 3, 4], 2)]) == [[5, 6]]
    assert runner.trims == [(0, 3)]


def test_no_drafts_when_the_draft_pool_is_full_and_the_cells_stay_consistent() -> None:
    runner = FakeDraftRunner(count_up, capacity=8)
    model = drafter(runner)
    assert model.propose([DraftRequest(0, PROMPT, 2), DraftRequest(1, PROMPT, 2)]) == [[], []]
    assert runner.cells == {}
    assert model.propose([DraftRequest(0, PROMPT, 2)]) == [[6, 7]]


def test_the_schedulers_frees_cuts_and_copies_are_made_to_the_draft_cells() -> None:
    runner = FakeDraftRunner(count_up)
    model = drafter(runner)
    model.propose([DraftRequest(0, PROMPT, 3), DraftRequest(1, [9, 10], 1)])
    model.apply(KvOp(0, 4))  # a finished request's prefix kept, cut
    assert runner.cells[0] == [1, 2, 3, 4]
    model.apply(KvOp(3, 2, source=0))  # copied into an empty slot, cut past its match
    assert runner.cells[3] == [1, 2]
    model.apply(KvOp(1, 0))  # freed: finished, aborted or preempted
    assert 1 not in runner.cells
    assert 1 not in model.held
    model.apply(KvOp(0, 9))  # a cut past the draft's cells changes nothing
    assert runner.cells[0] == [1, 2, 3, 4]
    model.apply(KvOp(0, 0, source=1))  # a copy of nothing empties the slot
    assert 0 not in runner.cells
    assert model.held == {3: [1, 2]}
    assert model.propose([DraftRequest(3, [1, 2, 3], 1)]) == [[4]]


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([7], [1]) == 0


# -- the engine with a draft model ------------------------------------------------------------

GREEDY = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True)


def alternating(context: list[int] | tuple[int, ...]) -> int:
    return context[-3] if len(context) % 5 else (context[-1] + 7) % 64


def make(
    target: CellsFakeRunner, draft: FakeDraftRunner | None, k: int = 4, **limits: int
) -> LLMEngine:
    config = dict(
        max_num_seqs=4, max_batch_tokens=32, kv_cache_tokens=256, max_model_len=64, max_waiting=8
    )
    config.update(limits)
    speculator = None
    if draft is not None:
        model = ModelDrafter(draft, config["max_batch_tokens"])
        spec = SpeculativeConfig(k, 1, 3, max_seqs=4)
        speculator = Speculator(spec, config["max_model_len"], target.trim, model)
    return LLMEngine(target, FakeTokenizer(), SchedulerConfig(**config), speculator=speculator)


def run(engine: LLMEngine, prompts: dict[str, list[int]]) -> dict[str, list[int]]:
    for rid, prompt in prompts.items():
        engine.add_request(prompt, GREEDY, rid)
    out: dict[str, list[int]] = {}
    for _ in range(500):
        if not engine.has_unfinished:
            break
        for o in engine.step():
            out.setdefault(o.request_id, []).extend(o.token_ids)
    return out


PROMPTS = {"a": [4, 5, 6, 4, 5], "b": [9, 30, 12, 4], "c": [7, 8, 9, 10, 11, 12, 13]}


@pytest.mark.parametrize(
    ("target_model", "draft_model"),
    [(count_up, count_up), (alternating, count_up), (count_up, alternating)],
)
def test_greedy_output_is_identical_with_a_draft_model(
    target_model: Predict, draft_model: Predict
) -> None:
    expected = run(make(CellsFakeRunner(target_model), None), PROMPTS)
    draft = FakeDraftRunner(draft_model, batch_tokens=32)
    engine = make(CellsFakeRunner(target_model), draft)
    assert run(engine, PROMPTS) == expected
    stats = engine.speculative_stats
    assert stats.drafted > 0
    if target_model is draft_model:
        assert stats.accepted == stats.drafted  # the same model: every draft accepted
    engine.step()  # applies what the finished requests left
    assert draft.cells == {}  # no prefix cache: every slot freed, the draft's too


def test_a_preempted_request_drops_its_draft_cells_and_decodes_as_without() -> None:
    limits = dict(kv_cache_tokens=40, max_model_len=32)
    prompts = {"a": list(range(1, 13)), "b": list(range(20, 32))}
    expected = run(make(CellsFakeRunner(count_up), None, **limits), prompts)
    draft = FakeDraftRunner(count_up, batch_tokens=32)
    engine = make(CellsFakeRunner(count_up), draft, **limits)
    for rid, prompt in prompts.items():
        engine.add_request(prompt, GREEDY, rid)
    out: dict[str, list[int]] = {}
    preempted_slots: list[int] = []
    while engine.has_unfinished:
        running = {r.request_id: r.slot for r in engine.scheduler.running}
        for o in engine.step():
            out.setdefault(o.request_id, []).extend(o.token_ids)
        for request in engine.scheduler.waiting:
            if request.num_preemptions and request.request_id in running:
                preempted_slots.append(running.pop(request.request_id))  # type: ignore[arg-type]
    assert out == expected
    assert preempted_slots
    assert set(preempted_slots) <= set(draft.freed)


def test_abort_mid_speculation_drops_the_draft_cells() -> None:
    draft = FakeDraftRunner(count_up, batch_tokens=32)
    engine = make(CellsFakeRunner(count_up), draft)
    request = engine.add_request(PROMPT, GREEDY, "a")
    engine.step()
    assert engine.speculative_stats.drafted
    assert draft.cells[0]
    assert request.slot == 0
    engine.abort("a")
    engine.step()
    assert draft.cells == {}
    assert draft.freed == [0]


def test_with_the_prefix_cache_the_draft_keeps_what_the_target_keeps() -> None:
    draft = FakeDraftRunner(count_up, batch_tokens=32)
    engine = make(CellsFakeRunner(alternating), draft, prefix_cache_tokens=256)
    first = run(engine, {"a": [*range(1, 20)]})["a"]
    engine.step()
    kept = engine.scheduler.prefix_cache.cached(0)
    assert kept
    assert len(draft.cells[0]) <= kept
    assert draft.cells[0] == [*range(1, 20), *first][: len(draft.cells[0])]
    expected = run(make(CellsFakeRunner(alternating), None), {"b": [*range(1, 16), 50, 51]})
    assert run(engine, {"b": [*range(1, 16), 50, 51]}) == expected  # reuses slot 0's prefix


# -- vocabulary, settings, metrics ------------------------------------------------------------


@dataclass
class FakeVocab:
    n_vocab: int = 6
    vocab_type: int = 2
    add_bos: bool = False
    add_eos: bool = False
    bos_id: int = 1
    eos_id: int = 2
    texts: dict[int, bytes] = field(default_factory=dict)

    def token_text(self, token_id: int) -> bytes:
        return self.texts.get(token_id, b"t%d" % token_id)


def test_the_same_vocabulary_passes_the_check() -> None:
    check_vocabularies(FakeVocab(), FakeVocab())


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        (FakeVocab(n_vocab=7), "n_vocab 7 .draft. vs 6 .target."),
        (FakeVocab(eos_id=3), "eos_id 3"),
        (FakeVocab(vocab_type=1), "vocab_type 1"),
        (FakeVocab(texts={4: b"x"}), "token 4 is b'x' .draft. vs b't4' .target."),
    ],
)
def test_a_different_vocabulary_is_a_one_line_configuration_error(
    draft: FakeVocab, message: str
) -> None:
    with pytest.raises(ModelMismatchError, match=message) as caught:
        check_vocabularies(FakeVocab(), draft)
    assert "\n" not in str(caught.value)


def test_draft_speculation_needs_a_draft_model() -> None:
    with pytest.raises(ValidationError, match="draft_model"):
        EngineSettings(speculative="draft")
    assert EngineSettings(speculative="draft", draft_model="qwen2.5-0.5b").draft_model


def test_acceptance_metrics_are_labelled_by_method() -> None:
    draft = FakeDraftRunner(count_up, batch_tokens=32)
    engine = make(CellsFakeRunner(count_up), draft)
    run(engine, {"a": PROMPT})
    stats = AsyncEngine(engine).stats
    assert stats.speculative == "draft"
    body, _ = GatewayMetrics(engine_stats=lambda: stats).render()
    samples = {
        (s.name, s.labels.get("method")): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert samples[("switchboard_engine_draft_tokens_total", "draft")] == stats.draft_tokens > 0
    assert samples[("switchboard_engine_draft_acceptance_ratio", "draft")] == 1.0
    off = EngineStats(0, 0, 0, 10)
    body, _ = GatewayMetrics(engine_stats=lambda: off).render()
    assert 'switchboard_engine_draft_acceptance_ratio{method="off"} 0.0' in body.decode()


def test_the_draft_model_runs_without_the_engine_lock_and_survives_an_abort() -> None:
    class AbortingDraftRunner(FakeDraftRunner):
        engine: LLMEngine
        lock_free: list[bool]

        def decode(self, spans: Sequence[TokenSpan]) -> npt.NDArray[np.float32]:
            free = self.engine.lock.acquire(blocking=False)
            if free:
                self.engine.lock.release()
                self.engine.abort("a")  # a client leaves while the draft model runs
            self.lock_free.append(free)
            return super().decode(spans)

    draft = AbortingDraftRunner(count_up, batch_tokens=32)
    engine = make(CellsFakeRunner(count_up), draft)
    draft.engine, draft.lock_free = engine, []
    engine.add_request(PROMPT, GREEDY, "a")
    engine.step()  # the aborted request's batch runs; its output is dropped
    assert draft.lock_free
    assert all(draft.lock_free)
    engine.step()
    assert not engine.has_unfinished
    assert draft.cells == {}
    assert run(engine, {"b": PROMPT}) == run(make(CellsFakeRunner(count_up), None), {"b": PROMPT})
