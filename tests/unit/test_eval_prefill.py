from pathlib import Path

import pytest

from switchboard.config import Settings
from switchboard.engine import EngineStats
from switchboard.errors import ModelFileError
from switchboard.evaluation.runner import draft_path, prefill_per_call

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


def test_the_draft_model_is_resolved_only_when_the_engine_drafts_with_one(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path)
    assert draft_path(base) is None
    ngram = Settings(data_dir=tmp_path, engine={"speculative": "ngram"})
    assert draft_path(ngram) is None
    drafting = Settings(
        data_dir=tmp_path, engine={"speculative": "draft", "draft_model": "qwen2.5-0.5b"}
    )
    with pytest.raises(ModelFileError, match="is not pulled"):
        draft_path(drafting)
