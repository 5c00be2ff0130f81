"""Prefix KV reuse: an idle slot keeps the KV cells of the last request it served, and a
new request that starts with the same tokens computes only the rest.

A waiting request looks for the idle slot whose cached tokens share the longest exact
prefix with its own. While the cached prefix has more to offer than this match and an
empty slot is free, the request gets a copy of it in the empty slot, cut to the match, and
the cached prefix stays whole for later requests; otherwise it takes the cached slot and
the runner removes the cells past the match (``llama_memory_seq_rm(slot, match, -1)``).
The match is cut where reuse would round cells otherwise than prefilling the whole prompt
does (``exact_reuse``), so greedy outputs are the same with and without the cache.
With llama.cpp's partitioned KV cache each sequence has a stream of its own and
``seq_cp`` between streams supports whole buffers only, so the runner copies a sequence's
serialized state instead; on the unified pool ``seq_cp`` shares the cells. At least one
token is always left to compute: its logits give the first sampled token.

The idle slots form an LRU bounded by ``capacity`` cached tokens. An entry is evicted (its
cells freed) when the bound is exceeded, when a request needs its slot or its cells, and
before any running request is preempted. The cache belongs to one engine, so to one model
and one llama.cpp context: loading another model starts an empty one.

Pure bookkeeping: the scheduler owns an instance and turns its decisions into KV changes
for the runner.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from switchboard.engine.exact_reuse import ChunkLayout

#: A shorter match is not worth a cached slot when an empty one is free: every chat prompt
#: shares its template's first few tokens, and trimming a slot to those would throw away a
#: prefix that a later request could reuse whole (vLLM's automatic prefix caching likewise
#: reuses whole blocks of 16 tokens).
MIN_REUSE_TOKENS = 16


@dataclass(frozen=True)
class PrefixMatch:
    """Idle ``slot`` holds the first ``length`` tokens of a request's tokens."""

    slot: int
    length: int


@dataclass(frozen=True)
class _Entry:
    """An idle slot's cached tokens; its cells round big below ``big_until``."""

    tokens: npt.NDArray[np.int64]
    big_until: int


@dataclass
class PrefixCacheStats:
    """Counters since start: admissions (each looks up a prefix), those that reused one,
    and the prompt tokens each computed or reused (counted with the cache off too)."""

    lookups: int = 0
    hits: int = 0
    computed_tokens: int = 0
    reused_tokens: int = 0


def common_prefix_length(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if differ.size else n


class PrefixCache:
    """Cached token prefixes of idle slots, least recently used first."""

    def __init__(self, capacity: int, layout: ChunkLayout) -> None:
        if capacity < 0:
            raise ValueError("the prefix cache capacity must not be negative")
        self.capacity = capacity
        self.layout = layout
        self.cached_tokens = 0
        self.stats = PrefixCacheStats()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, slot: int) -> int:
        """Tokens whose cells idle ``slot`` holds (0 when it holds none)."""
        entry = self._entries.get(slot)
        return 0 if entry is None else len(entry.tokens)

    def lookup(self, tokens: Sequence[int]) -> PrefixMatch | None:
        """The idle slot sharing the longest exactly reusable prefix with ``tokens`` (the
        oldest on a tie), leaving the last token to compute; ``None`` below
        ``MIN_REUSE_TOKENS``."""
        query = np.asarray(tokens[:-1], dtype=np.int64)
        best: PrefixMatch | None = None
        for slot, entry in self._entries.items():
            shared = common_prefix_length(entry.tokens, query)
            length = self.layout.exact_reuse(shared, entry.big_until, len(tokens))
            if length >= MIN_REUSE_TOKENS and (best is None or length > best.length):
                best = PrefixMatch(slot, length)
        return best

    def take(self, slot: int) -> int:
        """Remove ``slot``'s entry (a request owns the slot now); return its cells."""
        entry = self._entries.pop(slot)
        self.cached_tokens -= len(entry.tokens)
        return len(entry.tokens)

    def touch(self, slot: int) -> None:
        """Mark ``slot``'s entry as just used (its prefix was copied)."""
        self._entries.move_to_end(slot)

    def evict_oldest(self) -> tuple[int, int]:
        """Remove the least recently used entry; return its slot and cells."""
        slot = next(iter(self._entries))
        return slot, self.take(slot)

    def put(self, slot: int, tokens: Sequence[int], prompt_tokens: int) -> tuple[int, list[int]]:
        """Cache the cells of ``tokens`` (a request's first ``prompt_tokens`` of them its
        prompt) in idle ``slot``, cut to the capacity; return how many tokens are kept and
        the slots evicted to stay within the capacity."""
        keep = min(len(tokens), self.capacity)
        evicted: list[int] = []
        while self._entries and self.cached_tokens + keep > self.capacity:
            evicted.append(self.evict_oldest()[0])
        if keep:
            cells = np.asarray(tokens[:keep], dtype=np.int64)
            self._entries[slot] = _Entry(cells, self.layout.big_until(prompt_tokens))
            self.cached_tokens += keep
        return keep, evicted

    def count_admission(self, reused: int, computed: int) -> None:
        """Count one admitted request: ``reused`` cached tokens, ``computed`` to prefill."""
        self.stats.lookups += 1
        self.stats.hits += int(reused > 0)
        self.stats.reused_tokens += reused
        self.stats.computed_tokens += computed
