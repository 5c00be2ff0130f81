"""Quoted answers: the help centre's own sentences that answer the question, cited, instead
of a model's words (``assistant.answer_mode = "quote"``).

A small local model restates the facts of its sources unreliably; the sentences the
evidence selection ranks best state them verbatim. A quoted answer is the best sentences of
the article the best one comes from, one line each, ``From *Heading*: "Sentence." [n]``,
each with its own citation (the quoted passage and its offsets in the article). It needs
no model call, so the customer reads it as soon as retrieval is done.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from switchboard.assistant.evidence import EvidenceSelector
from switchboard.assistant.prompt_budget import Citation, SourceChunk, citations_of
from switchboard.rag.types import SearchHit

_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SPACE = re.compile(r"\s+")
_TABLE_RULE = re.compile(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?")


@dataclass(frozen=True)
class QuotedAnswer:
    text: str
    citations: list[Citation]


class Quoter:
    """Answers with up to ``sentences`` evidence sentences of one article: the article of
    the best sentence (sentences of a second article mostly cite the wrong one)."""

    def __init__(self, selector: EvidenceSelector, sentences: int) -> None:
        self.selector = selector
        self.sentences = sentences

    def answer(self, question: str, hits: Sequence[SearchHit]) -> QuotedAnswer | None:
        """The quoted answer, or None when the hits have no sentence to quote."""
        return quoted_answer(one_article(self.selector.select(question, hits), self.sentences))


def one_article(ranked: Sequence[SourceChunk], most: int) -> list[SourceChunk]:
    """The best ``most`` of ``ranked`` (best first) that come from the first one's article."""
    if not ranked:
        return []
    return [s for s in ranked if s.article_id == ranked[0].article_id][:most]


def quoted_answer(sentences: Sequence[SourceChunk]) -> QuotedAnswer | None:
    """The sentences quoted and cited, best first, one line per section they come from:
    ``From *Heading*: "First." [1] "Second." [2]``."""
    if not sentences:
        return None
    citations = citations_of(sentences)
    sections: dict[str, list[str]] = {}
    for sentence, citation in zip(sentences, citations, strict=True):
        quote = f'"{clean(sentence.text)}" [{citation.number}]'
        sections.setdefault(sentence.heading or sentence.title, []).append(quote)
    lines = [f"From *{heading}*: {' '.join(quotes)}" for heading, quotes in sections.items()]
    return QuotedAnswer("\n".join(lines), citations)


def clean(sentence: str) -> str:
    """A sentence as one quoted line: without a list marker, on one line; a table's rows
    as ``first cell: other cells`` (``PayPal: 1-2 business days; Visa: 3-5 business days``)."""
    if _is_table(sentence):
        return table_line(sentence)
    return _SPACE.sub(" ", _LIST_MARKER.sub("", sentence)).strip()


def _is_table(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(line.startswith("|") for line in lines)


def table_line(table: str) -> str:
    """A Markdown table's rows on one line, each cell after the first named by its column
    when there are more than two."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.strip() and not _TABLE_RULE.fullmatch(line.strip())
    ]
    header, body = rows[0], rows[1:]
    if not body:
        return " ".join(header)
    out = []
    for row in body:
        rest = row[1:]
        if len(rest) > 1:
            named = [
                f"{name.lower()} {value}" for name, value in zip(header[1:], rest, strict=False)
            ]
            out.append(f"{row[0]}: {', '.join(named)}")
        else:
            out.append(f"{row[0]}: {' '.join(rest)}")
    return "; ".join(out)
