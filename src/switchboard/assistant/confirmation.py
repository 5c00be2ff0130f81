"""Write tools behind a confirmation turn: proposed in one turn, performed on the next.

    "cancel LK-123456"  → the order's status, then the proposal (``WriteProposal.ask``);
                          the session remembers the pending action
    "yes" (next turn)   → the write tool is called, confirmed, for the session's customer;
                          its outcome said (``done``, or ``failed`` with the API's reason)
    "no"                → nothing is changed, and the assistant says so
    anything else       → the pending action is dropped, the message answered as usual

A pending action is taken from the session by the turn after the proposal, whatever that
turn makes of it, so a write is performed at most once, and only for the customer whose
session proposed it. The end user is the verified customer, never a tool argument.

A stateless request (the OpenAI route: the caller replays the conversation, each call a
new session) has no pending action stored; its pending action is the replayed one
(``replayed``): the last message before the new one is the assistant's, and its last
paragraph is exactly a proposal of this definition (``ask`` rendered for a value) for a
value the user named earlier in the conversation, of a tool the assistant has (the
definition's load checked it is a write tool). It is then settled as a stored one is.
"""

from __future__ import annotations

import asyncio
import re

from switchboard.assistant.conversation_records import PendingAction
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.definition import AssistantDefinition
from switchboard.assistant.definition_parts import WriteProposal
from switchboard.assistant.lookup import Tools
from switchboard.assistant.turn import TurnState
from switchboard.assistant.types import Route, ToolResultEvent
from switchboard.tools import ToolFailure, ToolOutcome

CONFIRMATIONS = frozenset(
    {
        "yes",
        "yes please",
        "yes confirm",
        "confirm",
        "confirmed",
        "go ahead",
        "yes go ahead",
        "please go ahead",
        "yes do it",
        "do it",
        "please do",
        "yes please do",
    }
)
DECLINES = frozenset({"no", "no thanks", "no thank you", "nope", "don't", "do not", "never mind"})
DROPPED = "Alright, I haven't changed anything."
_REASONS = {
    ToolFailure.UNAVAILABLE: "our system did not answer, so I can't tell whether it was done. "
    "A colleague can check it for you",
    ToolFailure.NO_END_USER: "I don't know whose account this is",
}
_OTHER_REASON = "something went wrong on our side, and nothing was changed"


def _words(message: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]+", " ", message.lower()).split())


def confirms(message: str) -> bool:
    """Whether the message is a plain "yes" (a few fixed phrasings, nothing more)."""
    return _words(message) in CONFIRMATIONS


def declines(message: str) -> bool:
    return _words(message) in DECLINES


async def perform(
    tools: Tools, action: PendingAction, proposal: WriteProposal
) -> tuple[str, ToolResultEvent]:
    """Call the confirmed write tool for the action's customer: what to say, and the event."""
    outcome = await tools[action.tool].call(
        action.arguments, end_user=action.customer_id, confirmed=True
    )
    value = str(action.arguments.get(proposal.argument, ""))
    event = ToolResultEvent(
        tool=action.tool,
        arguments=dict(action.arguments),
        ok=outcome.ok,
        data=outcome.data if outcome.ok else None,
        error=None if outcome.ok or outcome.failure is None else outcome.failure.value,
    )
    if outcome.ok:
        return proposal.say(proposal.done, value), event
    return proposal.say(proposal.failed, value, reason(outcome)), event


def asked_value(proposal: WriteProposal, text: str) -> str | None:
    """The value ``text`` proposes the write for, if ``text`` is exactly its ``ask``."""
    slot = "{" + proposal.argument + "}"
    before, *rest = proposal.ask.split(slot)
    pattern = re.escape(before) + r"(\S+?)" + r"\1".join(re.escape(part) for part in rest)
    found = re.fullmatch(pattern, text)
    return found.group(1) if found else None


def names(message: str, value: str) -> bool:
    """Whether ``message`` names ``value`` as a word of its own (any case)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", message, re.IGNORECASE) is not None


def reason(outcome: ToolOutcome) -> str:
    """Why the call failed, plainly: the API's own message when it refused (a 409's
    "... is shipped and can no longer be cancelled")."""
    if outcome.failure is ToolFailure.REFUSED and outcome.status is not None:
        said = (outcome.error or "").partition(f"HTTP {outcome.status}: ")[2].strip()
        if said:
            return said if said.endswith(".") else said + "."
    text = _REASONS.get(outcome.failure, _OTHER_REASON) if outcome.failure else _OTHER_REASON
    return text + "."


class WriteActions:
    """The proposals of a definition's write tools, kept in the session between the turn
    that proposes and the turn that answers."""

    def __init__(
        self, definition: AssistantDefinition, tools: Tools, conversations: ConversationStore
    ) -> None:
        self.definition = definition
        self.tools = tools
        self.conversations = conversations

    async def take(self, state: TurnState) -> PendingAction | None:
        """The write proposed last turn: this turn confirms it, or it is dropped."""
        request = state.request
        if request.history is not None:
            return self.replayed(state)
        return await asyncio.to_thread(
            self.conversations.take_pending,
            state.session_id,
            request.customer_id,
            tenant=request.tenant,
        )

    def replayed(self, state: TurnState) -> PendingAction | None:
        """The write a replayed conversation's last message proposes, for this request's
        customer (never one the messages name); None unless it passes the checks above."""
        history = state.history
        if not history or history[-1].role != "assistant":
            return None
        said = history[-1].content.rsplit("\n\n", 1)[-1].strip()
        asked = [m.content for m in history[:-1] if m.role == "user"]
        for intent in self.definition.intents:
            proposal = intent.proposes
            if proposal is None or proposal.tool not in self.tools:
                continue
            value = asked_value(proposal, said)
            if value is not None and any(names(message, value) for message in asked):
                arguments = {proposal.argument: value}
                return PendingAction(
                    state.request.customer_id, intent.name, proposal.tool, arguments
                )
        return None

    def proposal(self, state: TurnState) -> WriteProposal | None:
        """The write the message's intent proposes for the one order it names and the
        lookup found."""
        route, lookup = state.route, state.lookup
        if route is None:
            return None
        if not route.confident or len(route.order_ids) != 1 or lookup is None:
            return None
        if lookup.unavailable or any(event.data is None for event in lookup.events):
            return None
        return self.definition.proposal(route.intent)

    async def propose(self, state: TurnState, proposal: WriteProposal) -> str:
        """Remember the write for the customer's confirmation; what to ask them."""
        assert state.route is not None
        value = state.route.order_ids[0]
        request = state.request
        action = PendingAction(
            request.customer_id, state.route.intent, proposal.tool, {proposal.argument: value}
        )
        await asyncio.to_thread(
            self.conversations.propose, state.session_id, action, tenant=request.tenant
        )
        state.acted = True
        return proposal.say(proposal.ask, value)

    async def settle(
        self, state: TurnState, action: PendingAction
    ) -> tuple[str, ToolResultEvent | None]:
        """On "yes" the write, confirmed: what to say and its result; otherwise nothing."""
        state.route = Route(action.intent, 1.0, True)
        state.acted = True
        proposal = self.definition.proposal(action.intent)
        if proposal is None or not confirms(state.message):
            return DROPPED, None
        return await perform(self.tools, action, proposal)
