"""Pure checks and parsing of what callers hand a store, shared by every backend.

Everything here raises ``ValueError`` for bad input and touches no database, so a backend
validates a whole write before it opens its transaction, and builds its SQL only from the
checked values returned here (user text is always bound as a parameter, never spliced in).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from switchboard.rag.types import Chunk, Document, Filters, MetadataValue

MAX_QUERY_TERMS = 32
"""Longer keyword queries keep their first terms: an OR of hundreds of terms is all cost."""

MAX_POSITION = 2**31 - 1
"""Chunk indexes, offsets and token counts are stored as 32-bit integers."""

_STOPWORD_LIST = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
"""A small English stopword list, dropped from keyword queries."""

_WORD = re.compile(r"[^\W_]+")
_FILTER_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def query_terms(text: str) -> list[str]:
    """The distinct lower-cased words of ``text``, stopwords dropped, in order of appearance.

    Words are runs of Unicode letters and digits; everything else (quotes, ``*``,
    parentheses, ``-``, emoji) only separates them, so no query syntax survives. If every
    word is a stopword they are all kept, so "to be or not to be" still searches.
    """
    words = list(dict.fromkeys(_WORD.findall(unicodedata.normalize("NFKC", text).lower())))
    content = [word for word in words if word not in STOPWORDS]
    return (content or words)[:MAX_QUERY_TERMS]


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression that ORs ``terms``, each a quoted string (never an operator)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


@dataclass(frozen=True)
class FilterClause:
    """One checked filter: the metadata ``key`` must equal one of ``values``."""

    key: str
    values: tuple[MetadataValue, ...]


def check_filters(filters: Filters | None) -> list[FilterClause]:
    """``filters`` as clauses; keys must be identifiers, values scalars or non-empty lists."""
    clauses = []
    for key, value in (filters or {}).items():
        if not isinstance(key, str) or not _FILTER_KEY.fullmatch(key):
            raise ValueError(f"invalid filter key {key!r}: use a letter or '_' then [A-Za-z0-9_]")
        values = tuple(value) if isinstance(value, list) else (value,)
        if not values:
            raise ValueError(f"filter {key!r} has an empty list of values")
        for item in values:
            _check_filter_value(key, item)
        clauses.append(FilterClause(key, values))
    return clauses


def _check_filter_value(key: str, value: object) -> None:
    if not isinstance(value, str | int | float | bool):
        raise ValueError(f"filter {key!r}: values must be str, int, float or bool, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"filter {key!r}: {value!r} is not a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError(f"filter {key!r}: {value!r} does not fit in 64 bits")


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k


def check_dim(dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 16_000:
        raise ValueError(f"dim must be an integer in 1..16000, got {dim!r}")
    return dim


def normalized_rows(vectors: npt.ArrayLike, rows: int, dim: int) -> npt.NDArray[np.float32]:
    """``vectors`` as a ``(rows, dim)`` float32 matrix of unit rows, or ``ValueError``."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.shape != (rows, dim):
        raise ValueError(f"vectors must have shape ({rows}, {dim}), got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinite values")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("vectors contain an all-zero row, which has no direction")
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def normalized_query(vector: npt.ArrayLike, dim: int) -> npt.NDArray[np.float32]:
    """A query vector of shape ``(dim,)`` or ``(1, dim)`` as a unit float32 vector."""
    array = np.asarray(vector, dtype=np.float32)
    if array.shape not in ((dim,), (1, dim)):
        raise ValueError(f"query vector must have shape ({dim},), got {array.shape}")
    return normalized_rows(array.reshape(1, dim), 1, dim)[0]


def check_document(document: Document, chunks: Sequence[Chunk]) -> str:
    """Check ``chunks`` belong to ``document``; returns its metadata as JSON."""
    if not document.id:
        raise ValueError("a document needs a non-empty id")
    for name in ("id", "title", "source", "content_hash"):
        if "\x00" in getattr(document, name):
            raise ValueError(f"document {document.id!r}: {name} contains a NUL character")
    indexes = [chunk.index for chunk in chunks]
    if len(set(indexes)) != len(indexes):
        raise ValueError(f"document {document.id!r}: chunk indexes are not unique")
    for chunk in chunks:
        if chunk.document_id != document.id:
            raise ValueError(f"chunk {chunk.id!r} does not belong to document {document.id!r}")
        positions = (chunk.index, chunk.start, chunk.end, chunk.token_count)
        if not all(0 <= value <= MAX_POSITION for value in positions) or chunk.start > chunk.end:
            raise ValueError(f"chunk {chunk.id!r}: index, offsets or token count out of range")
        if _has_nul(chunk.text) or _has_nul(chunk.heading_path):
            raise ValueError(f"chunk {chunk.id!r} contains a NUL character")
    try:
        metadata = json.dumps(document.metadata, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"document {document.id!r}: metadata is not JSON: {error}") from error
    if _has_nul(document.metadata):
        raise ValueError(f"document {document.id!r}: metadata contains a NUL character")
    return metadata


def _has_nul(value: object) -> bool:
    """Whether a NUL hides in a JSON value's strings (PostgreSQL text and jsonb refuse it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def chunk_id(document_id: str, index: int) -> str:
    """The id ``Chunk.id`` gives this chunk."""
    return f"{document_id}#{index}"


def parse_chunk_id(value: str) -> tuple[str, int] | None:
    """``(document id, index)`` of a ``Chunk.id``, or None if ``value`` is not one."""
    document_id, sep, index = value.rpartition("#")
    if not (sep and document_id and index.isascii() and index.isdigit() and len(index) <= 10):
        return None
    return (document_id, int(index)) if int(index) <= MAX_POSITION else None


def vectors_in_order(
    chunk_ids: Sequence[str], found: dict[tuple[str, int], npt.NDArray[np.float32]], dim: int
) -> npt.NDArray[np.float32]:
    """The ``found`` vectors stacked in ``chunk_ids`` order; ``KeyError`` for a missing id."""
    matrix = np.empty((len(chunk_ids), dim), dtype=np.float32)
    for row, value in enumerate(chunk_ids):
        key = parse_chunk_id(value)
        if key is None or key not in found:
            raise KeyError(value)
        matrix[row] = found[key]
    return matrix
