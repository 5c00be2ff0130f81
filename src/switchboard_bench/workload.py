"""Synthetic serving workload shared by the benchmarks: N prompts of exactly P tokens,
each with a distinct beginning so no engine can reuse another prompt's KV cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_WORDS = [
    "order",
    "parcel",
    "refund",
    "delivery",
    "warehouse",
    "customer",
    "invoice",
    "courier",
    "address",
    "payment",
    "return",
    "exchange",
    "warranty",
    "shipping",
    "tracking",
    "carrier",
    "package",
    "receipt",
    "account",
    "discount",
    "coupon",
    "subscription",
    "support",
    "ticket",
    "agent",
    "policy",
    "region",
    "express",
    "standard",
    "weekend",
    "holiday",
    "customs",
    "duty",
    "label",
    "damaged",
    "missing",
    "delayed",
    "replacement",
    "credit",
    "card",
    "balance",
]


@dataclass(frozen=True)
class Workload:
    prompts: tuple[tuple[int, ...], ...]
    output_tokens: int

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompts[0]) if self.prompts else 0


def _text(rng: np.random.Generator, index: int, n_words: int) -> str:
    words = rng.choice(_WORDS, size=n_words)
    return f"Ticket {index}: " + " ".join(str(w) for w in words) + "."


def make_workload(
    tokenize: Callable[[str], list[int]],
    n_requests: int,
    prompt_tokens: int,
    output_tokens: int,
    seed: int = 0,
) -> Workload:
    rng = np.random.default_rng(seed)
    prompts = []
    for i in range(n_requests):
        ids = tokenize(_text(rng, i, prompt_tokens * 2))
        if len(ids) < prompt_tokens:
            raise ValueError("generated prompt is shorter than requested")
        prompts.append(tuple(ids[:prompt_tokens]))
    return Workload(tuple(prompts), output_tokens)
