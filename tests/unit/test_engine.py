from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.engine import LLMEngine, RequestOutput, SamplingParams, SchedulerConfig
from switchboard.engine.engine import Sampler
from switchboard.engine.sampler import sample
from switchboard.engine.scheduler import ScheduledChunk
from switchboard.errors import ContextLengthError, InvalidRequestError
from tests.unit.fakes import FakeRunner, FakeTokenizer

pytestmark = pytest.mark.unit


def make(runner: FakeRunner | None = None, **limits: int) -> tuple[LLMEngine, FakeRunner]:
    config = dict(
        max_num_seqs=4, max_batch_tokens=16, kv_cache_tokens=256, max_model_len=64, max_waiting=8
    )
    config.update(limits)
    runner = runner or FakeRunner()
    return LLMEngine(runner, FakeTokenizer(), SchedulerConfig(**config)), runner


def run(engine: LLMEngine) -> dict[str, list[RequestOutput]]:
    outputs: dict[str, list[RequestOutput]] = {}
    for _ in range(500):
        if not engine.has_unfinished:
            break
        for out in engine.step():
            outputs.setdefault(out.request_id, []).append(out)
    return outputs


def text(outputs: list[RequestOutput]) -> str:
    return "".join(o.text for o in outputs)


def test_greedy_counts_up_and_reports_usage() -> None:
    engine, _ = make()
    engine.add_request([1, 2, 3], SamplingParams(max_tokens=4, temperature=0), "a")
    outs = run(engine)["a"]
    assert [t for o in outs for t in o.token_ids] == [4, 5, 6, 7]
    assert text(outs) == "efgh"
    last = outs[-1]
    assert (last.finished, last.finish_reason) == (True, "length")
    assert (last.prompt_tokens, last.completion_tokens) == (3, 4)
    assert last.timings.ttft_s is not None
    assert last.timings.queue_wait_s is not None
    assert len(last.timings.inter_token_s) == 3


def test_eos_stops_and_is_not_rendered() -> None:
    engine, _ = make()
    engine.add_request([61], SamplingParams(max_tokens=10, temperature=0), "a")
    outs = run(engine)["a"]  # 62, 63, then 0 == EOS
    assert text(outs) == "kl"
    assert outs[-1].finish_reason == "stop"
    assert outs[-1].completion_tokens == 3


def test_ignore_eos_runs_to_max_tokens() -> None:
    engine, _ = make()
    engine.add_request([61], SamplingParams(max_tokens=5, temperature=0, ignore_eos=True), "a")
    outs = run(engine)["a"]
    assert outs[-1].finish_reason == "length"
    assert outs[-1].completion_tokens == 5


def test_stop_string_is_cut_and_never_streamed() -> None:
    engine, _ = make()
    engine.add_request([1], SamplingParams(max_tokens=20, temperature=0, stop=("def",)), "a")
    outs = run(engine)["a"]  # c d e f ... -> "c", then "def" stops it
    assert text(outs) == "c"
    assert outs[-1].completion_tokens == 4
    assert outs[-1].finish_reason == "stop"


def test_requests_interleave_and_batched_greedy_equals_alone() -> None:
    alone, _ = make()
    alone.add_request([5, 6, 7], SamplingParams(max_tokens=6, temperature=0), "x")
    expected = text(run(alone)["x"])

    engine, runner = make()
    engine.add_request([1] * 40, SamplingParams(max_tokens=6, temperature=0), "long")
    engine.add_request([5, 6, 7], SamplingParams(max_tokens=6, temperature=0), "x")
    outs = run(engine)
    assert text(outs["x"]) == expected
    mixed = [b for b in runner.batches if {r for r, _, _ in b} == {"long", "x"}]
    assert mixed, "decode and prefill should share batches"


def test_seeded_sampling_is_identical_alone_and_batched() -> None:
    params = SamplingParams(max_tokens=8, temperature=1.0, seed=1234)

    class Flat(FakeRunner):
        def execute(self, chunks: list[ScheduledChunk]) -> npt.NDArray[np.float32]:  # type: ignore[override]
            rows = super().execute(chunks)
            return np.zeros_like(rows)  # uniform: the draw depends only on the rng

    alone, _ = make(Flat())
    alone.add_request([1, 2], params, "s")
    expected = [t for o in run(alone)["s"] for t in o.token_ids]

    batched, _ = make(Flat())
    batched.add_request([3, 4, 5], SamplingParams(max_tokens=8, temperature=1.0), "other")
    batched.add_request([1, 2], params, "s")
    assert [t for o in run(batched)["s"] for t in o.token_ids] == expected


def test_abort_frees_kv_within_one_step() -> None:
    engine, runner = make()
    engine.add_request([1, 2, 3], SamplingParams(max_tokens=50, temperature=0), "a")
    engine.step()
    engine.step()
    assert engine.abort("a")
    assert not engine.has_unfinished
    engine.add_request([9], SamplingParams(max_tokens=1, temperature=0), "b")
    engine.step()
    assert runner.freed == [0]
    assert not engine.abort("a")


def test_preempted_request_recomputes_and_finishes_identically() -> None:
    params = SamplingParams(max_tokens=20, temperature=0, ignore_eos=True)
    roomy, _ = make()
    roomy.add_request([1] * 10, params, "a")
    roomy.add_request([2] * 10, params, "b")
    expected = run(roomy)

    tight, _ = make(kv_cache_tokens=40, max_model_len=40)
    tight.add_request([1] * 10, params, "a")
    tight.add_request([2] * 10, params, "b")
    got = run(tight)
    assert tight.scheduler.config.kv_cache_tokens < 60  # both need 30 cells: one is preempted
    assert text(got["a"]) == text(expected["a"])
    assert text(got["b"]) == text(expected["b"])


def test_context_length_errors_name_both_lengths() -> None:
    engine, _ = make(max_model_len=64)
    with pytest.raises(ContextLengthError) as info:
        engine.add_request([1] * 70, SamplingParams(max_tokens=4))
    assert "64" in str(info.value)
    assert "70" in str(info.value)
    with pytest.raises(ContextLengthError):
        engine.add_request([1] * 60, SamplingParams(max_tokens=10))
    with pytest.raises(InvalidRequestError, match="empty"):
        engine.add_request([], SamplingParams())
    req = engine.add_request([1] * 60, SamplingParams(max_tokens=None))
    assert req.max_tokens == 4


def test_stop_string_on_the_last_allowed_token_reports_stop() -> None:
    engine, _ = make()
    engine.add_request([1], SamplingParams(max_tokens=2, temperature=0, stop=("cd",)), "a")
    outs = run(engine)["a"]  # c, d: "cd" completes exactly at max_tokens
    assert text(outs) == ""
    assert outs[-1].finish_reason == "stop"


def test_abort_while_the_batch_runs_keeps_the_engine_alive() -> None:
    class AbortingRunner(FakeRunner):
        engine: LLMEngine

        def execute(self, chunks: list[ScheduledChunk]) -> npt.NDArray[np.float32]:  # type: ignore[override]
            self.engine.abort("a")  # a client disconnects mid-step
            return super().execute(chunks)

    runner = AbortingRunner()
    engine, _ = make(runner)
    runner.engine = engine
    engine.add_request([1, 2], SamplingParams(max_tokens=4, temperature=0), "a")
    assert engine.step() == []
    assert not engine.has_unfinished
    engine.step()
    assert runner.freed == [0]


def test_negative_seed_is_a_parameter_error() -> None:
    with pytest.raises(InvalidRequestError) as info:
        SamplingParams(seed=-1)
    assert info.value.param == "seed"


@pytest.mark.parametrize("bad", [-1, 64, 2**70])
def test_a_stop_token_id_outside_the_vocabulary_is_a_parameter_error(bad: int) -> None:
    engine, _ = make()
    with pytest.raises(InvalidRequestError, match="outside the vocabulary") as info:
        engine.add_request([1, 2], SamplingParams(stop_token_ids=(5, bad)), "a")
    assert info.value.param == "stop_token_ids"
    assert not engine.has_unfinished
    engine.add_request([1, 2], SamplingParams(max_tokens=2, stop_token_ids=(63,)), "b")
    assert engine.has_unfinished


# -- one request failing ------------------------------------------------------------------


def failing_for(request_id: str) -> Sampler:
    """The real sampler, except for ``request_id``'s rows: a bug that only its parameters
    hit (as NaN probabilities from extreme penalties once did)."""

    def sampler(
        row: npt.NDArray[np.float32],
        params: SamplingParams,
        rng: np.random.Generator,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
    ) -> int:
        if params.seed == POISON_SEED:
            raise ValueError(f"probabilities contain NaN ({request_id})")
        return sample(row, params, rng, prompt_ids, output_ids)

    return sampler


POISON_SEED = 666


def test_a_request_whose_sampling_fails_ends_alone() -> None:
    alone, _ = make()
    alone.add_request([1, 2, 3], SamplingParams(max_tokens=6, temperature=0), "good")
    expected = text(run(alone)["good"])

    engine, runner = make()
    engine.sampler = failing_for("bad")
    engine.add_request([1, 2, 3], SamplingParams(max_tokens=6, temperature=0), "good")
    poisoned = SamplingParams(max_tokens=6, temperature=0, seed=POISON_SEED)
    engine.add_request([7, 8], poisoned, "bad")
    outputs = run(engine)
    assert text(outputs["good"]) == expected
    assert outputs["good"][-1].error is None
    (failed,) = outputs["bad"]
    assert failed.finished
    assert failed.error == "ValueError: probabilities contain NaN (bad)"
    assert not engine.has_unfinished
    engine.step()  # frees what the last one released
    assert sorted(runner.freed) == [0, 1]  # its KV cells were freed like the other's


def test_a_request_whose_detokenizing_fails_ends_alone() -> None:
    class Tokenizer(FakeTokenizer):
        def token_bytes(self, token_id: int) -> bytes:
            if token_id == 40:
                raise UnicodeError("no bytes for token 40")
            return super().token_bytes(token_id)

    engine = LLMEngine(FakeRunner(), Tokenizer(), SchedulerConfig(4, 16, 256, 64, 8))
    engine.add_request([1], SamplingParams(max_tokens=4, temperature=0), "good")
    engine.add_request([38], SamplingParams(max_tokens=4, temperature=0), "bad")  # 39, 40
    outputs = run(engine)
    assert text(outputs["good"]) == "cdef"
    assert [o.error for o in outputs["bad"]] == [None, "UnicodeError: no bytes for token 40"]
    assert outputs["bad"][-1].finished
    assert not engine.has_unfinished
