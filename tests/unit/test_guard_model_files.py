"""The guardrails' model files are checked against their pinned sha256 before loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from switchboard.errors import ModelFileError
from switchboard.guard.model_files import verified

pytestmark = pytest.mark.unit


def test_a_file_with_the_pinned_hash_passes_and_a_changed_one_does_not(tmp_path: Path) -> None:
    model = tmp_path / "model.joblib"
    model.write_bytes(b"weights")
    pinned = hashlib.sha256(b"weights").hexdigest()
    assert verified(model, pinned) == model
    model.write_bytes(b"weights, tampered")
    with pytest.raises(ModelFileError, match="reinstall the pinned package"):
        verified(model, pinned)
    with pytest.raises(ModelFileError, match="unreadable"):
        verified(tmp_path / "missing.joblib", pinned)
