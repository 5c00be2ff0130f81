"""What a chat request may ask for, checked before anything expensive runs (the input
guard, a provider), cheapest first:

    check_size      message count, then the characters of all messages together  (400)
    count_prompt    the prompt against the context window of a counted target (the local
                    engine): a sound lower bound first, the exact count of its chat
                    template and tokenizer when the bound fits           (400, as the engine)
    output_bounds   per target, the most output tokens it may produce: max_tokens as
                    asked; without it the rest of the target's context window when known
                    (nothing is sent: the server fills the window itself); else
                    ``reserve_max_tokens``, which is then sent as max_tokens so that the
                    reservation binds

The reservations (rate limit, budget) take the largest bound of the route's targets.
Tokens reserved without max_tokens are the window itself, whatever the prompt; the cost
splits it by the prompt's count (exact for the local engine, else the estimate, which
errs high).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from switchboard.config import LimitSettings, RouteTarget
from switchboard.errors import ContextLengthError, InvalidRequestError
from switchboard.gateway.messages import text_of
from switchboard.gateway.types import PromptCounter

Messages = Sequence[Mapping[str, Any]]


def requested_output_tokens(body: Mapping[str, Any]) -> int | None:
    """``max_completion_tokens`` or ``max_tokens`` as the client asked; ``None`` if neither."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_size(messages: Messages, limits: LimitSettings) -> None:
    """Refuse more messages, or more characters in them, than the limits allow."""
    if len(messages) > limits.max_messages:
        raise InvalidRequestError(
            f"{len(messages)} messages is over the limit of {limits.max_messages} per request.",
            param="messages",
        )
    chars = 0
    for message in messages:
        chars += len(text_of(message))
        if chars > limits.max_prompt_chars:
            raise InvalidRequestError(
                f"The messages are over the limit of {limits.max_prompt_chars} characters "
                "together.",
                param="messages",
            )


def count_prompt(
    messages: Messages,
    targets: Sequence[RouteTarget],
    counters: Mapping[str, PromptCounter],
    requested: int | None,
) -> int | None:
    """The prompt's exact token count when every target is counted and one of them can
    take it (the first such); ``None`` when a target is not counted (its server judges).
    Raises ``ContextLengthError`` (the first target's numbers) when none can take it."""
    counted = [c for t in targets if (c := counters.get(t.provider)) is not None]
    if not counted or len(counted) < len(targets):
        return None
    refusals: list[ContextLengthError] = []
    for counter in counted:
        limit = counter.max_model_len
        bound = counter.lower_bound(messages)
        by_bound = _over(bound, requested, limit)
        tokens = bound if by_bound else counter.count(messages)
        if not _over(tokens, requested, limit):
            return tokens
        refusals.append(
            ContextLengthError(
                requested=tokens + (requested or 1),
                limit=limit,
                prompt_tokens=tokens,
                at_least=by_bound,
            )
        )
    raise refusals[0]


def _over(prompt_tokens: int, requested: int | None, limit: int) -> bool:
    """As the engine judges: the prompt must leave room for one token, or for
    ``requested`` when given."""
    return prompt_tokens >= limit or (requested is not None and prompt_tokens + requested > limit)


def output_bounds(
    targets: Sequence[RouteTarget], prompt_tokens: int, requested: int | None, default: int
) -> list[int]:
    """For each target, the most output tokens it may produce for this request."""
    if requested is not None:
        return [requested for _ in targets]
    return [
        default if t.max_model_len is None else max(t.max_model_len - prompt_tokens, 0)
        for t in targets
    ]
