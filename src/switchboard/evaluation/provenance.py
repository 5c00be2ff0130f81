"""What an eval run was run on: the source commit and a hash of the settings that shape
its answers, so two runs can be told apart (or known to match) by their JSON alone."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from switchboard.assistant.definition import AssistantDefinition
from switchboard.config import Settings

# Settings sections that change what an assistant answers (not where files live, nor how
# the server, gateway or cache are run: an eval turn is never cached).
ANSWER_SECTIONS = ("engine", "knowledge", "guard")
PLACES = frozenset({"db_path", "definitions_dir"})  # where state lives: not hashed


def git_commit(where: Path | None = None) -> str | None:
    """The commit checked out where the package's sources are; None outside a git work tree
    (an installed package) or without git."""
    folder = where or Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def settings_hash(settings: Settings, definition: AssistantDefinition, model: str) -> str:
    """A stable hash (sha256, first 16 hex digits) of the model, the assistant's definition
    and effective ``[assistant]`` settings, and the answer-shaping settings sections."""
    shaping: dict[str, Any] = {
        section: getattr(settings, section).model_dump(mode="json") for section in ANSWER_SECTIONS
    }
    shaping["model"] = model
    shaping["assistant"] = definition.settings(settings.assistant).model_dump(mode="json")
    shaping["definition"] = definition.model_dump(mode="json")
    text = json.dumps(_portable(shaping), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _portable(value: Any) -> Any:
    """``value`` without state locations, and with absolute file paths reduced to their file
    names, so the same settings hash the same on another machine or checkout."""
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items() if k not in PLACES}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        return Path(value).name
    return value
