"""Find ``[n]`` citation markers in a streamed answer, as the tokens arrive.

A marker can be split across tokens (``"[" "1" "]"``), so the scanner keeps the unfinished
tail of the text and reports each source number the first time it is completed. Numbers
that name no source given to the model are collected as ``invalid`` (the evaluation counts
them) and produce no citation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from switchboard.assistant.prompt_budget import Citation

_MARKER = re.compile(r"\[(\d{1,3})(?:\s*,\s*(\d{1,3}))*\]")
_NUMBER = re.compile(r"\d{1,3}")
_MAX_OPEN = 16  # characters after "[" before it cannot be a marker any more


class CitationScanner:
    def __init__(self, citations: Sequence[Citation]) -> None:
        self._by_number = {c.number: c for c in citations}
        self._tail = ""
        self.cited: list[Citation] = []  # in order of first citation
        self.invalid: list[int] = []

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
            if citation is None:
                if number not in self.invalid:
                    self.invalid.append(number)
            elif citation not in self.cited:
                self.cited.append(citation)
                new.append(citation)
        return new
