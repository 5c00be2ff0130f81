import pytest

from switchboard.engine.params import SamplingParams
from switchboard.engine.request import Request, RequestStatus
from switchboard.engine.scheduler import KvOp, Scheduler, SchedulerConfig
from switchboard.errors import QueueFullError

pytestmark = pytest.mark.unit


def make(
    max_num_seqs: int = 4,
    max_batch_tokens: int = 16,
    kv: int = 256,
    max_model_len: int = 128,
    max_waiting: int = 8,
) -> Scheduler:
    return Scheduler(
        SchedulerConfig(max_num_seqs, max_batch_tokens, kv, max_model_len, max_waiting)
    )


def req(rid: str, prompt_len: int, max_tokens: int = 8, eos: int | None = None) -> Request:
    return Request(
        request_id=rid,
        prompt_token_ids=list(range(1, prompt_len + 1)),
        params=SamplingParams(max_tokens=max_tokens),
        max_tokens=max_tokens,
        eos_token_ids=frozenset() if eos is None else frozenset({eos}),
    )


def step(s: Scheduler, token: int = 7) -> list[tuple[str, int, int, bool]]:
    out = s.schedule()
    s.update(out, {c.request.request_id: [token] for c in out.sampled})
    return [(c.request.request_id, c.start, c.num_tokens, c.sample) for c in out.chunks]


def test_budget_is_filled_and_prompt_is_chunked() -> None:
    s = make(max_batch_tokens=16)
    s.add(req("a", 40))
    assert step(s) == [("a", 0, 16, False)]
    assert step(s) == [("a", 16, 16, False)]
    assert step(s) == [("a", 32, 8, True)]
    assert s.running[0].output_token_ids == [7]
    assert step(s) == [("a", 40, 1, True)]


def test_running_decodes_first_then_waiting_prefill_fills_the_rest() -> None:
    s = make(max_batch_tokens=16)
    s.add(req("a", 4))
    step(s)  # a prefilled and sampled its first token
    s.add(req("b", 40))
    assert step(s) == [("a", 4, 1, True), ("b", 0, 15, False)]
    # b's prefill is spread over steps; a keeps decoding every step
    assert step(s) == [("a", 5, 1, True), ("b", 15, 15, False)]
    assert step(s) == [("a", 6, 1, True), ("b", 30, 10, True)]
    assert step(s) == [("a", 7, 1, True), ("b", 40, 1, True)]


def test_max_num_seqs_limits_admission() -> None:
    s = make(max_num_seqs=2, max_batch_tokens=64)
    for rid in "abc":
        s.add(req(rid, 4))
    assert [c[0] for c in step(s)] == ["a", "b"]
    assert [r.request_id for r in s.waiting] == ["c"]
    assert {r.slot for r in s.running} == {0, 1}


def test_queue_bound_raises_queue_full() -> None:
    s = make(max_num_seqs=1, max_waiting=2)
    s.add(req("a", 4))
    s.add(req("b", 4))
    s.add(req("c", 4))  # one of the three is about to take the free slot
    with pytest.raises(QueueFullError):
        s.add(req("d", 4))
    step(s)  # a runs; b and c wait: the bound still holds
    assert [r.request_id for r in s.waiting] == ["b", "c"]
    with pytest.raises(QueueFullError):
        s.add(req("d", 4))


def test_admission_waits_for_free_kv_cells() -> None:
    s = make(max_batch_tokens=64, kv=40, max_model_len=40)
    s.add(req("a", 30))
    s.add(req("b", 20))
    assert [c[0] for c in step(s)] == ["a"]  # b's 20 cells do not fit beside a's 30
    assert s.waiting[0].request_id == "b"


def test_preemption_frees_cells_and_requeues_for_recompute() -> None:
    s = make(max_batch_tokens=64, kv=24, max_model_len=24)
    s.add(req("a", 10, max_tokens=12))
    s.add(req("b", 10, max_tokens=12))
    step(s)  # both prefilled: 20 of 24 cells
    for _ in range(2):
        step(s)  # 22, then 24 cells
    chunks = step(s)  # both need a cell, none free: b (newest) is preempted
    assert [c[0] for c in chunks] == ["a"]
    b = s.waiting[0]
    assert b.request_id == "b"
    assert b.status is RequestStatus.PREEMPTED
    assert b.num_computed_tokens == 0
    assert b.num_preemptions == 1
    assert len(b.output_token_ids) == 3  # its output is kept and recomputed with the prompt
    assert KvOp(1, 0) in s.take_kv_ops()


def test_abort_frees_slot_immediately() -> None:
    s = make()
    s.add(req("a", 4))
    step(s)
    aborted = s.abort("a")
    assert aborted is not None
    assert aborted.status is RequestStatus.FINISHED_ABORTED
    assert aborted.finish_reason == "abort"
    assert s.take_kv_ops() == [KvOp(0, 0)]
    assert not s.has_unfinished
    assert s.abort("missing") is None


def test_abort_waiting_request() -> None:
    s = make(max_num_seqs=1)
    s.add(req("a", 4))
    s.add(req("b", 4))
    step(s)
    assert s.abort("b") is not None
    assert list(s.waiting) == []
    assert s.take_kv_ops() == []  # b never held a slot


def test_stop_on_eos_token() -> None:
    s = make()
    s.add(req("a", 4, eos=7))
    step(s, token=7)
    assert not s.has_unfinished
    assert s.take_kv_ops() == [KvOp(0, 0)]


def test_stop_on_stop_token_ids() -> None:
    s = make()
    r = req("a", 4)
    r.params = SamplingParams(max_tokens=8, stop_token_ids=(9,))
    s.add(r)
    step(s, token=3)
    step(s, token=9)
    assert r.status is RequestStatus.FINISHED_STOPPED
    assert r.stop_reason == 9
    assert r.finish_reason == "stop"


def test_stop_on_max_tokens_is_length() -> None:
    s = make()
    r = req("a", 4, max_tokens=3)
    s.add(r)
    for _ in range(3):
        step(s)
    assert r.status is RequestStatus.FINISHED_LENGTH
    assert r.finish_reason == "length"
    assert len(r.output_token_ids) == 3


def test_stop_at_context_window() -> None:
    s = make(max_model_len=6)
    r = req("a", 4, max_tokens=100)
    s.add(r)
    step(s)
    step(s)
    assert r.status is RequestStatus.FINISHED_LENGTH
    assert r.num_tokens == 6


def test_status_order_and_finish_table() -> None:
    assert not RequestStatus.PREEMPTED.finished
    assert all(s.finished for s in RequestStatus if s > RequestStatus.PREEMPTED)
    with pytest.raises(ValueError, match="not a finished status"):
        make().finish(req("a", 1), RequestStatus.RUNNING)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_model_len"):
        SchedulerConfig(4, 16, kv_cache_tokens=64, max_model_len=128, max_waiting=1)
