"""The grounding check: an answer's checkable claims against the evidence it was given,
sentence by sentence as it streams.

The evidence is the passages put into the prompt (numbered as the model cites them) and
the tool results (the customer's order data). A claim is supported when the evidence
states the same fact in any of its forms (``claims``); a citation marker is supported when
it names a passage. A sentence with an unsupported claim is not shown; nor is one that
only repeats a source's header (``[1] Title (url)``), the prompt's scaffolding.

``GroundedStream`` holds the text back until its sentence is complete and checked, and
never more than ``holdback_chars``: past the bound the sentence so far is checked and
released (or, with an unsupported claim, dropped with the rest of its sentence), keeping
back only the word being written and a number just before it. At the end it says which
path the answer took:

- ``generated``: every sentence stood;
- ``generated+repaired``: sentences with unsupported claims were dropped, and what is left
  still states a supported fact or cites a source;
- ``quoted``: nothing that stands was left (or the answer ended on a lead-in, "The answer
  is:"), so the evidence sentence that best answers the question is added as a quote:
  ``From *Returns window*: "You can return most items within 30 days." [1]``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from switchboard.assistant.claims import (
    Claim,
    ClaimKind,
    OptionWords,
    code_form,
    find_claims,
    numerals,
)
from switchboard.assistant.types import AnswerPath
from switchboard.guard.gazetteers import fold


@dataclass(frozen=True)
class Passage:
    """A piece of evidence the model read as source ``[number]``."""

    number: int
    title: str
    text: str
    heading: str = ""  # the section it comes from, if known
    url: str = ""


class EvidenceIndex:
    """What an answer's claims may rest on: passages and tool results (``facts``)."""

    def __init__(
        self,
        passages: Sequence[Passage],
        facts: Sequence[str] = (),
        options: OptionWords | None = None,
    ) -> None:
        self.passages = list(passages)
        self.options = options
        parts = [part for p in passages for part in (p.title, p.heading, p.url, p.text)]
        whole = "\n".join([*parts, *facts])
        claims = find_claims(whole, options)
        self._keys = {(c.kind, c.key) for c in claims}
        self._bare = {c.key[0] for c in claims if c.kind is ClaimKind.NUMBER}
        self._numbers = numerals(whole)
        self._codes = code_form(whole)
        self._titles = {_bare_words(t) for p in passages for t in (p.title, p.heading) if t}

    def unsupported(self, sentence: str) -> list[Claim]:
        """The claims of ``sentence`` the evidence does not state."""
        return [c for c in find_claims(sentence, self.options) if not self.supports(c)]

    def supports(self, claim: Claim) -> bool:
        if claim.kind is ClaimKind.SOURCE:
            return any(p.number == claim.key[0] for p in self.passages)
        if claim.kind is ClaimKind.CODE:
            return code_form(claim.text) in self._codes
        if claim.kind is ClaimKind.NUMBER:
            return claim.key[0] in self._numbers
        if (claim.kind, claim.key) in self._keys:
            return True
        if claim.kind is ClaimKind.AMOUNT:  # the evidence wrote the number alone (data)
            return claim.key[1] in self._bare
        if claim.kind is ClaimKind.DURATION:  # "5 days" for "5 business days", and back
            return (claim.kind, _other_days(claim.key)) in self._keys
        return False

    def is_scaffolding(self, sentence: str) -> bool:
        """Whether ``sentence`` only repeats a source's header: its title (or heading),
        marker and URL, or the URL in parentheses alone."""
        words = _bare_words(_HEADER_PARTS.sub(" ", sentence))
        return (words in self._titles and bool(words)) or bool(_URL_ALONE.fullmatch(sentence))

    def quote(self, question: str) -> str | None:
        """The evidence sentence that best answers ``question``, as a quote with its
        source: ``From *Heading*: "Sentence." [n]``; None without passages."""
        candidates = [(p, s) for p in self.passages for s in _sentences(p.text)]
        if not candidates:
            return None
        asked = set(_stems(question))
        df = Counter(stem for _, s in candidates for stem in set(_stems(s)))

        def score(candidate: tuple[Passage, str]) -> float:
            passage, sentence = candidate
            shared = asked & set(_stems(sentence))
            about = asked & set(_stems(f"{passage.title} {passage.heading}"))
            states = any(c.kind is not ClaimKind.SOURCE for c in find_claims(sentence))
            return (
                sum(math.log(1 + len(candidates) / df[s]) for s in shared)
                + 0.3 * len(about)
                + 0.5 * states
                - 0.05 * (passage.number - 1)
            )

        passage, sentence = max(candidates, key=score)
        return f'From *{passage.heading or passage.title}*: "{sentence}" [{passage.number}]'


class GroundedStream:
    """Push the answer's pieces with ``feed``, send what it returns, then ``end``; ``path``
    and ``dropped`` tell what the check did."""

    def __init__(self, evidence: EvidenceIndex, question: str, holdback_chars: int) -> None:
        if holdback_chars < 8:
            raise ValueError(f"holdback_chars must be at least 8, got {holdback_chars}")
        self.evidence = evidence
        self.question = question
        self.holdback_chars = holdback_chars
        self.dropped: list[str] = []  # the sentences (or their starts) not shown
        self.path = AnswerPath.GENERATED
        self._pending = ""
        self._kept: list[str] = []
        self._states_fact = False  # a kept sentence states a supported fact or cites one
        self._dropping = False  # the sentence partly out had an unsupported claim: skip it

    @property
    def pending(self) -> str:
        """The text held back right now."""
        return self._pending

    def feed(self, piece: str) -> str:
        self._pending += piece
        out = []
        while (end := sentence_end(self._pending)) is not None:
            out.append(self._settle(self._pending[:end], complete=True))
            self._pending = self._pending[end:]
        if len(self._pending) > self.holdback_chars:
            cut = hold_point(self._pending, self.holdback_chars)
            out.append(self._settle(self._pending[:cut], complete=False))
            self._pending = self._pending[cut:]
        return "".join(out)

    def flush(self) -> str:
        """The held text, checked (the model stopped or failed): no fallback."""
        text, self._pending = self._pending, ""
        return self._settle(text, complete=True) if text.strip() else ""

    def end(self) -> str:
        """The held text, checked, and the quote if the answer fell back to it."""
        out = self.flush()
        kept = "".join(self._kept).strip()
        if self.dropped:
            self.path = AnswerPath.REPAIRED
        if (self.dropped and not self._states_fact) or kept.endswith(":"):
            quote = self.evidence.quote(self.question)
            if quote is not None:
                self.path = AnswerPath.QUOTED
                out += (" " if kept else "") + quote
        return out

    def _settle(self, text: str, *, complete: bool) -> str:
        """``text`` as shown: all of it, or nothing when it makes an unsupported claim."""
        dropping, self._dropping = self._dropping, self._dropping and not complete
        if dropping:
            return ""
        claims = find_claims(text, self.evidence.options)
        bad = any(not self.evidence.supports(c) for c in claims)
        if bad or (complete and self.evidence.is_scaffolding(text)):
            self.dropped.append(text.strip())
            self._dropping = not complete
            return ""
        self._states_fact = self._states_fact or bool(claims)
        if not self._kept:
            text = text.lstrip()
        self._kept.append(text)
        return text


_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\][.!?]?)*"
    r"(?=\s+[^\s\[])|\n"
)
_LIST_ITEM = re.compile(r"\d{1,2}[.)]")
_WORD = re.compile(r"\S+")
_NUMBER_WORD = re.compile(r"[\d€$£%]")


def sentence_end(text: str) -> int | None:
    """Where the first complete sentence of ``text`` ends: after its final punctuation and
    the citation markers that follow it, once the next sentence has begun; or at a line
    break. None while it is still being written."""
    lead = len(text) - len(text.lstrip())
    for match in _END.finditer(text, lead):
        if match.group() != "\n":
            if not _LIST_ITEM.fullmatch(text, lead, match.start() + 1):  # "2." starts one
                return match.end()
        elif match.start() > lead:
            return match.start()
    return None


def hold_point(pending: str, holdback: int) -> int:
    """How much of an over-long sentence to check and release now: all but the word being
    written (and the one or two before it, when they hold a number: "30" waits for
    "days"), and never less than leaves ``holdback // 2`` characters held."""
    words = list(_WORD.finditer(pending))
    cut = words[-1].start() if words else len(pending)
    for word in words[-3:-1]:
        if _NUMBER_WORD.search(word.group()):
            cut = min(cut, word.start())
            break
    floor = len(pending) - holdback // 2
    if len(pending) - cut > holdback or cut == 0:
        cut = next((w.start() for w in words if w.start() >= floor), floor)
    return cut


# -- quotes ---------------------------------------------------------------------------------

_HEADER_PARTS = re.compile(r"\[\d{1,3}\]|\(\s*(?:https?://|www\.)\S*\s*\)|https?://\S+")
_URL_ALONE = re.compile(r"\s*\(\s*(?:https?://|www\.)\S*\s*\)[.,;:]?\s*")
_BULLET = re.compile(r"^\s*(?:[-*+>]|\d{1,2}[.)])\s+")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")
_MARKER = re.compile(r"\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")
_STEM_WORD = re.compile(r"[^\W\d_]{3,}")
# Words a question shares with every policy sentence: they choose nothing.
_STOP = frozenset((
    "the", "and", "for", "you", "your", "can", "how", "what", "when", "where", "which", "who",
    "why", "does", "did", "are", "was", "were", "have", "has", "had", "with", "from", "that",
    "this", "they", "them", "their", "there", "will", "would", "could", "should", "about",
    "into", "out", "our", "not", "any", "all", "get", "got", "its", "also", "just", "than",
    "then", "been", "being", "may", "might", "much", "many", "some", "very", "more", "most",
    "such", "only",
))  # fmt: skip
MAX_QUOTE_CHARS = 300


def _sentences(text: str) -> Iterator[str]:
    """The sentences of a passage a quote can be: not headings, table rows, questions or
    lead-ins to a list, and of five words at least."""
    for line in text.splitlines():
        if line.lstrip().startswith(("#", "|")):
            continue
        for sentence in _SPLIT.split(_BULLET.sub("", line).strip()):
            sentence = _MARKER.sub("", sentence).strip()
            if (
                len(sentence.split()) >= 5
                and len(sentence) <= MAX_QUOTE_CHARS
                and not sentence.endswith((":", "?"))
            ):
                yield sentence


def _stems(text: str) -> list[str]:
    return [_stem(w) for w in _STEM_WORD.findall(text.lower()) if w not in _STOP]


def _stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def _bare_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(text)))


def _other_days(key: tuple[object, ...]) -> tuple[object, ...]:
    value, unit = cast(float, key[0]), key[1]
    return (value * 1440, "minute") if unit == "business_day" else (value / 1440, "business_day")
