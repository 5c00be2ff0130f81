"""Evidence selection: the few sentences of the retrieved chunks that answer the question.

A retrieved chunk holds several sentences, most of them about something else, and a small
model given whole chunks copies their headers or answers from the wrong sentence. So every
sentence (a list item counts as one, a table is one) of the retrieved chunks is scored
against the question and only the best few go into the prompt, each with its article,
heading and character offsets in the article, so the answer's citation can quote it.

A sentence's score adds four signals, each in [0, 1] and weighted:

- ``dense``: the cosine of the question and ``"heading: sentence"`` under the knowledge
  base's embedder (the heading says what a list item is about);
- ``lexical``: the share of the question's terms (stopwords dropped, crudely stemmed),
  weighted by their rarity among the candidate sentences, that the sentence or its heading
  contains;
- ``rank``: ``1 / rank`` of its chunk in the retrieval, which saw the whole chunk;
- ``number``: whether it states a number: a period, an amount or a limit is what a policy
  question asks for, and the sentence stating it often shares few words with the question
  ("Open it within 24 hours.").

The best ``spans`` sentences are kept, best first, skipping one that overlaps a sentence
already kept (chunks overlap).
Sentence vectors are cached by text (``VectorCache``), so an article's sentences are
embedded once, not on every turn.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.rag.chunking import sentence_spans
from switchboard.rag.embedder import Embedder, Vectors
from switchboard.rag.sections import split_sections
from switchboard.rag.store.inputs import query_terms
from switchboard.rag.types import SearchHit

MIN_WORDS = 3  # shorter spans ("Yes.", a table cell) say nothing on their own
_LIST_MARKER = re.compile(r"(?:[-*+]|\d+[.)])[ \t]+")
_SUFFIXES = ("ing", "ed", "es", "s")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Weights:
    """How much each signal adds to a sentence's cosine (``dense``)."""

    lexical: float = 0.3
    rank: float = 0.1
    number: float = 0.15


PROMPT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved chunk, with its offsets in the article."""

    source: SourceChunk
    rank: int  # of its chunk in the retrieval, 1-based

    @property
    def embedding_text(self) -> str:
        heading = self.source.heading or self.source.title
        return f"{heading}: {self.source.text}"


class EvidenceSelector:
    """Picks the ``spans`` best sentences of a turn's retrieved chunks."""

    def __init__(
        self, vectors: VectorCache, *, spans: int, weights: Weights = PROMPT_WEIGHTS
    ) -> None:
        if spans < 1:
            raise ValueError(f"spans must be at least 1, got {spans}")
        self.spans = spans
        self.weights = weights
        self._vectors = vectors

    def select(self, question: str, hits: Sequence[SearchHit]) -> list[SourceChunk]:
        candidates = candidates_of(hits)
        if not candidates:
            return []
        vectors = self._vectors.of([question, *(c.embedding_text for c in candidates)])
        dense = vectors[1:] @ vectors[0]
        scores = combined_scores(question, candidates, dense, self.weights)
        return pick(candidates, scores, self.spans)


def candidates_of(hits: Sequence[SearchHit]) -> list[Candidate]:
    """Every sentence of the hits' chunks, in retrieval order, once per article offset."""
    seen: set[tuple[str, str, int, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits, 1):
        for source in chunk_sentences(hit):
            key = (source.collection, source.article_id, source.start or 0, source.end or 0)
            if key not in seen:
                seen.add(key)
                out.append(Candidate(source, rank))
    return out


def source_chunk(hit: SearchHit) -> SourceChunk:
    """The hit's whole chunk as a source, with its heading and offsets in the article."""
    chunk, title = hit.stored.chunk, hit.stored.title
    return SourceChunk(
        article_id=chunk.document_id,
        title=title,
        url=_url(hit),
        text=chunk.text,
        heading=heading_text(chunk.heading_path, title),
        start=chunk.start,
        end=chunk.end,
        collection=hit.collection,
    )


def heading_text(path: Sequence[str], title: str) -> str:
    """A heading path as the prompt and the citation show it, without the article title."""
    return " > ".join(part for part in path if part != title)


def _url(hit: SearchHit) -> str:
    url = hit.stored.metadata.get("url", "")
    return url if isinstance(url, str) else ""


def chunk_sentences(hit: SearchHit) -> list[SourceChunk]:
    """The chunk's sentences as sources with article offsets; a chunk that opens in the
    middle of a sentence (its overlap with the previous chunk) drops that fragment."""
    chunk, title = hit.stored.chunk, hit.stored.title
    out = []
    for section in split_sections(chunk.text):
        heading = heading_text(section.heading_path or chunk.heading_path, title)
        for para_start, para_end in section.paragraphs:
            for start, end in _spans(chunk.text, para_start, para_end):
                if start == 0 and chunk.index and chunk.text[0].islower():
                    continue  # the tail of a sentence of the previous chunk
                marker = _LIST_MARKER.match(chunk.text, start, end)
                start = marker.end() if marker else start
                text = chunk.text[start:end]
                if len(text.split()) < MIN_WORDS:
                    continue
                out.append(
                    SourceChunk(
                        article_id=chunk.document_id,
                        title=title,
                        url=_url(hit),
                        text=text,
                        heading=heading,
                        start=chunk.start + start,
                        end=chunk.start + end,
                        collection=hit.collection,
                    )
                )
    return out


def _spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A paragraph's sentences; a table stays whole (a row means nothing without its
    header)."""
    return [(start, end)] if text.startswith("|", start) else sentence_spans(text, start, end)


def combined_scores(
    question: str,
    candidates: Sequence[Candidate],
    dense: Vectors,
    weights: Weights = PROMPT_WEIGHTS,
) -> list[float]:
    lexical = lexical_scores(question, [f"{c.source.heading} {c.source.text}" for c in candidates])
    return [
        float(d)
        + weights.lexical * lex
        + weights.rank / c.rank
        + (weights.number if _DIGIT.search(c.source.text) else 0.0)
        for c, d, lex in zip(candidates, dense, lexical, strict=True)
    ]


def lexical_scores(question: str, texts: Sequence[str]) -> list[float]:
    """Per text, the rarity-weighted share of the question's terms it contains."""
    asked = set(stems(question))
    held = [set(stems(t)) & asked for t in texts]
    weight = {t: math.log(1 + len(texts) / df) for t in asked if (df := sum(t in h for h in held))}
    total = sum(weight.values())
    return [sum(weight[t] for t in h) / total if total else 0.0 for h in held]


def stems(text: str) -> list[str]:
    """The text's content words, crudely stemmed ("returns", "returned" → "return")."""
    return [stem(word) for word in query_terms(text)]


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def pick(candidates: Sequence[Candidate], scores: Sequence[float], spans: int) -> list[SourceChunk]:
    """The best ``spans`` candidates, best first, none overlapping another of the same
    article."""
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    kept: list[SourceChunk] = []
    for i in order:
        if len(kept) == spans:
            break
        source = candidates[i].source
        if not any(_overlap(source, k) for k in kept):
            kept.append(source)
    return kept


def _overlap(a: SourceChunk, b: SourceChunk) -> bool:
    return (
        (a.collection, a.article_id) == (b.collection, b.article_id)
        and (a.start or 0) < (b.end or 0)
        and (b.start or 0) < (a.end or 0)
    )


class VectorCache:
    """The embedder's vectors of texts, cached by text in an LRU of ``size`` (thread-safe):
    an article's sentences are embedded once, not on every turn."""

    def __init__(self, embedder: Embedder, size: int = 8192) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._embedder = embedder
        self._size = size
        self._rows: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text, in order."""
        rows: dict[str, Vectors] = {}
        with self._lock:
            for text in dict.fromkeys(texts):
                row = self._rows.get(text)
                if row is not None:
                    self._rows.move_to_end(text)
                    rows[text] = row
        missing = [text for text in dict.fromkeys(texts) if text not in rows]
        if missing:
            rows.update(zip(missing, self._embedder.embed(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._rows[text] = rows[text]
                    self._rows.move_to_end(text)
                while len(self._rows) > self._size:
                    self._rows.popitem(last=False)
        return np.stack([rows[text] for text in texts])
