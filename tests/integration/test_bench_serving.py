"""The serving benchmark's two engines on a tiny workload: same tokens counted, sane stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config import EngineSettings
from switchboard.engine.local import LocalEngine
from switchboard_bench.serving import BaselineServer, run_baseline, run_engine
from switchboard_bench.workload import make_workload

pytestmark = pytest.mark.integration


def test_both_engines_serve_the_same_workload(default_model_path: Path) -> None:
    settings = EngineSettings(max_model_len=128, max_num_seqs=2, max_batch_tokens=64)
    ours = LocalEngine("bench", default_model_path, settings)
    ours.start()
    baseline = BaselineServer(
        default_model_path, settings.n_threads, n_ctx=128, banned=ours.model.eog_token_ids
    )
    try:
        workload = make_workload(ours.encode_prompt, 3, 24, 6)
        done: list[int] = []
        ours_run = run_engine(ours, workload, 2, done.append)
        base_run = run_baseline(baseline, workload, 2, done.append)
    finally:
        baseline.close()
        ours.close()
    assert len(done) == 6
    for run in (ours_run, base_run):
        stats = run.stats(2)
        assert stats.requests == 3
        assert stats.output_tokens == 3 * 6  # ignore-EOS: exactly max_tokens each
        assert 0 < stats.ttft_p50_ms <= stats.ttft_p99_ms
        assert stats.output_tok_s > 0
