"""The guard: every detector a direction needs, then the policy, in one call.

``Guard.scan`` is the one code path for a whole text, used by the server on the
customer's message and by ``switchboard guard scan``; the stream moderator calls
``Guard.find`` on its windows and applies the same policy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.errors import RequestCancelledError
from switchboard.guard.leak import LeakDetector
from switchboard.guard.placeholders import Placeholders
from switchboard.guard.policy import Policy
from switchboard.guard.types import Action, Category, Detector, Direction, Finding

Detectors = Mapping[Direction, Mapping[Category, Sequence[Detector]]]
RECENT_TEXTS = 4096  # whole texts whose findings are remembered
RECENT_TEXT_CHARS = 2000  # longer ones are checked every time


@dataclass(frozen=True)
class Verdict:
    direction: Direction
    findings: tuple[Finding, ...]
    action: Action
    text: str  # what is passed on: redacted, or the safe message when blocked

    @property
    def changed(self) -> bool:
        return self.action in (Action.REDACT, Action.BLOCK)

    def personal(self, policy: Policy) -> bool:
        """Whether the text holds personal data the policy keeps from providers and caches:
        a PII finding redacted or blocked (a kept type, e.g. a town, is not)."""
        return any(
            f.category is Category.PII
            and policy.action_of(self.direction, f) in (Action.REDACT, Action.BLOCK)
            for f in self.findings
        )

    def events(self, policy: Policy) -> list[str]:
        """One line per finding for the request log: ``direction:category:type:action``."""
        act = policy.action_of
        return [
            f"{self.direction}:{f.category}:{f.type}:{act(self.direction, f)}"
            for f in self.findings
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "action": self.action.value,
            "text": self.text,
        }


class Guard:
    def __init__(
        self,
        policy: Policy,
        detectors: Detectors,
        blocked_messages: Mapping[Direction, str],
        *,
        holdback_chars: int = 64,
    ) -> None:
        self.policy = policy
        self._detectors = detectors
        self._blocked = blocked_messages
        self.holdback_chars = holdback_chars
        self._recent: dict[tuple[Direction, str], list[Finding]] = {}  # oldest first
        self._lock = threading.Lock()

    def with_system_prompts(self, prompts: Sequence[str]) -> Guard:
        """This guard, checking the output for leakage of ``prompts`` (a request's own
        system messages, in the gateway) instead of the ones it was built with."""
        detectors = {
            direction: dict(by_category) for direction, by_category in self._detectors.items()
        }
        detectors[Direction.OUTPUT][Category.INJECTION] = [LeakDetector(prompts)] if prompts else []
        return Guard(self.policy, detectors, self._blocked, holdback_chars=self.holdback_chars)

    def detectors(self, direction: Direction) -> Mapping[Category, Sequence[Detector]]:
        """The detectors of the categories the policy checks in ``direction``."""
        checks = self.policy.checks(direction)
        return {c: d for c, d in self._detectors[direction].items() if c in checks}

    def blocked_message(self, direction: Direction) -> str:
        return self._blocked[direction]

    def find(
        self,
        text: str,
        direction: Direction,
        *,
        categories: Collection[Category] | None = None,
        allowed: Callable[[str], bool] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> list[Finding]:
        """What the detectors of the checked categories find, sorted by start. PII the
        ``allowed`` predicate accepts (the customer's own data) is not a finding. Raises
        ``RequestCancelledError`` before a detector runs once ``stop()`` is true."""
        checks = self.policy.checks(direction)
        if categories is not None:
            checks = checks & frozenset(categories)
        findings: list[Finding] = []
        for category, detectors in self._detectors[direction].items():
            if category in checks:
                for detector in detectors:
                    if stop is not None and stop():
                        raise RequestCancelledError("the guard stopped: the request was cancelled")
                    findings += detector.scan(text)
        if allowed is not None:
            findings = [
                f
                for f in findings
                if not (f.category is Category.PII and allowed(text[f.start : f.end]))
            ]
        return sorted(findings, key=lambda f: (f.start, -f.end))

    def scan(
        self,
        text: str,
        direction: Direction,
        *,
        placeholders: Placeholders | None = None,
        allowed: Callable[[str], bool] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Verdict:
        """The verdict on a whole text. Findings of texts seen recently are remembered (the
        detectors are deterministic), so a popular question is checked once; texts with PII
        are not remembered, to keep personal data out of memory."""
        key = (direction, text)
        remember = allowed is None and len(text) <= RECENT_TEXT_CHARS
        findings = self._recent.get(key) if remember else None
        if findings is None:
            findings = self.find(text, direction, allowed=allowed, stop=stop)
            if remember and not any(f.category is Category.PII for f in findings):
                self._remember(key, findings)
        return self.apply(text, direction, findings, placeholders)

    def _remember(self, key: tuple[Direction, str], findings: list[Finding]) -> None:
        with self._lock:
            self._recent[key] = findings
            while len(self._recent) > RECENT_TEXTS:
                self._recent.pop(next(iter(self._recent)))

    def apply(
        self,
        text: str,
        direction: Direction,
        findings: Sequence[Finding],
        placeholders: Placeholders | None = None,
    ) -> Verdict:
        """The policy's verdict on ``findings`` of ``text``: the safe message when blocked,
        the redactable findings replaced by placeholders when redacted."""
        action = self.policy.decide(direction, findings)
        if action is Action.BLOCK:
            out = self._blocked[direction]
        elif action is Action.REDACT:
            spans = disjoint(f for f in findings if self.policy.action_of(direction, f) is action)
            if direction is Direction.OUTPUT:  # someone else's data: nothing to give back
                out = mask_spans(text, spans)
            else:
                out = (placeholders if placeholders is not None else Placeholders()).redact(
                    text, spans
                )
        else:
            out = text
        return Verdict(direction, tuple(findings), action, out)


def mask_spans(text: str, spans: Sequence[Finding]) -> str:
    """``text`` with each (disjoint, sorted) span replaced by ``<TYPE>``: a mask that no
    conversation's placeholders can turn back into a value."""
    out, cursor = [], 0
    for span in spans:
        out += [text[cursor : span.start], f"<{span.type}>"]
        cursor = span.end
    return "".join([*out, text[cursor:]])


def disjoint(findings: Iterable[Finding]) -> list[Finding]:
    """Non-overlapping findings, the earliest (then longest) of overlapping ones kept."""
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept
