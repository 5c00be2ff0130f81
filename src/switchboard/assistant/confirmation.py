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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from switchboard.assistant.conversations import PendingAction
from switchboard.assistant.definition import WriteProposal
from switchboard.assistant.types import ToolResultEvent
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


class Tool(Protocol):
    async def call(
        self, arguments: Mapping[str, Any] | str, *, end_user: str | None, confirmed: bool = False
    ) -> ToolOutcome: ...


class Tools(Protocol):
    """What the assistant needs of ``ToolRegistry``: its tools by name."""

    def __getitem__(self, name: str) -> Tool: ...

    def __contains__(self, name: object) -> bool: ...


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


def reason(outcome: ToolOutcome) -> str:
    """Why the call failed, plainly: the API's own message when it refused (a 409's
    "... is shipped and can no longer be cancelled")."""
    if outcome.failure is ToolFailure.REFUSED and outcome.status is not None:
        said = (outcome.error or "").partition(f"HTTP {outcome.status}: ")[2].strip()
        if said:
            return said if said.endswith(".") else said + "."
    text = _REASONS.get(outcome.failure, _OTHER_REASON) if outcome.failure else _OTHER_REASON
    return text + "."
