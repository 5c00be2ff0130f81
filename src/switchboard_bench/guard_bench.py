"""``switchboard bench guard``: what each detector gets right, and what the guardrails
cost per turn.

Quality comes from each detector's own labelled evaluation (``pii_eval``,
``injection_eval``, ``toxicity_eval``), and, reported apart, from the hand-written dev
and blind test splits (``guard_splits``). Latency is measured here, through the same
``Guard`` the server builds from the settings:

- input: ``Guard.scan`` of every golden-set customer message (all detectors the policy
  checks, then the policy), and each detector alone;
- output: answer-like texts (paragraphs of the shop's help articles: numbers, names of
  places, URLs) streamed through the ``StreamModerator`` as word-sized tokens arriving at
  ``tokens_per_s``. Each token's check runs for real and is timed; a simulated clock
  places the releases (a token is released no earlier than it arrived and than the
  previous check finished), so the added TTFT is exactly: first text released minus
  first token arrived, hold-back and checking included.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np
from rich.progress import Progress

from switchboard.config import GuardSettings
from switchboard.guard.scanner import Guard
from switchboard.guard.stream import StreamModerator
from switchboard.guard.types import Direction
from switchboard_bench import guard_splits, injection_eval, pii_eval, toxicity_eval
from switchboard_bench.stats import percentiles_ms

DECODE_TOK_S = 86.0  # SmolLM2-135M Q8_0, one stream, on this machine (ARCHITECTURE.md)
_TOKEN = re.compile(r"\s*\S+")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def golden_messages() -> list[str]:
    text = resources.files("switchboard.demo").joinpath("golden.jsonl").read_text()
    return [json.loads(line)["message"] for line in text.splitlines() if line.strip()]


def answer_texts(limit: int = 80) -> list[str]:
    """Paragraphs of the help articles, 120 to 500 characters: what grounded answers look
    like (they restate the articles)."""
    shop = resources.files("switchboard.demo").joinpath("shop")
    out: list[str] = []
    for article in sorted(shop.iterdir(), key=lambda p: p.name):
        if not article.name.endswith(".md"):
            continue
        body = _FRONT_MATTER.sub("", article.read_text())
        for paragraph in body.split("\n\n"):
            paragraph = " ".join(line.lstrip("#-0123456789. ") for line in paragraph.splitlines())
            if 120 <= len(paragraph) <= 500:
                out.append(paragraph.strip())
    return out[:limit]


def _ms(samples: Sequence[float]) -> dict[str, float]:
    return percentiles_ms(samples, 50, 95, 100)


def input_latency(
    guard: Guard, messages: Sequence[str], advance: Callable[[], None]
) -> dict[str, Any]:
    total: list[float] = []
    per_detector: dict[str, list[float]] = {}
    for message in messages:
        begin = time.perf_counter()
        guard.scan(message, Direction.INPUT)
        total.append(time.perf_counter() - begin)
        for category, detectors in guard.detectors(Direction.INPUT).items():
            for detector in detectors:
                begin = time.perf_counter()
                detector.scan(message)
                per_detector.setdefault(category.value, []).append(time.perf_counter() - begin)
        advance()
    return {
        "messages": len(messages),
        "turn": _ms(total),
        "per_detector": {name: _ms(samples) for name, samples in per_detector.items()},
    }


def output_latency(
    guard: Guard,
    answers: Sequence[str],
    tokens_per_s: float,
    advance: Callable[[], None],
    *,
    exempt_sources: bool = True,
) -> dict[str, Any]:
    """``exempt_sources``: PII found in the answer's source (here, the answer itself) is
    not a leak, as in the assistant, where the retrieved articles are exempt; without it
    every name, town and phone number of the articles counts as a leak."""
    added_ttft: list[float] = []
    end_lag: list[float] = []
    check_time: list[float] = []
    held: list[int] = []
    unchanged = 0
    for answer in answers:
        source = answer if exempt_sources else ""
        moderator = StreamModerator(guard, allowed=source.__contains__)
        tokens = _TOKEN.findall(answer)
        clock = 0.0  # when the checks caught up
        first_out: float | None = None
        out: list[str] = []
        for i, token in enumerate(tokens):
            arrived = i / tokens_per_s
            begin = time.perf_counter()
            released = moderator.feed(token)
            spent = time.perf_counter() - begin
            check_time.append(spent)
            clock = max(clock, arrived) + spent
            held.append(len(moderator.pending))
            if released:
                out.append(released)
                if first_out is None:
                    first_out = clock
        begin = time.perf_counter()
        tail = moderator.end()
        clock += time.perf_counter() - begin
        out.append(tail)
        if first_out is None:
            first_out = clock
        added_ttft.append(first_out)  # the first token arrived at 0
        end_lag.append(clock - (len(tokens) - 1) / tokens_per_s)
        unchanged += "".join(out) == answer
        advance()
    return {
        "answers": len(answers),
        "tokens_per_s": tokens_per_s,
        "added_ttft": _ms(added_ttft),
        "added_at_end": _ms(end_lag),
        "check_per_token": _ms(check_time),
        "held_chars_p50": float(np.percentile(held, 50)),
        "held_chars_max": int(max(held)),
        "holdback_chars": guard.holdback_chars,
        "answers_passed_unchanged": unchanged,
    }


def run(
    settings: GuardSettings,
    system_prompts: Sequence[str],
    *,
    tokens_per_s: float = DECODE_TOK_S,
    progress: bool = True,
) -> dict[str, Any]:
    from switchboard.config import OrdersSettings
    from switchboard.guard.factory import open_guard
    from switchboard.order_ids import OrderIdFormat

    demo_ids = OrderIdFormat.from_settings(OrdersSettings())  # the demo shop's, as served
    guard = open_guard(
        settings.model_copy(update={"enabled": True}), system_prompts, (demo_ids.pattern,)
    )
    assert guard is not None
    messages = golden_messages()
    answers = answer_texts()
    quality = {
        "pii": pii_eval.run(settings.pii, progress=progress),
        "injection": injection_eval.run(settings.injection, progress=progress),
        "toxicity": toxicity_eval.run(settings.toxicity, progress=progress),
    }
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("input guard latency", total=len(messages))
        guard.scan(messages[0], Direction.INPUT)  # models loaded before timing
        inputs = input_latency(guard, messages, lambda: bar.advance(task))
        task = bar.add_task("output guard latency", total=len(answers))
        outputs = output_latency(guard, answers, tokens_per_s, lambda: bar.advance(task))
        task = bar.add_task("output guard, sources not exempt", total=len(answers))
        strict = output_latency(
            guard, answers, tokens_per_s, lambda: bar.advance(task), exempt_sources=False
        )
    outputs["answers_changed_if_sources_not_exempt"] = (
        len(answers) - strict["answers_passed_unchanged"]
    )
    return {
        "settings": settings.model_dump(mode="json"),
        "quality": quality,
        "splits": guard_splits.run(settings, progress=progress),
        "latency": {"input": inputs, "output": outputs},
    }
