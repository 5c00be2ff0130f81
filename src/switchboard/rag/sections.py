"""The Markdown structure of a text: heading sections and their paragraph spans.

Only ATX headings (``#`` to ``######``) are structure. A fenced code block (```` ``` ```` or
``~~~``) is opaque: a ``# comment`` inside it is code, not a heading, and its blank lines do
not end the paragraph. Offsets index into the text given; a paragraph span is stripped of
surrounding whitespace and never empty; a heading line belongs to no paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Section:
    """The paragraphs under one heading; ``heading_path`` holds the enclosing headings'
    titles, outermost first (``()`` for text before the first heading)."""

    heading_path: tuple[str, ...]
    paragraphs: tuple[tuple[int, int], ...]


def split_sections(text: str) -> list[Section]:
    """The sections of ``text`` that hold at least one paragraph, in order."""
    builder = _SectionBuilder()
    offset = 0
    for line in text.splitlines(keepends=True):
        builder.add_line(offset, line)
        offset += len(line)
    return builder.finish()


class _SectionBuilder:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.headings: list[tuple[int, str]] = []  # (level, title) of the enclosing headings
        self.paragraphs: list[tuple[int, int]] = []
        self.paragraph: tuple[int, int] | None = None
        self.fence: str | None = None  # the opening fence while inside a code block

    def add_line(self, offset: int, line: str) -> None:
        content = line.rstrip()
        stripped = content.strip()
        if self.fence is not None:
            if stripped.startswith(self.fence) and set(stripped) == {self.fence[0]}:
                self.fence = None
            if stripped:
                self._extend(offset, line, content)
        elif not stripped:
            self._end_paragraph()
        elif fence := _FENCE.match(content):
            self.fence = fence[1]
            self._extend(offset, line, content)
        elif heading := _HEADING.fullmatch(content):
            self._end_paragraph()
            self._open_section(len(heading[1]), heading[2].strip())
        else:
            self._extend(offset, line, content)

    def finish(self) -> list[Section]:
        self._end_paragraph()
        self._close_section()
        return self.sections

    def _extend(self, offset: int, line: str, content: str) -> None:
        end = offset + len(content)
        start = self.paragraph[0] if self.paragraph else offset + len(line) - len(line.lstrip())
        self.paragraph = (start, end)

    def _end_paragraph(self) -> None:
        if self.paragraph is not None:
            self.paragraphs.append(self.paragraph)
            self.paragraph = None

    def _open_section(self, level: int, title: str) -> None:
        self._close_section()
        self.headings = [h for h in self.headings if h[0] < level] + [(level, title)]

    def _close_section(self) -> None:
        if self.paragraphs:
            path = tuple(title for _, title in self.headings)
            self.sections.append(Section(path, tuple(self.paragraphs)))
        self.paragraphs = []
