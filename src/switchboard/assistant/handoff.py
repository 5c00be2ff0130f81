"""A colleague, offered or handed the conversation, in the definition's words.

An offer is a ``handoff`` event the widget shows as a button (an assistant whose definition
says ``handoff = false`` offers none); a handoff creates a ticket (or reuses the session's
open one) and says its number. A message in a language the assistant does not answer gets
the offer in that language; writing on in it takes the offer up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.definition import AssistantDefinition
from switchboard.assistant.language import offered_language
from switchboard.assistant.turn import TurnState
from switchboard.assistant.types import (
    OUT_OF_SCOPE,
    Action,
    HandoffEvent,
    HandoffReason,
    Route,
    TurnEvent,
)
from switchboard.assistant.voice import Voice


class Handoffs:
    def __init__(
        self, definition: AssistantDefinition, conversations: ConversationStore, voice: Voice
    ) -> None:
        self.definition = definition
        self.conversations = conversations
        self.voice = voice

    def offer(
        self, state: TurnState, reason: HandoffReason, text: str | None = None
    ) -> tuple[HandoffEvent, ...]:
        """The offer of a colleague, if this assistant hands off at all."""
        if not self.definition.handoff:
            return ()
        state.handoff = reason
        return (HandoffEvent(reason, text or self.definition.replies.handoff_offer),)

    async def hand_off(
        self, state: TurnState, reason: HandoffReason = HandoffReason.CUSTOMER_REQUEST
    ) -> AsyncIterator[TurnEvent]:
        """A ticket for a colleague, and its number said."""
        ticket = await asyncio.to_thread(
            self.conversations.create_ticket,
            state.session_id,
            state.request.customer_id,
            reason,
            state.message,
            tenant=state.request.tenant,
        )
        state.handoff = reason
        text = self.definition.replies.ticket(ticket.id)
        async for event in self.voice.say(state, text):
            yield event
        yield HandoffEvent(reason, text, ticket.id)

    async def other_language(
        self, state: TurnState, language: str, order_ids: tuple[str, ...]
    ) -> AsyncIterator[TurnEvent]:
        """A message in another language, not routed: a colleague offered, in it; writing
        on in it after the offer takes the offer up (a ticket)."""
        state.route = Route(OUT_OF_SCOPE, 0.0, False, order_ids, action=Action.REFUSE)
        if offered_language(state.history):
            async for event in self.hand_off(state, HandoffReason.LANGUAGE):
                yield event
            return
        replies = self.definition.replies
        offer = replies.other_language[language]
        english = f"(I can only answer in English here. {replies.handoff_offer})"
        async for event in self.voice.say(state, f"{offer}\n\n{english}"):
            yield event
        for event in self.offer(state, HandoffReason.LANGUAGE, offer):
            yield event
