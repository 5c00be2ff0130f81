"""Quoted answers: the help centre's own sentences that answer the question, cited, instead
of a model's words (``assistant.answer_mode = "quote"``).

A small local model restates the facts of its sources unreliably; the sentences the
evidence selection ranks best state them verbatim. A quoted answer comes from one
article, the retrieval's best (sentences of a second article mostly cite the wrong one):
its retrieved chunks and a few chunks either side of each (the sentence that answers often
sits just after the one that matches the question), their sentences ranked by the evidence
selection, the best quoted one per line, ``From *Heading*: "Sentence." [n]``, each with its
own citation (the quoted passage and its offsets in the article). It needs no model call,
so the customer reads it as soon as retrieval is done.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchboard.assistant.evidence import EvidenceSelector, Weights
from switchboard.assistant.prompt_budget import Citation, SourceChunk, citations_of
from switchboard.rag.types import SearchHit

_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SPACE = re.compile(r"\s+")
_TABLE_RULE = re.compile(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?")


@dataclass(frozen=True)
class QuotedAnswer:
    text: str
    citations: list[Citation]


QUOTE_WEIGHTS = Weights(lexical=0.3, rank=0.0, number=0.3)
"""Within one article a chunk's retrieval rank says little (a neighbour has none), and the
sentence that states a period, amount or limit is most often the one a customer needs."""

Window = Callable[[Sequence[SearchHit]], list[SearchHit]]
"""The hits' chunks with their neighbours (``KnowledgeSearcher.window``)."""


class Quoter:
    """Answers with the ``selector``'s best sentences of the first hit's article, read
    from its hits and, given a ``window``, their neighbouring chunks."""

    def __init__(self, selector: EvidenceSelector, window: Window | None = None) -> None:
        self.selector = selector
        self.window = window

    def answer(self, question: str, hits: Sequence[SearchHit]) -> QuotedAnswer | None:
        """The quoted answer, or None when the hits have no sentence to quote."""
        chunks = one_article(hits)
        if self.window is not None and chunks:
            chunks = self.window(chunks)
        return quoted_answer(self.selector.select(question, chunks))


def one_article(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The hits from the first one's article, in rank order."""
    if not hits:
        return []
    article = hits[0].stored.chunk.document_id
    return [h for h in hits if h.stored.chunk.document_id == article]


def quoted_answer(sentences: Sequence[SourceChunk]) -> QuotedAnswer | None:
    """The sentences quoted and cited, best first, one line per section they come from:
    ``From *Heading*: "First." [1] "Second." [2]``. A table's header row alone states
    nothing, and is left out."""
    sentences = [s for s in sentences if not _header_only(s.text)]
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


def _header_only(text: str) -> bool:
    """Whether ``text`` is a table's header row and its rule line, without a row."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _is_table(text) and len(lines) == 2 and _TABLE_RULE.fullmatch(lines[1]) is not None


def table_line(table: str) -> str:
    """A Markdown table's rows on one line, each cell after the first named by its column
    when there are more than two. Rows whose header row is not among them (the rule line
    ``|---|`` under it marks it) are given as they are."""
    lines = [line.strip() for line in table.splitlines() if line.strip()]
    headed = len(lines) > 1 and _TABLE_RULE.fullmatch(lines[1]) is not None
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in lines
        if not _TABLE_RULE.fullmatch(line)
    ]
    header, body = (rows[0], rows[1:]) if headed else ([], rows)
    if not body:
        return " ".join(header)
    out = []
    for row in body:
        rest = row[1:]
        if not header:
            out.append(f"{row[0]}: {', '.join(rest)}" if rest else row[0])
        elif len(rest) > 1:
            named = [
                f"{name.lower()} {value}" for name, value in zip(header[1:], rest, strict=False)
            ]
            out.append(f"{row[0]}: {', '.join(named)}")
        else:
            out.append(f"{row[0]}: {' '.join(rest)}")
    return "; ".join(out)
