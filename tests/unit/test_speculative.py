"""Speculative decoding without a model: n-gram drafts, the acceptance rule (greedy and
sampled), and the engine emitting several tokens a step with the KV of rejected drafts
trimmed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from switchboard.config import EngineSettings
from switchboard.engine import (
    LLMEngine,
    Request,
    RequestOutput,
    SamplingParams,
    SchedulerConfig,
)
from switchboard.engine.async_engine import EngineStats
from switchboard.engine.ngram import ngram_draft
from switchboard.engine.sampler import distribution, sample
from switchboard.engine.scheduler import ScheduledChunk, SchedulerOutput
from switchboard.engine.speculative import SpeculativeConfig, Speculator, verify
from switchboard.observability.metrics import GatewayMetrics
from tests.unit.fakes import FakeTokenizer
from tests.unit.spec_rig import DraftingFakeRunner, Predict, count_up

pytestmark = pytest.mark.unit

GREEDY = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True)


def make(
    runner: DraftingFakeRunner,
    speculate: bool = True,
    k: int = 4,
    max_seqs: int = 4,
    **limits: int,
) -> LLMEngine:
    config = dict(
        max_num_seqs=4, max_batch_tokens=32, kv_cache_tokens=256, max_model_len=64, max_waiting=8
    )
    config.update(limits)
    speculator = (
        Speculator(SpeculativeConfig(k, 1, 16, max_seqs), config["max_model_len"], runner.trim)
        if speculate
        else None
    )
    return LLMEngine(runner, FakeTokenizer(), SchedulerConfig(**config), speculator=speculator)


def run(engine: LLMEngine) -> dict[str, list[RequestOutput]]:
    outputs: dict[str, list[RequestOutput]] = {}
    for _ in range(500):
        if not engine.has_unfinished:
            break
        for out in engine.step():
            outputs.setdefault(out.request_id, []).append(out)
    return outputs


def tokens(outputs: list[RequestOutput]) -> list[int]:
    return [t for o in outputs for t in o.token_ids]


def repeat_period(period: int) -> Predict:
    """A fake model that repeats the last ``period`` tokens (copying, as a RAG answer does)."""
    return lambda context: context[-period]


# -- drafts -------------------------------------------------------------------------------


def test_ngram_draft_continues_the_latest_longest_match() -> None:
    history = [5, 6, 7, 1, 9, 5, 6, 7, 2, 3, 6, 7]
    assert ngram_draft(history, 3, 1, 3) == [2]  # [6, 7] last seen before 2, 3, 6
    assert ngram_draft([*history, 1], 4, 1, 3) == [9, 5]  # [6, 7, 1] beats [7, 1] and [1]
    assert ngram_draft([*history, 1], 4, 1, 2) == [9]  # at most [7, 1] looked up


def test_ngram_draft_proposes_fewer_tokens_than_its_match_is_long() -> None:
    run = list(range(10, 30))
    copying = [1, 2, *run, 3, 4, *run[:9]]  # 9 tokens of the run copied so far
    assert ngram_draft(copying, 16, 2, 16) == run[9:17]  # 8 of the rest (9 - 1)
    assert ngram_draft(copying, 4, 2, 16) == run[9:13]  # k bounds it
    assert ngram_draft(copying, 16, 2, 5) == run[9:13]  # a 5-token match proposes 4
    assert ngram_draft([*copying[:-7], 99, 7, 8, 7], 16, 1, 16) == [8]  # one token for [7]


def test_ngram_draft_finds_the_longest_match_not_the_latest_short_one() -> None:
    # [4, 5, 6] ends both runs; only the first one started with [2, 3] as the suffix does
    history = [2, 3, 4, 5, 6, 70, 71, 72, 9, 4, 5, 6, 80, 81, 82, 2, 3, 4, 5, 6]
    assert ngram_draft(history, 8, 2, 16) == [70, 71, 72, 9]
    assert ngram_draft(history, 8, 2, 3) == [80, 81]  # a 3-token lookup sees the later one


def test_ngram_draft_is_empty_without_a_match() -> None:
    assert ngram_draft([1, 2, 3, 4], 4, 1, 3) == []
    assert ngram_draft([1, 2, 9, 1, 3, 2], 4, 2, 3) == []  # only 1-grams recur
    assert ngram_draft([7], 4, 1, 3) == []
    assert ngram_draft([], 4, 1, 3) == []
    assert ngram_draft([1, 1, 1], 0, 1, 3) == []
    assert ngram_draft([3, 3, 3], 4, 1, 3) == [3]  # overlapping occurrences count


# -- the acceptance rule --------------------------------------------------------------------


def rows_with_argmax(*argmax: int, vocab: int = 8) -> npt.NDArray[np.float32]:
    rows = np.zeros((len(argmax), vocab), dtype=np.float32)
    rows[np.arange(len(argmax)), argmax] = 5.0
    return rows


@pytest.mark.parametrize(
    ("argmax", "expected"),
    [
        ((1, 2, 3, 4), [1, 2, 3, 4]),  # every draft accepted, plus the model's next token
        ((1, 2, 6, 4), [1, 2, 6]),  # the third is rejected: the model's token replaces it
        ((7, 2, 3, 4), [7]),  # the first is rejected
    ],
)
def test_greedy_verification_keeps_the_agreeing_prefix(
    argmax: tuple[int, ...], expected: list[int]
) -> None:
    rng = np.random.default_rng(0)
    out = verify(rows_with_argmax(*argmax), (1, 2, 3), GREEDY, rng, [], [], sample)
    assert out == expected


def test_greedy_verification_applies_penalties_over_accepted_drafts() -> None:
    rows = np.zeros((2, 8), dtype=np.float32)
    rows[:, 3] = 2.0
    rows[:, 5] = 1.5
    params = SamplingParams(temperature=0, presence_penalty=1.0)
    # without the penalty both rows pick 3; once 3 is emitted, the second row picks 5
    assert verify(rows, (3,), params, np.random.default_rng(0), [], [], sample) == [3, 5]


def test_sampled_verification_keeps_the_models_distribution() -> None:
    """Rejection sampling against a point-mass draft: the first token is distributed as p0
    and the second, after an accepted first draft, as p1 (fixed seed: no flakes)."""
    rng = np.random.default_rng(1234)
    params = SamplingParams(temperature=0.8, top_k=4)
    rows = np.array(
        [[2.0, 1.0, 0.5, 0.0, -1.0, -9.0], [0.0, 0.3, 1.2, 0.6, 2.0, -9.0]], dtype=np.float32
    )
    p0, p1 = (expected_probs(row, params) for row in rows)
    draws = 40_000
    first = np.zeros(6)
    second = np.zeros(6)
    for _ in range(draws):
        out = verify(rows[:2], (1,), params, rng, [], [], sample)
        first[out[0]] += 1
        if out[0] == 1:
            assert len(out) == 2
            second[out[1]] += 1
        else:
            assert len(out) == 1
    np.testing.assert_allclose(first / draws, p0, atol=0.01)
    np.testing.assert_allclose(second / second.sum(), p1, atol=0.02)
    assert first[5] == first[4] == 0  # top_k=4 holds through rejection


def test_a_draft_the_model_cannot_sample_is_always_rejected() -> None:
    rng = np.random.default_rng(7)
    params = SamplingParams(temperature=1.0, top_k=2)
    rows = np.array([[3.0, 2.0, 0.0, -5.0]] * 2, dtype=np.float32)
    outs = [verify(rows, (3,), params, rng, [], [], sample) for _ in range(500)]
    assert all(len(o) == 1 and o[0] in (0, 1) for o in outs)


def expected_probs(row: npt.NDArray[np.float32], params: SamplingParams) -> npt.NDArray[np.float64]:
    candidates, probs = distribution(row, params)
    full = np.zeros(row.shape[0])
    full[candidates] = probs
    return full


# -- the engine ----------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", [[1, 2, 3, 1, 2], [9, 30, 12, 4]])
def test_greedy_output_is_identical_with_and_without_speculation(prompt: list[int]) -> None:
    predict = repeat_period(3)
    plain = make(DraftingFakeRunner(predict), speculate=False)
    plain.add_request(prompt, GREEDY, "a")
    expected = tokens(run(plain)["a"])

    runner = DraftingFakeRunner(predict)
    engine = make(runner)
    engine.add_request(prompt, GREEDY, "a")
    outputs = run(engine)["a"]
    assert tokens(outputs) == expected
    assert len(outputs) < len(expected)  # several tokens a step
    assert engine.speculative_stats.accepted > 0


def test_rejected_drafts_are_trimmed_from_the_kv_cache() -> None:
    runner = DraftingFakeRunner(count_up)  # never repeats: every n-gram draft is wrong
    engine = make(runner)
    engine.add_request([1, 2, 3, 4, 9, 1, 2, 3], GREEDY, "a")  # [1, 2, 3] drafts 4, 9
    outputs = run(engine)["a"]
    assert tokens(outputs) == list(range(4, 16))
    assert runner.drafts[0] == ("a", (4, 9))
    assert runner.trims[0] == (0, 9)  # 8 known + the accepted 4; 9 trimmed
    stats = engine.speculative_stats
    assert (stats.drafted, stats.accepted) == (3, 1)  # and [9] later drafts a wrong 1


def test_several_sequences_speculate_in_one_batch() -> None:
    predict = repeat_period(2)
    plain = make(DraftingFakeRunner(predict), speculate=False)
    prompts = {"a": [4, 5, 4, 5], "b": [7, 8, 9, 7, 8, 9], "c": [20, 21, 22]}
    for rid, prompt in prompts.items():
        plain.add_request(prompt, GREEDY, rid)
    expected = {rid: tokens(outs) for rid, outs in run(plain).items()}

    runner = DraftingFakeRunner(predict)
    engine = make(runner)
    for rid, prompt in prompts.items():
        engine.add_request(prompt, GREEDY, rid)
    assert {rid: tokens(outs) for rid, outs in run(engine).items()} == expected
    drafting = {rid for rid, _ in runner.drafts}
    assert drafting == {"a", "b", "c"}


def test_no_drafts_while_more_than_max_seqs_sequences_run() -> None:
    runner = DraftingFakeRunner(repeat_period(2))
    engine = make(runner, max_seqs=1)
    engine.add_request([4, 5, 4, 5], SamplingParams(max_tokens=3, temperature=0), "a")
    engine.add_request([7, 8, 7, 8], SamplingParams(max_tokens=9, temperature=0), "b")
    run(engine)
    assert runner.drafts  # once "a" has finished, "b" runs alone and speculates
    assert all(rid == "b" for rid, _ in runner.drafts)  # "a" never ran alone


def test_drafts_never_exceed_the_step_budget_or_max_tokens() -> None:
    runner = DraftingFakeRunner(repeat_period(1))
    engine = make(runner, k=8, max_batch_tokens=16)
    engine.add_request([3, 3, 3], SamplingParams(max_tokens=5, temperature=0), "a")
    outputs = run(engine)["a"]
    assert tokens(outputs) == [3] * 5
    assert outputs[-1].finish_reason == "length"
    assert all(len(d) <= 4 for _, d in runner.drafts)  # 5 tokens: at most 4 drafts + 1


def test_a_stop_string_inside_accepted_drafts_ends_the_output_there() -> None:
    runner = DraftingFakeRunner(repeat_period(3))  # b c d b c d ... as letters
    engine = make(runner, k=6)
    params = SamplingParams(max_tokens=20, temperature=0, stop=("cd",))
    engine.add_request([1, 2, 3] * 3, params, "a")
    outputs = run(engine)["a"]
    assert runner.drafts[0] == ("a", (1, 2, 3))  # one step emits b c d b
    assert "".join(o.text for o in outputs) == "b"
    assert outputs[-1].finish_reason == "stop"
    assert outputs[-1].completion_tokens == 3  # b c d: the b after the stop is dropped


def test_abort_while_drafts_are_verified_frees_the_kv() -> None:
    class AbortingRunner(DraftingFakeRunner):
        engine: LLMEngine

        def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
            if any(c.draft for c in chunks):
                self.engine.abort("a")  # a client disconnects mid-speculation
            return super().execute(chunks)

    runner = AbortingRunner(repeat_period(2))
    engine = make(runner)
    runner.engine = engine
    engine.add_request([1, 2, 1, 2], GREEDY, "a")
    assert engine.step() == []
    assert not engine.has_unfinished
    engine.step()
    assert runner.freed == [0]
    assert runner.kv.get(0) is None


# -- settings and metrics ------------------------------------------------------------------


def test_ngram_bounds_are_checked() -> None:
    with pytest.raises(ValidationError, match="ngram_min"):
        EngineSettings(speculative="ngram", ngram_min=5, ngram_max=3)
    with pytest.raises(ValidationError):
        EngineSettings(speculative="beam")  # type: ignore[arg-type]


def test_acceptance_is_exported_as_metrics() -> None:
    stats = EngineStats(1, 0, 10, 100, draft_tokens=40, accepted_draft_tokens=30)
    body, _ = GatewayMetrics(engine_stats=lambda: stats).render()
    values = {
        s.name: s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert values["switchboard_engine_draft_tokens_total"] == 40
    assert values["switchboard_engine_accepted_draft_tokens_total"] == 30
    assert values["switchboard_engine_draft_acceptance_ratio"] == pytest.approx(0.75)


def test_draft_length_adapts_to_what_was_accepted() -> None:
    speculator = Speculator(SpeculativeConfig(8, 1, 16), 256, lambda slot, keep: None)
    run_ = list(range(5, 30))
    request = Request("a", [*run_, 0, *run_[:10]], GREEDY, max_tokens=64)  # copying run_

    def draft_after(emitted: list[int] | None) -> tuple[int, ...]:
        out = SchedulerOutput([ScheduledChunk(request, 35, 1, sample=True, slot=0)])
        speculator.attach(out, speculator.plan(out, running=1, spare_tokens=64, spare_cells=64))
        if emitted is not None:
            speculator.settle(out.chunks[0], emitted)
        return out.chunks[0].draft

    assert draft_after([15, 99]) == tuple(range(15, 23))  # 1 of 8 accepted
    assert draft_after([15, 16, 99]) == (15, 16)  # next: 2; 2 of 2 accepted
    assert draft_after([15, 16, 17, 18, 19]) == (15, 16, 17, 18)  # next: 4; all accepted
    assert draft_after(None) == tuple(range(15, 23))  # next: 8
