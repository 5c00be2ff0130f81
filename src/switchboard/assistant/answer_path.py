"""The path a turn's answer took, and the intent it reports, for its ``done`` event, its
record and the metrics."""

from __future__ import annotations

from switchboard.assistant.turn import TurnState
from switchboard.assistant.types import (
    QUESTION,
    SMALL_TALK,
    Action,
    AnswerPath,
    HandoffReason,
    Intent,
)

FROM_DOCUMENTS = frozenset(
    {AnswerPath.GENERATED, AnswerPath.REPAIRED, AnswerPath.QUOTED, AnswerPath.NOT_SURE}
)
"""The paths of a question for the documents: answered from them, or found in none."""


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
        return AnswerPath.LOOKUP
    if state.route is not None and state.route.action is Action.REFUSE:
        return AnswerPath.REFUSAL
    return AnswerPath.NOT_SURE


def reported_intent(state: TurnState, path: AnswerPath) -> Intent:
    """The route's intent, unless the route was not trusted and the turn treated the
    message as a question for the documents (they answered it, or none did): then
    ``QUESTION``. An untrusted route whose intent picked the reply (small talk, a refusal,
    a ticket) keeps its name."""
    route = state.route
    if route is None:
        return SMALL_TALK
    from_documents = path in FROM_DOCUMENTS and state.relevance is not None
    if path is AnswerPath.GENERATED and not state.sources:
        from_documents = False  # a small-talk reply
    if route.confident or not from_documents or state.tool_results:
        return route.intent
    return QUESTION
