"""Build the guard from the settings. The detectors' models (spaCy, the injection
classifier, the toxicity classifier) load once per process and are shared: they are
read-only after loading, and loading spaCy takes a second or two."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from switchboard.config import GuardSettings, InjectionSettings, PiiSettings, ToxicitySettings
from switchboard.guard.leak import LeakDetector
from switchboard.guard.policy import Policy
from switchboard.guard.scanner import Guard
from switchboard.guard.types import Category, Detector, Direction


def open_guard(
    settings: GuardSettings,
    system_prompts: Sequence[str] = (),
    allowed: Sequence[re.Pattern[str]] = (),
) -> Guard | None:
    """The guard of these settings, or None when guardrails are off. ``system_prompts``
    are the prompts whose leakage the output check looks for; ``allowed``, what is never
    PII (the shop's order numbers: ``OrderIdFormat.pattern``)."""
    if not settings.enabled:
        return None
    policy = Policy.from_settings(settings)
    wanted = policy.checks(Direction.INPUT) | policy.checks(Direction.OUTPUT)
    pii = [pii_detector(settings.pii, allowed)] if Category.PII in wanted else []
    toxicity = [toxicity_detector(settings.toxicity)] if Category.TOXICITY in wanted else []
    injection: list[Detector] = []
    if Category.INJECTION in policy.checks(Direction.INPUT):
        injection = [injection_detector(settings.injection)]
    leak: list[Detector] = [LeakDetector(system_prompts)] if system_prompts else []
    detectors = {
        Direction.INPUT: {
            Category.PII: pii,
            Category.INJECTION: injection,
            Category.TOXICITY: toxicity,
        },
        Direction.OUTPUT: {
            Category.PII: pii,
            Category.INJECTION: leak,
            Category.TOXICITY: toxicity,
        },
    }
    guard = Guard(
        policy,
        detectors,
        {
            Direction.INPUT: settings.blocked_input_message,
            Direction.OUTPUT: settings.blocked_output_message,
        },
        holdback_chars=settings.holdback_chars,
    )
    for direction in Direction:  # models load now, not on the first customer's message
        guard.find(WARM_UP, direction)
    return guard


WARM_UP = "Hello, I'm Ann Lee from Boston: is my parcel on its way?"
"""A message with a name and a place, so that every model runs once; no shop's facts."""


def pii_detector(settings: PiiSettings, allowed: Sequence[re.Pattern[str]] = ()) -> Detector:
    return _pii(settings.model_dump_json(), tuple(allowed))


def injection_detector(settings: InjectionSettings) -> Detector:
    return _injection(settings.model_dump_json())


def toxicity_detector(settings: ToxicitySettings) -> Detector:
    return _toxicity(settings.model_dump_json())


# Cached by the settings' JSON (pydantic models are not hashable).


@functools.cache
def _pii(settings: str, allowed: tuple[re.Pattern[str], ...]) -> Detector:
    from switchboard.guard.pii import PiiDetector

    return PiiDetector(PiiSettings.model_validate_json(settings), allowed)


@functools.cache
def _injection(settings: str) -> Detector:
    from switchboard.guard.injection import InjectionDetector

    return InjectionDetector(InjectionSettings.model_validate_json(settings))


@functools.cache
def _toxicity(settings: str) -> Detector:
    from switchboard.guard.toxicity import ToxicityDetector

    return ToxicityDetector(ToxicitySettings.model_validate_json(settings))
