"""Query focusing: the part of a long customer message that asks something.

Customers write "Hi, I bought boots from you in March for a trip to Scotland with my
brother, they were great. Do you also ship to Norway?" - the question is one sentence,
and the rest pulls search and routing towards the order and the trip. A message longer
than ``min_words`` is split into sentences and, by ``FocusStrategy``:

- ``none``: kept whole;
- ``questions``: the sentences that ask or request something (a question mark, or an
  interrogative or request word at their start: "how", "can", "please", "I'd like"...), in
  their order; one that points back ("Can I swap it?") or is too short to name its
  subject ("Can you help me?") keeps the sentence before it;
- ``last_question``: the last of those (with its subject, likewise).

A message where no sentence asks is kept whole, and so is a short one. Order numbers are
read from the whole message elsewhere (``with_order_ids``), so a focused route still
looks up the order a customer named in passing.

Measured with ``switchboard eval --no-generate`` (hit@5, intent accuracy): on the golden
set ``questions`` and ``last_question`` each lose one retrieval hit (96.7% -> 95.0%) at equal
intent accuracy; on 72 customer-style dev questions (11 of them over 40 words) they lose
two and four (93.3% -> 90.0% / 86.7%) and 1-2 intents. The "irrelevant" sentences often
name the subject ("the outside just goes dark and soggy ... Is it broken?"), and the
embedding of a whole chatty message already finds its article, so ``none`` is the default.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable

from switchboard.assistant.types import Route
from switchboard.order_ids import OrderIdFormat

SUBJECT_WORDS = 6
"""An asking sentence shorter than this keeps the sentence before it, which names what it
is about."""
_POINTS_BACK = re.compile(r"\b(it|its|that|this|they|them|those|these|one)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")
_FILLER = r"(?:(?:so|and|but|also|ok|okay|oh|well|anyway|hi|hello|hey|um|btw|then),?\s+)*"
_ASKING = re.compile(
    rf"^{_FILLER}(?:how|what|what's|whats|when|where|which|who|why|can|could|would|will|"
    r"do|does|did|is|are|am|was|were|should|shall|may|might|have|has|please|pls|"
    r"i'd like|i would like|i want|i need|i'm looking|im looking|tell me|let me know|"
    r"help me|any idea|is there|are there)\b|\bwonder(?:ing)?\b|\blet me know\b|\bplease\b",
    re.IGNORECASE,
)


class FocusStrategy(enum.StrEnum):
    NONE = "none"
    QUESTIONS = "questions"
    LAST_QUESTION = "last_question"


def sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!`` or ``?`` and at line breaks, blanks dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def is_asking(sentence: str) -> bool:
    """Whether ``sentence`` asks or requests something."""
    return "?" in sentence or _ASKING.search(sentence.strip(" -*\"'(")) is not None


def _with_subject(parts: list[str], index: int) -> list[str]:
    """The asking sentence at ``index``, after the sentence before it when it points back
    to it or is too short to name its subject ("Can I swap it?", "Can you help me?")."""
    sentence = parts[index]
    if index > 0 and (len(sentence.split()) < SUBJECT_WORDS or _POINTS_BACK.search(sentence)):
        return parts[index - 1 : index + 1]
    return parts[index : index + 1]


def _questions(parts: list[str]) -> list[str]:
    kept = [s for i, p in enumerate(parts) if is_asking(p) for s in _with_subject(parts, i)]
    return list(dict.fromkeys(kept))


def _last_question(parts: list[str]) -> list[str]:
    asking = [i for i, p in enumerate(parts) if is_asking(p)]
    return _with_subject(parts, asking[-1]) if asking else []


_STRATEGIES: dict[FocusStrategy, Callable[[list[str]], list[str]]] = {
    FocusStrategy.NONE: lambda parts: parts,
    FocusStrategy.QUESTIONS: _questions,
    FocusStrategy.LAST_QUESTION: _last_question,
}


class QueryFocus:
    """Cuts a long message down to what it asks (see the module docstring)."""

    def __init__(self, strategy: FocusStrategy | str, *, min_words: int = 20) -> None:
        if min_words < 0:
            raise ValueError(f"min_words must be >= 0, got {min_words}")
        self.strategy = FocusStrategy(strategy)
        self.min_words = min_words

    def __call__(self, message: str) -> str:
        if self.strategy is FocusStrategy.NONE or len(message.split()) <= self.min_words:
            return message
        parts = sentences(message)
        kept = _STRATEGIES[self.strategy](parts) if len(parts) > 1 else []
        return " ".join(kept) if kept else message


def with_order_ids(route: Route, message: str, order_ids: OrderIdFormat) -> Route:
    """``route`` (of a focused message) with the order numbers of the whole ``message``."""
    return dataclasses.replace(route, order_ids=order_ids.find(message))
