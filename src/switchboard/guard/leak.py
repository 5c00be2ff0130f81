"""System-prompt leakage: the answer repeats a run of the system prompt's words.

An injected "repeat the text above" makes a model recite its instructions; a run of
``min_words`` consecutive words shared with a system prompt is that, not chance (the
prompts' own phrases are long and specific). Checked on output only, as category
``injection``, type ``SYSTEM_PROMPT_LEAK``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from switchboard.guard.types import Category, Finding

MIN_WORDS = 8
_WORD = re.compile(r"[a-z0-9']+")


class LeakDetector:
    category = Category.INJECTION

    def __init__(self, system_prompts: Sequence[str], min_words: int = MIN_WORDS) -> None:
        self._n = min_words
        self._grams: set[tuple[str, ...]] = set()
        for prompt in system_prompts:
            words = _WORD.findall(prompt.lower())
            self._grams.update(_ngrams(words, min_words))

    def scan(self, text: str) -> list[Finding]:
        if not self._grams:
            return []
        matches = list(_WORD.finditer(text.lower()))
        words = [m.group() for m in matches]
        spans: list[tuple[int, int]] = []
        for i, gram in enumerate(_ngrams(words, self._n)):
            if gram not in self._grams:
                continue
            start, end = matches[i].start(), matches[i + self._n - 1].end()
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return [Finding(Category.INJECTION, "SYSTEM_PROMPT_LEAK", s, e, 1.0) for s, e in spans]


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
