"""Labelled question pairs from the shop's support domain for the semantic cache, kept in
``bench/data/cache_pairs.jsonl`` (``batch`` 0 for the original pairs, 1-4 for the fresh
batches below).

Each pair is (cached question, new question): ``hit`` pairs are paraphrases the cache
should answer from the first; the others are hard negatives it must not: negations,
other order numbers, other products, other countries, other amounts and dates, and
related but different questions ("return shipping cost" vs "delivery cost"). The pairs
were written from the help-centre articles and golden questions before the false-hit
guard was run on them; ``held_out`` (about 30%, chosen by a hash of the text, not by
hand) is kept aside and reported separately.

The old held-out split was looked at while the guard's rules were written, so it is no
longer clean. Three batches were written afterwards from the help-centre articles, each
committed before the design it measures and not run until that design was frozen:
``fresh`` (before the verifier, ``cache/verify.py``, was first designed; its result then
fed the second round), ``fresh2`` (before the second round) and ``fresh3`` (after the
second round was frozen, by someone who had seen where it fails: written to probe it).
The second round was designed on ``dev``, ``held_out`` and ``fresh`` only, so ``fresh2``
and ``fresh3`` are the splits that measure the guard on wording it has not seen.
``fresh4`` (109 pairs) was written later still, by someone who had not designed the guard,
in the help centre's topics but not modelled on any failure, and run once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources


class PairKind(StrEnum):
    PARAPHRASE = "paraphrase"
    NEGATION = "negation"
    ORDER = "order"
    PRODUCT = "product"
    COUNTRY = "country"
    AMOUNT = "amount"
    DATE = "date"
    TOPIC = "topic"


HELD_OUT_PERCENT = 30
FRESH_SPLITS = ("fresh", "fresh2", "fresh3", "fresh4")


@dataclass(frozen=True, slots=True)
class CachePair:
    cached: str
    query: str
    kind: PairKind
    batch: int = 0
    """0: the original pairs; 1 to 4: ``fresh`` to ``fresh4`` (see the module's
    docstring)."""

    @property
    def hit(self) -> bool:
        """Whether the cached answer may be served for ``query``."""
        return self.kind is PairKind.PARAPHRASE

    @property
    def split(self) -> str:
        """``fresh``, ``held_out`` or ``dev``."""
        if self.batch:
            return FRESH_SPLITS[self.batch - 1]
        return "held_out" if self.held_out else "dev"

    @property
    def held_out(self) -> bool:
        """In the old held-out split (by a hash of the text); never for fresh pairs."""
        if self.batch:
            return False
        digest = hashlib.sha256(f"{self.cached}\n{self.query}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def load_pairs() -> tuple[CachePair, ...]:
    """The pairs of ``bench/data/cache_pairs.jsonl``, in file order: one JSON object a line,
    ``{"cached", "query", "kind", "batch"}``."""
    text = resources.files("switchboard_bench").joinpath("data/cache_pairs.jsonl").read_text()
    return tuple(
        CachePair(row["cached"], row["query"], PairKind(row["kind"]), int(row["batch"]))
        for row in map(json.loads, text.splitlines())
    )


PAIRS: tuple[CachePair, ...] = load_pairs()
