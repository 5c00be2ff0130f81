"""The path a turn's answer took, for its ``done`` event, its record and the metrics."""

from __future__ import annotations

from switchboard.assistant.turn import TurnState
from switchboard.assistant.types import Action, AnswerPath, HandoffReason


def answer_path(state: TurnState) -> AnswerPath:
    """How the turn was answered: a hook's reply (the cache, a blocked message), the
    model's answer as the grounding check left it, or a reply that needs no model."""
    if state.reply_source is not None:
        return AnswerPath.BLOCKED if state.reply_source == "guard" else AnswerPath.CACHE
    if state.cut_off:
        return AnswerPath.BLOCKED
    if "model" in state.timings_ms or state.grounding is not None:
        return state.grounding or AnswerPath.GENERATED
    if state.handoff is HandoffReason.CUSTOMER_REQUEST:
        return AnswerPath.HANDOFF
    if state.handoff is HandoffReason.LANGUAGE:
        return AnswerPath.LANGUAGE
    if state.acted:
        return AnswerPath.ACTION
    if state.tool_results:
        return AnswerPath.ORDER_STATUS
    if state.route is not None and state.route.action is Action.REFUSE:
        return AnswerPath.REFUSAL
    return AnswerPath.NOT_SURE
