"""Token-aware, structure-aware chunking: a ``Document`` to ``Chunk`` spans of its text.

1. The text is cut into sections at Markdown headings (``sections.split_sections``); a
   chunk never spans two sections, and carries its section's ``heading_path``.
2. Each paragraph is counted once. One over ``chunk_tokens`` is split into sentences, an
   over-long sentence into words, an over-long word into characters: these are the units.
3. Units are packed greedily by the sum of their counts. The real count of each chunk's
   text is then taken; if it is over the limit (counts need not add up), units are given
   back until it fits. So every chunk has ``token_count <= chunk_tokens``, counted on its
   exact text, and the counter reads each character a few times (paragraph, sentence,
   chunk, overlap), not once per candidate chunk.
4. A chunk after the first of its section starts with about ``overlap_tokens`` of the
   previous chunk's tail, cut at a word (preferably a sentence) boundary.

Every chunk is an exact slice: ``chunk.text == document.text[chunk.start:chunk.end]``.
Heading lines are not in the chunk text (a slice cannot hold a path of several headings);
``chunk_embedding_text`` puts the title and heading path back for embedding and indexing.
A document whose whole text fits in one chunk is one chunk, headings included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchboard.rag.sections import Section, split_sections
from switchboard.rag.types import Chunk, Document

Span = tuple[int, int]

_SENTENCE_END = re.compile(
    "[.!?\u2026]+[\"'\u201d\u2019)\\]]*(?=\\s)"  # . ! ? … and closing quotes, then a space
    "|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019)]*"  # CJK full stop, ! and ? (no space needed)
    r"|\n(?=[ \t]*(?:[-*+>|]|\d+[.)])[ \t])"  # a new list item, quote or table row
    r"|\n[ \t]*\n"  # a paragraph break (inside a chunk, or a fenced code block)
)
_WORD = re.compile(r"\S+")


TokenCounter = Callable[[str], int]
"""Counts tokens the way the embedding model will, without special tokens or truncation:
e.g. ``Embedder.count_tokens``."""


@dataclass(frozen=True)
class ChunkingSettings:
    """``chunk_tokens`` must leave room, under the embedding model's maximum sequence
    length, for its special tokens and the prefix added by ``chunk_embedding_text``."""

    chunk_tokens: int = 256
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if self.chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be at least 1, got {self.chunk_tokens}")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ValueError(
                f"overlap_tokens must be in [0, chunk_tokens={self.chunk_tokens}), "
                f"got {self.overlap_tokens}"
            )


@dataclass(frozen=True)
class _Unit:
    """A span of text too small to split further, and its token count."""

    start: int
    end: int
    tokens: int


class Chunker:
    def __init__(self, counter: TokenCounter, settings: ChunkingSettings | None = None) -> None:
        self.counter = counter
        self.settings = settings or ChunkingSettings()
        self.limit = self.settings.chunk_tokens
        self._splitters: tuple[Callable[[str, int, int], list[Span]], ...] = (
            sentence_spans,
            _words,
            self._characters,
        )

    def chunk(self, document: Document) -> list[Chunk]:
        text = document.text
        return [
            Chunk(document.id, i, text[u.start : u.end], u.start, u.end, u.tokens, path)
            for i, (path, u) in enumerate(self._place(text))
        ]

    def _place(self, text: str) -> list[tuple[tuple[str, ...], _Unit]]:
        """``(heading path, chunk span)`` for each chunk of ``text``, in order."""
        sections = split_sections(text) or _whole_text_section(text)
        units = [self._units(text, section) for section in sections]
        whole = self._whole(text, units)
        if whole is not None:
            return [((), whole)]
        return [
            (section.heading_path, chunk)
            for section, section_units in zip(sections, units, strict=True)
            for chunk in self._pack(text, section_units)
        ]

    def _count(self, text: str, start: int, end: int) -> _Unit:
        return _Unit(start, end, self.counter(text[start:end]))

    def _whole(self, text: str, units: list[list[_Unit]]) -> _Unit | None:
        """The whole (stripped) text as one chunk, if it fits."""
        if sum(u.tokens for section in units for u in section) > self.limit:
            return None
        start, end = _strip(text, 0, len(text))
        whole = self._count(text, start, end)
        return whole if start < end and whole.tokens <= self.limit else None

    def _units(self, text: str, section: Section) -> list[_Unit]:
        return [u for start, end in section.paragraphs for u in self._split(text, start, end)]

    def _split(self, text: str, start: int, end: int, level: int = 0) -> list[_Unit]:
        """``[start, end)`` as units of at most ``limit`` tokens, split at ``level`` or finer."""
        whole = self._count(text, start, end)
        while whole.tokens > self.limit:
            pieces = self._splitters[level](text, start, end)
            level += 1
            if len(pieces) > 1:
                return [u for s, e in pieces for u in self._split(text, s, e, level)]
        return [whole]

    def _characters(self, text: str, start: int, end: int) -> list[Span]:
        """Runs of characters of at most ``limit`` tokens each (for one huge word)."""
        pieces: list[Span] = []
        chars_per_token = (end - start) / max(self.counter(text[start:end]), 1)
        while start < end:
            step = max(1, min(end - start, int(self.limit * chars_per_token)))
            while (tokens := self.counter(text[start : start + step])) > self.limit:
                if step == 1:
                    raise ValueError(f"one character counts {tokens} tokens > {self.limit}")
                step = max(1, min(step - 1, step * self.limit // tokens))
            pieces.append((start, start + step))
            start += step
        return pieces

    def _pack(self, text: str, units: Sequence[_Unit]) -> list[_Unit]:
        """Greedy packing of one section's units into chunks, with overlap."""
        chunks: list[_Unit] = []
        i = 0
        while i < len(units):
            start, used = units[i].start, 0
            if chunks and self.settings.overlap_tokens:
                budget = min(self.settings.overlap_tokens, self.limit - units[i].tokens)
                overlap = self._overlap(text, chunks[-1], budget)
                if overlap is not None:
                    start, used = overlap.start, overlap.tokens
            j = i + 1
            used += units[i].tokens
            while j < len(units) and used + units[j].tokens <= self.limit:
                used += units[j].tokens
                j += 1
            j, chunk = self._fit(text, units, i, j, start)
            chunks.append(chunk)
            i = j
        return chunks

    def _fit(
        self, text: str, units: Sequence[_Unit], i: int, j: int, start: int
    ) -> tuple[int, _Unit]:
        """Give back units (then the overlap) until the real count of the text fits."""
        while True:
            if j == i + 1 and start == units[i].start:
                return j, units[i]
            chunk = self._count(text, start, units[j - 1].end)
            if chunk.tokens <= self.limit:
                return j, chunk
            if j == i + 1:
                start = units[i].start
                continue
            excess = chunk.tokens - self.limit
            while j > i + 1 and excess > 0:
                j -= 1
                excess -= units[j].tokens

    def _overlap(self, text: str, previous: _Unit, budget: int) -> _Unit | None:
        """The longest tail of ``previous`` that starts at a word and counts at most
        ``budget`` tokens, moved up to a sentence start if one is in its first half."""
        if budget <= 0:
            return None
        # Every word is at least one token, so only the last ``budget`` words can fit.
        starts = [m.start() for m in _WORD.finditer(text, previous.start, previous.end)]
        starts = starts[1:][-budget:]
        best: _Unit | None = None
        low, high = 0, len(starts)
        while low < high:  # the first start whose tail fits (tails shrink as starts grow)
            middle = (low + high) // 2
            tail = self._count(text, starts[middle], previous.end)
            if tail.tokens <= budget:
                best, high = tail, middle
            else:
                low = middle + 1
        if best is None:
            return None
        sentences = _sentence_starts(text, previous.start, previous.end)
        if best.start in sentences:
            return best
        half = best.start + (best.end - best.start) // 2
        later = next((s for s in sentences if best.start < s <= half), None)
        return best if later is None else self._count(text, later, previous.end)


def _whole_text_section(text: str) -> list[Section]:
    """A text of headings only still gets one section, so no document yields no chunk."""
    start, end = _strip(text, 0, len(text))
    return [Section((), ((start, end),))] if start < end else []


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    """Stripped, non-empty sentence spans of ``[start, end)``."""
    cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
    spans = (_strip(text, s, e) for s, e in zip([start, *cuts], [*cuts, end], strict=True))
    return [(s, e) for s, e in spans if s < e]


def _sentence_starts(text: str, start: int, end: int) -> list[int]:
    """Where the second and later sentences of ``[start, end)`` start."""
    return [s for s, _ in sentence_spans(text, start, end)[1:]]


def _words(text: str, start: int, end: int) -> list[Span]:
    return [m.span() for m in _WORD.finditer(text, start, end)]
