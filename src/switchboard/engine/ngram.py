"""Prompt-lookup drafts: guess a sequence's next tokens by finding its last few tokens
earlier in the sequence (prompt + output) and proposing what followed them there.

An answer grounded in retrieved passages copies long runs of them, so after a few copied
tokens the rest of the run is a good guess that costs no model call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def ngram_draft(tokens: Sequence[int], k: int, ngram_min: int, ngram_max: int) -> list[int]:
    """Up to ``k`` tokens that followed the latest earlier occurrence of the longest suffix
    of ``tokens`` (``ngram_max`` down to ``ngram_min`` tokens long); ``[]`` when none
    occurs earlier."""
    if k < 1 or len(tokens) <= ngram_min:
        return []
    history = np.asarray(tokens, dtype=np.int64)
    for n in range(min(ngram_max, len(tokens) - 1), ngram_min - 1, -1):
        start = _latest_match(history, n)
        if start is not None:
            return history[start + n : start + n + k].tolist()
    return []


def _latest_match(history: np.ndarray, n: int) -> int | None:
    """Start of the latest window of ``n`` tokens that equals the last ``n`` tokens and
    ends before the last token (so at least one token follows it)."""
    suffix = history[-n:]
    windows = sliding_window_view(history[:-1], n)
    hits = np.flatnonzero((windows == suffix).all(axis=1))
    return int(hits[-1]) if hits.size else None
