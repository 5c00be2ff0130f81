"""Shared value types of the knowledge base: documents, chunks, collections and search hits.

This module is the leaf every other ``switchboard.rag`` module imports; it imports nothing
of the package but the standard library.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchboard.names import check_name

MetadataValue = str | int | float | bool
"""A document metadata value that filters can test (nested values are stored, not filtered)."""

Filters = Mapping[str, MetadataValue | list[MetadataValue]]
"""Metadata filters: every key must match; a list value means "any of these"."""


@dataclass(frozen=True)
class CollectionRef:
    """A collection inside one tenant's namespace; two tenants may reuse a name safely."""

    tenant: str
    name: str

    def __post_init__(self) -> None:
        check_name("tenant", self.tenant)
        check_name("collection", self.name)

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"


@dataclass(frozen=True)
class CollectionInfo:
    ref: CollectionRef
    embedding_model: str
    dim: int
    documents: int
    chunks: int


@dataclass(frozen=True)
class Document:
    """One loaded document: ``text`` is what chunk offsets index into."""

    id: str
    title: str
    source: str
    text: str
    content_hash: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A span ``text == document.text[start:end]`` of one document, ready to embed."""

    document_id: str
    index: int
    text: str
    start: int
    end: int
    token_count: int
    heading_path: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.document_id}#{self.index}"


def chunk_embedding_text(chunk: Chunk, title: str) -> str:
    """``"title > heading > subheading\\n\\ntext"``: what to embed and index for a chunk.

    Chunk text is an exact slice of the document, without its heading lines, so a citation
    can point at it; this puts the context back. A leading heading equal to the title (a
    Markdown document's ``# Title``) is not repeated.
    """
    path = list(chunk.heading_path)
    if path and path[0] == title:
        path.pop(0)
    context = " > ".join(part for part in (title, *path) if part)
    return f"{context}\n\n{chunk.text}" if context else chunk.text


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from a store, with its document's provenance."""

    chunk: Chunk
    title: str
    source: str
    metadata: dict[str, Any]


class SearchMode(enum.StrEnum):
    BM25 = "bm25"
    DENSE = "dense"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class Ranked:
    """One retriever's result: a chunk id, its raw score and 1-based rank."""

    chunk_id: str
    score: float
    rank: int


@dataclass(frozen=True)
class SearchHit:
    """A final result: the chunk, its final score, and each stage's rank and score; an
    assistant's search over several collections names the hit's (``collection``)."""

    stored: StoredChunk
    score: float
    ranks: dict[str, int]
    scores: dict[str, float]
    collection: str = ""

    def to_json(self) -> dict[str, Any]:
        chunk = self.stored.chunk
        return {
            "chunk_id": chunk.id,
            "document_id": chunk.document_id,
            "title": self.stored.title,
            "source": self.stored.source,
            "heading_path": list(chunk.heading_path),
            "start": chunk.start,
            "end": chunk.end,
            "text": chunk.text,
            "metadata": self.stored.metadata,
            "score": self.score,
            "ranks": self.ranks,
            "scores": self.scores,
        }
