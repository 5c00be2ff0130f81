"""Sampling parameters of one request, validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.errors import InvalidRequestError


def _check(ok: bool, param: str, message: str) -> None:
    if not ok:
        raise InvalidRequestError(message, param=param)


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token and when to stop.

    ``temperature == 0`` means greedy. ``max_tokens=None`` fills the context window.
    ``repetition_penalty`` follows llama.cpp/CTRL (divides positive logits over prompt and
    output); ``presence_penalty``/``frequency_penalty`` follow OpenAI (output tokens only).
    """

    max_tokens: int | None = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        _check(
            self.max_tokens is None or self.max_tokens >= 1,
            "max_tokens",
            "max_tokens must be at least 1",
        )
        _check(0.0 <= self.temperature <= 2.0, "temperature", "temperature must be in [0, 2]")
        _check(0.0 < self.top_p <= 1.0, "top_p", "top_p must be in (0, 1]")
        _check(self.top_k >= 0, "top_k", "top_k must be >= 0 (0 disables it)")
        _check(0.0 <= self.min_p <= 1.0, "min_p", "min_p must be in [0, 1]")
        _check(
            0.0 < self.repetition_penalty <= 10.0,
            "repetition_penalty",
            "repetition_penalty must be in (0, 10]",
        )
        _check(
            -2.0 <= self.presence_penalty <= 2.0,
            "presence_penalty",
            "presence_penalty must be in [-2, 2]",
        )
        _check(
            -2.0 <= self.frequency_penalty <= 2.0,
            "frequency_penalty",
            "frequency_penalty must be in [-2, 2]",
        )
        _check(self.seed is None or 0 <= self.seed < 2**63, "seed", "seed must be in [0, 2**63)")
        _check(len(self.stop) <= 4, "stop", "at most 4 stop sequences are allowed")
        _check(all(self.stop), "stop", "stop sequences must be non-empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def penalized(self) -> bool:
        return (
            self.repetition_penalty != 1.0
            or self.presence_penalty != 0.0
            or self.frequency_penalty != 0.0
        )
