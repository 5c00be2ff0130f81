import pytest

from switchboard_bench.stats import RequestTrace, RunStats, latency_percentiles
from switchboard_bench.workload import make_workload

pytestmark = pytest.mark.unit


def test_run_stats_from_client_traces() -> None:
    a = RequestTrace(submitted=0.0, token_times=[0.5, 0.6, 0.7])
    b = RequestTrace(submitted=0.0, token_times=[1.5, 1.7, 1.9])
    stats = RunStats.from_traces(concurrency=2, traces=[a, b], duration_s=2.0)
    assert stats.requests == 2
    assert stats.output_tokens == 6
    assert stats.output_tok_s == 3.0
    assert stats.ttft_p50_ms == pytest.approx(1000.0)
    assert stats.ttft_p99_ms == pytest.approx(1490.0)
    assert stats.ttit_p50_ms == pytest.approx(150.0)
    assert stats.decode_tok_s_per_stream == pytest.approx((10.0 + 5.0) / 2)


def test_workload_prompts_are_exact_length_and_distinct() -> None:
    def tokenize(text: str) -> list[int]:
        return [hash(word) % 1000 for word in text.split()]

    workload = make_workload(tokenize, n_requests=5, prompt_tokens=20, output_tokens=7)
    assert workload.prompt_tokens == 20
    assert all(len(p) == 20 for p in workload.prompts)
    assert len({p[:3] for p in workload.prompts}) == 5
    assert workload.output_tokens == 7


def test_latency_percentiles_in_milliseconds() -> None:
    p50, p99 = latency_percentiles([float(ms) for ms in range(1, 101)])
    assert p50 == pytest.approx(50.5)
    assert p99 == pytest.approx(99.01)
    assert latency_percentiles([7.0]) == (7.0, 7.0)
    assert latency_percentiles([]) == (0.0, 0.0)
