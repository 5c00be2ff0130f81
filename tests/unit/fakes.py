"""Fakes for driving the engine without a model: a counting 'model' whose next token is
always ``last + 1`` (mod vocab) and a tokenizer that maps token t to one letter."""

from __future__ import annotations

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
    """Records each batch and frees; predicts ``last token + 1``."""

    def __init__(self, vocab: int = VOCAB) -> None:
        self.vocab = vocab
        self.batches: list[list[tuple[str, int, int]]] = []
        self.freed: list[int] = []
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
