"""Fakes for driving the engine without a model: a counting 'model' whose next token is
always ``last + 1`` (mod vocab) and a tokenizer that maps token t to one letter; and for the
knowledge base, a hashing embedder whose vectors are close when texts share words."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from switchboard.engine.scheduler import ScheduledChunk

VOCAB = 64
EOS = 0


class FakeTokenizer:
    eog_token_ids = frozenset({EOS})
    n_vocab = VOCAB

    def token_bytes(self, token_id: int) -> bytes:
        return b"" if token_id == EOS else bytes([ord("a") + token_id % 26])


class FakeRunner:
    """Records each batch, free, trim and copy; holds a cell count per slot (a chunk must start
    where its slot's cells end); predicts ``last token + 1``."""

    def __init__(self, vocab: int = VOCAB) -> None:
        self.vocab = vocab
        self.batches: list[list[tuple[str, int, int]]] = []
        self.freed: list[int] = []
        self.trimmed: list[tuple[int, int]] = []
        self.copied: list[tuple[int, int]] = []
        self.kv: dict[int, int] = {}

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        self.batches.append([(c.request.request_id, c.start, c.num_tokens) for c in chunks])
        rows = []
        for chunk in chunks:
            slot = chunk.slot
            if self.kv.get(slot, 0) != chunk.start:
                raise AssertionError(
                    f"slot {slot} holds {self.kv.get(slot)} cells, not {chunk.start}"
                )
            self.kv[slot] = chunk.start + chunk.num_tokens
            if chunk.sample:
                last = chunk.request.token_ids(chunk.start, chunk.start + chunk.num_tokens)[-1]
                row = np.zeros(self.vocab, dtype=np.float32)
                row[(last + 1) % self.vocab] = 10.0
                rows.append(row)
        return np.stack(rows) if rows else np.empty((0, self.vocab), dtype=np.float32)

    def free(self, slot: int) -> None:
        self.freed.append(slot)
        self.kv.pop(slot, None)

    def trim(self, slot: int, keep: int) -> None:
        self.trimmed.append((slot, keep))
        self.kv[slot] = min(self.kv.get(slot, 0), keep)

    def copy(self, source: int, slot: int) -> None:
        self.copied.append((source, slot))
        self.kv[slot] = self.kv.get(source, 0)


_WORD = re.compile(r"[^\W_]+")


class HashingEmbedder:
    """A deterministic bag-of-words embedder (an ``Embedder``): each lower-cased word and
    each character trigram of ``<word>`` adds 1 to a hashed bucket, then rows are unit
    length. Texts sharing words, or parts of words ("photosynthesis", "photosynthetic"),
    get similar vectors. Tokens are whitespace-separated words. Counts its calls."""

    model_id = "fake-hashing-embedder"

    def __init__(self, dim: int = 512, max_tokens: int = 256) -> None:
        self.dim = dim
        self.max_tokens = max_tokens
        self.calls = 0
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts.extend(texts)
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for feature in _features(text):
                row[zlib.crc32(feature.encode()) % self.dim] += 1.0
            if not row.any():
                row[0] = 1.0  # no words: still a unit vector, as a real model gives
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed = True


def _features(text: str) -> list[str]:
    features = []
    for word in _WORD.findall(text.lower()):
        marked = f"<{word}>"
        features.append(f"word:{word}")
        features += [f"tri:{marked[i : i + 3]}" for i in range(len(marked) - 2)]
    return features


class ManualClock:
    """A clock (``time.monotonic`` or ``time.time`` stand-in) that moves only when told."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
