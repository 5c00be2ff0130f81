"""What a guardrail finds and what the policy does about it.

A leaf module: detectors, the policy, the stream moderator and the CLI all depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Category(StrEnum):
    PII = "pii"
    INJECTION = "injection"  # prompt injection, jailbreaks, and system-prompt leakage on output
    TOXICITY = "toxicity"


class Direction(StrEnum):
    INPUT = "input"  # the customer's message, before the model sees it
    OUTPUT = "output"  # the model's answer, before the customer sees it


class Action(StrEnum):
    """What the policy does with a finding; a text's action is its findings' strongest."""

    ALLOW = "allow"
    FLAG = "flag"  # passed on unchanged, recorded
    REDACT = "redact"  # the finding's span replaced by a placeholder
    BLOCK = "block"  # the text is not passed on; the caller gets a safe message

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Action.ALLOW: 0, Action.FLAG: 1, Action.REDACT: 2, Action.BLOCK: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """A span of the scanned text. ``type`` is Presidio's entity name for PII
    (``CREDIT_CARD``, ``PERSON``...), ``PROMPT_INJECTION``/``SYSTEM_PROMPT_LEAK`` for
    injection, ``PROFANITY`` for toxicity. ``score`` is in [0, 1]."""

    category: Category
    type: str
    start: int
    end: int
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }


class Detector(Protocol):
    """One category's detector. ``scan`` is synchronous and thread-safe, and returns the
    findings at or above the detector's own threshold, sorted by start."""

    category: Category

    def scan(self, text: str) -> list[Finding]: ...
