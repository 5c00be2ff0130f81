"""A guard over regex detectors (no models): cards, emails and "Alice Smith" are PII, three
countries are LOCATION (a type the default policy keeps), "idiot" is abuse, "ignore all"
an injection, and ``SYSTEM`` the prompt not to leak."""

from __future__ import annotations

import re

from switchboard.config import GuardSettings
from switchboard.guard.leak import LeakDetector
from switchboard.guard.policy import Policy
from switchboard.guard.scanner import Guard
from switchboard.guard.types import Category, Direction, Finding

SYSTEM = "You are the support assistant of a shop and you answer only from the sources below."


class RegexDetector:
    def __init__(self, category: Category, patterns: dict[str, str]) -> None:
        self.category = category
        self._patterns = {t: re.compile(p) for t, p in patterns.items()}
        self.calls = 0

    def scan(self, text: str) -> list[Finding]:
        self.calls += 1
        return sorted(
            (
                Finding(self.category, kind, m.start(), m.end(), 0.9)
                for kind, pattern in self._patterns.items()
                for m in pattern.finditer(text)
            ),
            key=lambda f: f.start,
        )


def make_guard(**overrides: object) -> tuple[Guard, RegexDetector]:
    settings = GuardSettings(**overrides)  # type: ignore[arg-type]
    pii = RegexDetector(
        Category.PII,
        {
            "CREDIT_CARD": r"\b\d{4}(?: \d{4}){3}\b",
            "EMAIL_ADDRESS": r"\b[\w.]+@[\w.]+\.\w+\b",
            "PERSON": r"\bAlice Smith\b",
            "LOCATION": r"\b(?i:germany|austria|canada)\b",
        },
    )
    toxic = RegexDetector(Category.TOXICITY, {"PROFANITY": r"\bidiot\b"})
    injection = RegexDetector(Category.INJECTION, {"PROMPT_INJECTION": r"(?i)ignore all"})
    guard = Guard(
        Policy.from_settings(settings),
        {
            Direction.INPUT: {
                Category.PII: [pii],
                Category.INJECTION: [injection],
                Category.TOXICITY: [toxic],
            },
            Direction.OUTPUT: {
                Category.PII: [pii],
                Category.INJECTION: [LeakDetector([SYSTEM])],
                Category.TOXICITY: [toxic],
            },
        },
        {Direction.INPUT: "blocked-in", Direction.OUTPUT: "blocked-out"},
        holdback_chars=settings.holdback_chars,
    )
    return guard, pii
