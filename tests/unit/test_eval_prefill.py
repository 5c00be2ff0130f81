import pytest

from switchboard.engine import EngineStats
from switchboard.evaluation.runner import prefill_per_call

pytestmark = pytest.mark.unit


def stats(calls: int, computed: int, reused: int) -> EngineStats:
    return EngineStats(
        running=0, waiting=0, kv_cells_used=0, kv_cells_total=1024,
        prefix_cache_lookups=calls, prefill_tokens_computed=computed,
        prefill_tokens_reused=reused,
    )  # fmt: skip


def test_prefill_per_model_call_is_the_difference_of_two_engine_readings() -> None:
    before, after = stats(10, 4000, 1000), stats(14, 4500, 2200)
    assert prefill_per_call(before, after) == {
        "model_calls": 4,
        "prefill_tokens_per_call": 125.0,
        "reused_tokens_per_call": 300.0,
    }
    assert prefill_per_call(after, after)["prefill_tokens_per_call"] == 0.0
