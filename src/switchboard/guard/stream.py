"""Output moderation on the stream, with a bounded hold-back.

The answer is released word by word as it streams; only a trailing run of words that may
still grow into something sensitive is held back: the word being written, and before it
the words that could belong to a name, a number, an address or a placeholder (with a
capital, a digit, ``@`` or ``<``). Each release is checked first, together with the text
around it (up to ``CONTEXT_CHARS`` already released, and everything held):

- every release is checked for toxicity and system-prompt leakage (cheap);
- PII is checked (spaCy NER and Presidio's patterns, ~10 ms) only when the release or the
  held text has a word that could be PII, so plain prose costs no NER call.

A run longer than ``holdback_chars`` is released anyway (after the check), so the delay
is bounded; an entity longer than the hold-back can be seen only once it is partly out,
which is the price of the bound. A violation the policy blocks replaces the rest of the
answer with the safe message and stops the model; a redaction replaces the span; a flag
passes it. Placeholders the input guard put in the prompt (``<PERSON_1>``) are turned
back into the customer's own values on the way out.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from switchboard.guard.placeholders import Placeholders
from switchboard.guard.scanner import Guard, Verdict
from switchboard.guard.types import Action, Category, Direction, Finding

CONTEXT_CHARS = 200
# Capitalised words that start sentences of support answers and are never PII.
# fmt: off
_COMMON = frozenset((
    "A", "An", "And", "As", "At", "But", "By", "Do", "Does", "For", "From", "Have", "Hello",
    "Hi", "How", "I", "I'm", "I'd", "I'll", "If", "In", "Is", "It", "It's", "Most", "My", "No",
    "Of", "On", "Once", "Only", "Or", "Our", "Please", "So", "Sorry", "Some", "Thank",
    "Thanks", "That", "The", "Then", "There", "These", "They", "This", "To", "Unfortunately",
    "We", "We'll", "We're", "What", "When", "Where", "Which", "While", "Yes", "You", "You'll",
    "You're", "Your",
))
# fmt: on
_RISKY = re.compile(r"[0-9@<>]|^\W*[A-Z]|[a-z][A-Z]")
_WORD = re.compile(r"\S+")
# A citation marker ("[2]." ) or a list item's number ("1." "2)") is never PII.
_NOT_PII = re.compile(r"\[\d{1,3}(?:,\s*\d{1,3})*\][.,;:!?]*|\d{1,2}[.)]")


class StreamModerator:
    """Push pieces of the answer with ``feed`` and send what it returns; ``end`` when the
    answer is complete. Once ``blocked``, the answer is over: what ``feed`` returned last
    ends with the safe message, and the model should be stopped."""

    def __init__(
        self,
        guard: Guard,
        *,
        placeholders: Placeholders | None = None,
        allowed: Callable[[str], bool] | None = None,
        on_verdict: Callable[[Verdict], None] | None = None,
    ) -> None:
        self._guard = guard
        self._placeholders = placeholders
        self._allowed = allowed
        self._on_verdict = on_verdict
        self._released = ""  # raw text let through so far (its tail: context for checks)
        self._pending = ""
        self.blocked = False
        self.changed = False  # something was redacted or blocked
        self.first_in: float | None = None  # when the model's first piece came (perf_counter)
        self.first_out: float | None = None  # when the first text went out

    @property
    def added_ttft_s(self) -> float | None:
        """How much later the first text went out than the model's first piece came in
        (``moderate`` only): the hold-back and the checks, as the customer feels them."""
        if self.first_in is None or self.first_out is None:
            return None
        return self.first_out - self.first_in

    @property
    def pending(self) -> str:
        """The text held back right now."""
        return self._pending

    def feed(self, piece: str) -> str:
        if self.blocked:
            return ""
        self._pending += piece
        cut = release_point(self._pending, self._guard.holdback_chars)
        return self._release(cut) if cut else ""

    def end(self) -> str:
        return self._release(len(self._pending)) if self._pending and not self.blocked else ""

    async def afeed(self, piece: str) -> str:
        """``feed`` for the event loop: a release that needs the NER check (milliseconds,
        which every other stream would wait for) runs in a worker thread; the cheap ones
        (toxicity and leakage, a fraction of a millisecond) run inline."""
        if self.blocked:
            return ""
        self._pending += piece
        cut = release_point(self._pending, self._guard.holdback_chars)
        if not cut:
            return ""
        if _needs_pii_check(self._pending):
            return await asyncio.to_thread(self._release, cut)
        return self._release(cut)

    async def aend(self) -> str:
        """``end`` for the event loop (the last check may need NER: in a worker thread)."""
        return await asyncio.to_thread(self.end) if self._pending else ""

    async def moderate(self, pieces: AsyncIterator[str]) -> AsyncGenerator[str, None]:
        """The whole answer moderated; closes ``pieces`` (stopping the model) when blocked.
        Checks with NER run in a worker thread (``afeed``)."""
        try:
            async for piece in pieces:
                if self.first_in is None:
                    self.first_in = time.perf_counter()
                out = await self.afeed(piece)
                if out:
                    if self.first_out is None:
                        self.first_out = time.perf_counter()
                    yield out
                if self.blocked:
                    return
        except Exception:  # the model failed: what was held goes out (checked), then the error
            out = await self.aend()
            if out:
                yield out
            raise
        else:
            out = await self.aend()
            if out:
                yield out
        finally:
            aclose = getattr(pieces, "aclose", None)
            if aclose is not None:
                await aclose()

    def _release(self, cut: int) -> str:
        out, cut = self._check(self._released, self._pending, cut)
        self._released = (self._released + self._pending[:cut])[-CONTEXT_CHARS:]
        self._pending = self._pending[cut:]
        return out

    def _check(self, released: str, pending: str, cut: int) -> tuple[str, int]:
        """The text to send for ``pending[:cut]`` (``cut`` may move back to hold a finding
        that runs past it), after the policy's verdict on what was found in it."""
        window = released + pending
        lo = len(released)
        categories = {Category.TOXICITY, Category.INJECTION}
        if _needs_pii_check(pending):
            categories.add(Category.PII)
        findings = self._guard.find(
            window, Direction.OUTPUT, categories=categories, allowed=self._allowed
        )
        hi = lo + cut
        for f in findings:  # a finding running past the cut is held whole, if it can be
            if f.start < hi < f.end and f.start > lo:
                hi = f.start
        hits = [f for f in findings if f.end > lo and f.start < hi]
        if not hits:
            return self._restore(window[lo:hi]), hi - lo
        verdict = self._guard.apply(window[lo:hi], Direction.OUTPUT, _shift(hits, lo, hi))
        if self._on_verdict is not None:
            self._on_verdict(verdict)
        if verdict.action is Action.BLOCK:
            self.blocked = self.changed = True
            return ("\n\n" if released else "") + verdict.text, hi - lo
        self.changed = self.changed or verdict.action is Action.REDACT
        return self._restore(verdict.text), hi - lo

    def _restore(self, text: str) -> str:
        return self._placeholders.restore(text) if self._placeholders is not None else text


def release_point(pending: str, holdback: int) -> int:
    """How much of ``pending`` can go out now: up to the start of the trailing run of
    words that could still grow into PII (always including the unfinished last word),
    but never holding more than ``holdback`` characters (past it, half is released)."""
    words = list(_WORD.finditer(pending))
    cut = len(pending)
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        unfinished = word.end() == len(pending)
        if not (unfinished or _risky(word.group())):
            break
        cut = word.start()
    if len(pending) - cut > holdback:  # forced: down to half, so a long run of risky
        limit = len(pending) - holdback // 2  # words is checked every few words, not each
        cut = min((w.start() for w in words if w.start() >= limit), default=limit)
    return cut


def _needs_pii_check(pending: str) -> bool:
    return any(_risky(w) for w in _WORD.findall(pending))


def _risky(word: str) -> bool:
    """Could this word be (part of) PII? A citation marker or a list number cannot."""
    if _NOT_PII.fullmatch(word):
        return False
    return word.strip(".,;:!?\"'()") not in _COMMON and _RISKY.search(word) is not None


def _shift(findings: list[Finding], lo: int, hi: int) -> list[Finding]:
    """Findings in the coordinates of ``window[lo:hi]``, clipped to it."""
    return [
        Finding(f.category, f.type, max(f.start - lo, 0), min(f.end - lo, hi - lo), f.score)
        for f in findings
    ]
