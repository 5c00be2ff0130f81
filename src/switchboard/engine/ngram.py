"""Prompt-lookup drafts: guess a sequence's next tokens by finding its last few tokens
earlier in the sequence (prompt + output) and proposing what followed them there.

An answer grounded in retrieved passages copies long runs of them, so after a few copied
tokens the rest of the run is a good guess that costs no model call. How far to trust the
guess depends on how long the recurring suffix is: a suffix of one or two tokens often
recurs by coincidence, one of eight or more is almost always a copy in progress. So a
match of ``n`` tokens proposes at most ``n - 1`` tokens (at least one): each draft token
costs a share of a forward pass to verify, and a rejected one buys nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NgramMatch:
    """The last ``length`` tokens also occur earlier, latest there just before ``end``
    (the index of the token that followed them)."""

    length: int
    end: int


def longest_match(tokens: Sequence[int], ngram_max: int) -> NgramMatch | None:
    """The longest suffix of ``tokens`` (at most ``ngram_max`` tokens) that also occurs
    earlier with at least one token after it, at its latest such occurrence; ``None``
    when the last token never occurred before."""
    history = np.asarray(tokens, dtype=np.int64)
    last = len(history) - 1
    if last < 1 or ngram_max < 1:
        return None
    # ends: where earlier occurrences of the current suffix end (each < last)
    ends = np.flatnonzero(history[:last] == history[last])
    length = 1
    while ends.size and length < ngram_max:
        ends_before = ends[ends >= length]
        longer = ends_before[history[ends_before - length] == history[last - length]]
        if not longer.size:
            break
        ends, length = longer, length + 1
    if not ends.size:
        return None
    return NgramMatch(length, int(ends[-1]) + 1)


def ngram_draft(tokens: Sequence[int], k: int, ngram_min: int, ngram_max: int) -> list[int]:
    """What followed the latest earlier occurrence of the longest recurring suffix of
    ``tokens`` (``ngram_min`` to ``ngram_max`` tokens long): at most ``k`` tokens, and at
    most one fewer than the suffix's length (at least one); ``[]`` when none recurs."""
    match = longest_match(tokens, ngram_max) if k >= 1 else None
    if match is None or match.length < ngram_min:
        return []
    count = min(k, max(1, match.length - 1))
    return list(tokens[match.end : match.end + count])
