"""Incremental detokenization and stop strings.

Token pieces are raw bytes (byte-level BPE splits multi-byte characters across tokens);
an incremental UTF-8 decoder holds back an incomplete character until its last byte
arrives, so no broken UTF-8 is ever emitted. Text that might be the start of a stop
string is held back too, and a completed stop string is cut off, never streamed.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class IncrementalDetokenizer:
    def __init__(self, token_bytes: Callable[[int], bytes], stop: Sequence[str] = ()) -> None:
        self._token_bytes = token_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = tuple(stop)
        self._pending = ""
        self.text = ""
        self.stopped_on: str | None = None

    def add(self, token_id: int) -> str:
        """Feed one token; return the text that is now safe to emit."""
        if self.stopped_on is not None:
            return ""
        self._pending += self._decoder.decode(self._token_bytes(token_id))
        return self._release(final=False)

    def flush(self) -> str:
        """The request finished: emit whatever is still held back."""
        if self.stopped_on is not None:
            return ""
        self._pending += self._decoder.decode(b"", final=True)
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        hits = [(i, stop) for stop in self._stop if (i := self._pending.find(stop)) >= 0]
        if hits:
            index, self.stopped_on = min(hits)
            return self._emit(self._pending[:index])
        keep = 0 if final else _held_back(self._pending, self._stop)
        split = len(self._pending) - keep
        ready, self._pending = self._pending[:split], self._pending[split:]
        return self._emit(ready)

    def _emit(self, text: str) -> str:
        self.text += text
        return text
