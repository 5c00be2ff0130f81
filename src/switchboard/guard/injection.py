"""Prompt-injection and jailbreak detection on one text.

A text is scored through several views and the highest score wins:

- the whole text;
- each of its lines and sentences, when it has several: an instruction buried in a long
  pasted document or tool result would otherwise be diluted by the harmless text around it,
  and the offending sentence becomes the finding's span. A sentence is scored with its
  message as context (``in_context``): alone, a customer's description ("water doesn't
  bead off anymore, the outside just goes dark and soggy") reads like an instruction to a
  classifier that has seen few such sentences, but its message as a whole does not;
- every decoded view ``bastioncorpus.decode.variants`` finds (base64, hex, binary, Morse,
  escapes, rot13, leetspeak, reversed or spaced-out text), and every view with a disguise
  undone (``deobfuscate``: letters joined by dots or hyphens, words spelled backwards,
  look-alike letters): an encoded instruction is read the way the model would read it.
  A decoded view's span is the whole text.

Decoding is linear in the input; above ``MAX_DECODE_CHARS`` a text is not decoded but
flagged (fail closed), as the decoder's contract asks, rather than scanned in part.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bastioncorpus.decode import variants

from switchboard.config import InjectionSettings
from switchboard.guard.deobfuscate import undisguised
from switchboard.guard.injection_model import InjectionModel, default_model
from switchboard.guard.types import Category, Finding

FINDING_TYPE = "PROMPT_INJECTION"
MAX_DECODE_CHARS = 200_000
MIN_SEGMENT_CHARS = 12  # shorter pieces ("Hi!", "LK-123456") carry no instruction
SEGMENTED_CHARS = 160  # shorter texts are scored whole: a sentence alone loses its context
_SEGMENT = re.compile(r"\S(?:[^\n]*?)(?:[.!?。]+(?=\s)|$)", re.MULTILINE)
CONTEXT_WEIGHT = 0.3
"""The whole message's share of a sentence's score (in log-odds). Chosen on the guard dev
split (``switchboard bench guard``): 0.2-0.3 keep every attack caught (an instruction buried
in a document scores high on its own, and its message is rarely harmless throughout) and
clear benign descriptive sentences; 0.4 and above lose attacks."""


@dataclass(frozen=True, slots=True)
class View:
    """A text the classifier scores, and the span of the original it stands for."""

    text: str
    start: int
    end: int


def segments(text: str) -> list[View]:
    """Lines and sentences of a long ``text`` with their offsets; none when it is short or
    has only one."""
    if len(text) < SEGMENTED_CHARS:
        return []
    pieces = []
    for match in _SEGMENT.finditer(text):
        piece = match.group(0)
        stripped = piece.strip()
        if len(stripped) >= MIN_SEGMENT_CHARS:
            start = match.start() + piece.index(stripped)
            pieces.append(View(stripped, start, start + len(stripped)))
    return pieces if len(pieces) > 1 else []


def decoded_views(text: str) -> list[View]:
    """``text`` decoded and undisguised, each view standing for the whole text."""
    decoded = [d.text for d in variants(text, transforms=True)] + undisguised(text)
    return [View(view, 0, len(text)) for view in dict.fromkeys(decoded)]


def views(text: str) -> list[View]:
    """Every view of ``text`` to score: whole, segments, decoded."""
    return [View(text, 0, len(text)), *segments(text), *decoded_views(text)]


def in_context(sentence: float, whole: float, weight: float = CONTEXT_WEIGHT) -> float:
    """A sentence's score with its message's as context: their log-odds, blended."""

    def logit(p: float) -> float:
        p = min(max(p, 1e-9), 1 - 1e-9)
        return math.log(p / (1 - p))

    z = (1 - weight) * logit(sentence) + weight * logit(whole)
    return 1.0 / (1.0 + math.exp(-z))


class InjectionDetector:
    """Flags a text whose most suspicious view scores at least ``settings.threshold``."""

    category = Category.INJECTION

    def __init__(self, settings: InjectionSettings, model: InjectionModel | None = None) -> None:
        self._threshold = settings.threshold
        self._model = model or default_model()

    def score(self, text: str) -> tuple[float, View]:
        """The highest view score of ``text`` and the view it came from."""
        if not text.strip():
            return 0.0, View(text, 0, len(text))
        if len(text) > MAX_DECODE_CHARS:
            return 1.0, View(text, 0, len(text))
        parts = segments(text)
        candidates = [View(text, 0, len(text)), *parts, *decoded_views(text)]
        scores = self._model.scores([view.text for view in candidates])
        for i in range(1, 1 + len(parts)):
            scores[i] = in_context(scores[i], scores[0])
        best = max(range(len(candidates)), key=scores.__getitem__)
        return scores[best], candidates[best]

    def scan(self, text: str) -> list[Finding]:
        score, view = self.score(text)
        if score < self._threshold:
            return []
        return [Finding(self.category, FINDING_TYPE, view.start, view.end, score)]
