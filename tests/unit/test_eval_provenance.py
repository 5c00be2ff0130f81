"""What an eval run records of what it ran on (``evaluation.provenance``): the commit and a
settings hash that changes with an answer-shaping setting and with nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from switchboard.assistant.service import served_definitions
from switchboard.config import Settings
from switchboard.evaluation.provenance import git_commit, settings_hash

pytestmark = pytest.mark.unit


def test_the_commit_is_read_in_a_work_tree_and_none_outside_one(tmp_path: Path) -> None:
    commit = git_commit()
    assert commit is not None
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    assert git_commit(tmp_path) is None


def test_the_settings_hash_is_stable_and_follows_answer_shaping_settings(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    shop = served_definitions(settings)["shop"]
    first = settings_hash(settings, shop, "m")
    assert first == settings_hash(Settings(data_dir=tmp_path / "elsewhere"), shop, "m")
    top_k = settings.assistant.model_copy(update={"top_k": 1})
    assert settings_hash(settings.model_copy(update={"assistant": top_k}), shop, "m") != first
    assert settings_hash(settings, shop, "other-model") != first
