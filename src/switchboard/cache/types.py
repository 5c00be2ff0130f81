"""What the response cache stores and returns, and the scope an entry belongs to.

A leaf module: the stores, the semantic matcher and the callers (assistant, gateway)
depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class CacheScope:
    """Entries are shared only within one scope: a cached answer is never served to
    another tenant, another model, another system prompt or another version of the
    knowledge base (``kb_version`` is "" where no knowledge base is involved)."""

    tenant: str
    model: str
    system_hash: str
    kb_version: str = ""

    @property
    def key(self) -> str:
        return f"{self.tenant}\x1f{self.model}\x1f{self.system_hash}\x1f{self.kb_version}"


class HitKind(StrEnum):
    EXACT = "exact"
    SEMANTIC = "semantic"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """An answer as it was given: its text and what the caller needs to replay it
    (citations, model name, usage...), JSON-serialisable."""

    text: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CacheHit:
    answer: CachedAnswer
    kind: HitKind
    similarity: float  # 1.0 for an exact hit
    matched_query: str  # the query the entry was stored under
    age_s: float


class Embedder(Protocol):
    """What the semantic cache needs of an embedding model (the knowledge base's fits)."""

    model_id: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalized row per text, in input order."""
        ...
