"""Which cells of a cached prefix a request may reuse so that its logits are bit for bit
those of prefilling its whole prompt from position 0.

llama.cpp's CPU kernels compute a batch of fewer than ``SMALL_BATCH_ROWS`` rows by another
path than a bigger batch, and the two round differently (measured on the default model; an
integration test checks it). A cell's value, and every logits row computed over it, thus
depends on the size of the batch that computed it. Prefilled alone, a prompt of ``length``
tokens goes in chunks of ``block`` tokens from position 0: every chunk but the last rounds
"big", the last one too when it has ``SMALL_BATCH_ROWS`` rows or more, and decoded tokens
(one row per step) round "small". So each sequence's cells round big below a bound and
small from it on.

A cached prefix is reused exactly when (1) its cells round as the new prompt's would: the
same bound, or reuse stops below the lower one; and (2) the rest of the prompt is computed
in chunks that round as a fresh prefill's: the first chunk ends on a block boundary, and
when the fresh prefill rounds it big it must have ``SMALL_BATCH_ROWS`` rows (reuse stops
earlier if need be). Later chunks then coincide with the fresh prefill's. This holds for a
request computed alone in its batches (concurrency 1, no preemption); mixed into bigger
batches, rows round by the batch's size whatever is reused.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Below this many rows in one batch, llama.cpp's CPU matrix kernels take a path that
#: rounds differently (measured: a prompt's last 63 rows computed alone give other logits
#: than the same rows in a batch of 64).
SMALL_BATCH_ROWS = 64


@dataclass(frozen=True)
class ChunkLayout:
    """How the engine prefills a prompt alone: chunks of ``block`` tokens from 0."""

    block: int

    def __post_init__(self) -> None:
        if self.block < 1:
            raise ValueError("the prefill block must be at least one token")

    def big_until(self, length: int) -> int:
        """Positions below this round big in a fresh prefill of ``length`` tokens."""
        if self.block < SMALL_BATCH_ROWS or length < 1:
            return 0
        last = length - self.block * ((length - 1) // self.block)  # rows of the last chunk
        return length if last >= SMALL_BATCH_ROWS else length - last

    def chunk_end(self, start: int, length: int) -> int:
        """Where a prefill chunk starting at ``start`` ends: the next block boundary, or
        the prompt's end."""
        return min((start // self.block + 1) * self.block, length)

    def exact_reuse(self, match: int, cached_big_until: int, length: int) -> int:
        """The most of ``match`` shared cells (cached ones rounding big below
        ``cached_big_until``) a prompt of ``length`` tokens may reuse exactly."""
        big = self.big_until(length)
        if cached_big_until != big:
            match = min(match, cached_big_until, big)
        end = self.chunk_end(match, length)
        if match < big and end - match < SMALL_BATCH_ROWS:
            match = end - SMALL_BATCH_ROWS
        return match
