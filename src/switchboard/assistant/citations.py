"""Citations of an answer: ``[n]`` markers found as the tokens stream, and attribution of
an answer whose model wrote none.

A marker can be split across tokens (``"[" "1" "]"``), so the scanner keeps the unfinished
tail of the text and reports each source number the first time it is completed. Numbers
that name no source given to the model produce no citation.

A small model also writes markers for sources that do not exist (``[5]`` when four were
given): ``known_markers_only`` drops them from the streamed text, holding back an unfinished
``[`` until it is complete or cannot be a marker any more.

Small models often answer from a source without citing it. ``attribute`` then finds the
source the answer took its facts from: the one sharing the most content words and numbers
with the answer that the question did not already contain, if it shares at least
``MIN_SHARED``. An answer that took nothing from the sources ("I'm not sure") is not cited.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection, Sequence

from switchboard.assistant.prompt_budget import Citation, SourceChunk
from switchboard.assistant.types import CitationEvent

_MARKER = re.compile(r"\[(\d{1,3})(?:\s*,\s*(\d{1,3}))*\]")
_NUMBER = re.compile(r"\d{1,3}")
_SPACED_MARKER = re.compile(r" ?" + _MARKER.pattern)
_OPEN_MARKER = re.compile(r" ?\[[\d,\s]*$")  # a marker not yet closed, and its space
_MAX_OPEN = 16  # characters after "[" before it cannot be a marker any more
_TERM = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]{4,}")
MIN_SHARED = 2  # content words or numbers an answer must share with a source to cite it


class CitationScanner:
    def __init__(self, citations: Sequence[Citation]) -> None:
        self._by_number = {c.number: c for c in citations}
        self._tail = ""
        self.cited: list[Citation] = []  # in order of first citation

    @property
    def numbers(self) -> Collection[int]:
        """The source numbers the answer may cite (a live view: it grows with ``extend``)."""
        return self._by_number.keys()

    def extend(self, citations: Sequence[Citation]) -> None:
        """More sources the answer may cite (tool calls add them during the turn)."""
        self._by_number.update((c.number, c) for c in citations)

    def feed(self, text: str) -> list[Citation]:
        """The citations completed for the first time by ``text``."""
        buffer = self._tail + text
        new: list[Citation] = []
        end = 0
        for match in _MARKER.finditer(buffer):
            new.extend(self._cite(match.group(0)))
            end = match.end()
        rest = buffer[end:]
        open_at = rest.rfind("[")
        self._tail = rest[open_at:] if open_at >= 0 and len(rest) - open_at < _MAX_OPEN else ""
        return new

    def _cite(self, marker: str) -> list[Citation]:
        new = []
        for number in (int(n) for n in _NUMBER.findall(marker)):
            citation = self._by_number.get(number)
            if citation is not None and citation not in self.cited:
                self.cited.append(citation)
                new.append(citation)
        return new


async def known_markers_only(
    text: AsyncIterator[str], numbers: Collection[int]
) -> AsyncIterator[str]:
    """``text`` with every marker's unknown numbers removed (a marker left with none goes,
    with the space before it)."""

    def known(marker: re.Match[str]) -> str:
        kept = [n for n in _NUMBER.findall(marker.group(0)) if int(n) in numbers]
        space = " " if marker.group(0).startswith(" ") else ""
        return f"{space}[{', '.join(kept)}]" if kept else ""

    held = ""
    try:
        async for piece in text:
            buffer = held + piece
            open_at = _OPEN_MARKER.search(buffer[-_MAX_OPEN - 2 :])
            cut = len(buffer) - len(open_at.group(0)) if open_at else len(buffer)
            held = buffer[cut:]
            done = _SPACED_MARKER.sub(known, buffer[:cut])
            if done:
                yield done
        if held:
            yield held
    finally:  # closed early (the client left): stop the model now, not when collected
        aclose = getattr(text, "aclose", None)
        if aclose is not None:
            await aclose()


def citation_event(citation: Citation) -> CitationEvent:
    """The event that tells the client what ``[n]`` cites, with the quoted passage."""
    c = citation
    return CitationEvent(c.number, c.article_id, c.title, c.url, c.heading, c.quote, c.start, c.end,
                         c.collection)  # fmt: skip


def attribute(answer: str, question: str, sources: Sequence[SourceChunk]) -> int | None:
    """The number (1-based) of the source ``answer`` took most from, or None."""
    new = _terms(answer) - _terms(question)
    shared = [len(new & _terms(f"{s.title} {s.text}")) for s in sources]
    best = max(range(len(shared)), key=shared.__getitem__, default=None)
    if best is None or shared[best] < MIN_SHARED:
        return None
    return best + 1


def _terms(text: str) -> set[str]:
    return {t.lower() for t in _TERM.findall(text)}
