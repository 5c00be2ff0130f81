"""The store interface: one system of record for documents, chunks, embeddings and indexes.

Every backend gives the same guarantees, checked by one shared test suite:

- ``upsert_document`` is one transaction: a reader sees the old document with all its
  chunks or the new one with all its chunks, never a mix; a crash leaves the old one.
- A ``CollectionRef`` is a tenant-scoped namespace: nothing read through one ref ever
  returns another ref's chunks.
- Keyword and vector search return ``Ranked`` lists best first, ranks starting at 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from switchboard.rag.types import (
    Chunk,
    CollectionInfo,
    CollectionRef,
    Document,
    Filters,
    Ranked,
    StoredChunk,
)

Vectors = npt.NDArray[np.float32]


class Store(Protocol):
    def create_collection(self, ref: CollectionRef, *, embedding_model: str, dim: int) -> None:
        """Create ``ref`` if missing; ``ValueError`` if it exists with another model or dim."""
        ...

    def get_collection(self, ref: CollectionRef) -> CollectionInfo | None: ...

    def list_collections(self, tenant: str) -> list[CollectionInfo]: ...

    def drop_collection(self, ref: CollectionRef) -> bool:
        """Delete the collection and everything in it; False if it did not exist."""
        ...

    def document_hashes(self, ref: CollectionRef) -> dict[str, str]:
        """``{document id: content hash}`` of every document in the collection."""
        ...

    def upsert_document(
        self, ref: CollectionRef, document: Document, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        """Insert or replace ``document`` and all its chunks atomically.

        ``vectors[i]`` is the L2-normalized embedding of ``chunks[i]``.
        """
        ...

    def delete_documents(self, ref: CollectionRef, document_ids: Sequence[str]) -> int:
        """Delete these documents and their chunks; returns how many existed."""
        ...

    def keyword_search(
        self, ref: CollectionRef, query: str, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """Full-text search, best first (BM25 on SQLite, ts_rank_cd on PostgreSQL)."""
        ...

    def vector_search(
        self, ref: CollectionRef, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """Nearest chunks by cosine similarity (score = similarity), best first."""
        ...

    def get_chunks(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        """The chunks with these ids, in the same order; unknown ids are left out."""
        ...

    def get_vectors(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> Vectors:
        """The stored embeddings of these chunks, one row per id in order (a re-ranker's
        input); an unknown id raises ``KeyError``."""
        ...

    def close(self) -> None: ...
