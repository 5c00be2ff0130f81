"""A write confirmed over a stateless request (the OpenAI route): the caller replays the
conversation, and a "yes" right after a proposal the assistant would make performs it,
re-checked, for the request's verified customer; anything else performs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.assistant.confirmation import DROPPED, asked_value
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.types import AnswerPath, ToolResultEvent, TurnEvent
from tests.unit import test_assistant_confirmation as confirmation
from tests.unit.assistant_rig import (
    ALICE,
    ALICE_OTHER_ORDER,
    BOB,
    BOB_ORDER,
    Rig,
    collect,
    done_of,
    only,
    route,
    text_of,
)
from tests.unit.demo_shop import Intent
from tests.unit.test_assistant_confirmation import PROPOSAL, FakeCancel

pytestmark = pytest.mark.unit

ASKED = f"please cancel {ALICE_OTHER_ORDER}"
History = tuple[tuple[str, str], ...]
cancel, tooled = confirmation.cancel, confirmation.tooled  # the shop's rig with a cancel tool


def proposed(order_id: str) -> str:
    """The proposal as the assistant says it: the order's status, then the question."""
    assert PROPOSAL is not None
    return f"Order {order_id} is processing.\n\n{PROPOSAL.say(PROPOSAL.ask, order_id)}"


def replay(rig: Rig, history: History, message: str, customer: str = ALICE) -> list[TurnEvent]:
    return collect(rig.orchestrator.turn(TurnRequest(customer, message, None, None, history)))


def test_a_stateless_request_gets_the_proposal(tooled: Rig, cancel: FakeCancel) -> None:
    tooled.router.queue.append(route(Intent.CANCELLATION))
    events = replay(tooled, (), ASKED)
    assert PROPOSAL is not None
    assert text_of(events).endswith(PROPOSAL.say(PROPOSAL.ask, ALICE_OTHER_ORDER))
    assert done_of(events).answer_path is AnswerPath.ACTION
    assert cancel.calls == []


def test_yes_after_a_replayed_proposal_performs_it(tooled: Rig, cancel: FakeCancel) -> None:
    events = replay(tooled, (("user", ASKED), ("assistant", proposed(ALICE_OTHER_ORDER))), "Yes!")
    assert cancel.calls == [({"order_id": ALICE_OTHER_ORDER}, ALICE, True)]
    [result] = only(events, ToolResultEvent)
    assert result.ok
    assert text_of(events) == f"Done: order {ALICE_OTHER_ORDER} is cancelled."
    assert done_of(events).answer_path is AnswerPath.ACTION


def test_the_proposal_as_the_route_returned_it_is_confirmed(
    tooled: Rig, cancel: FakeCancel
) -> None:
    """What the proposing turn answered, replayed as is, is what the next turn accepts."""
    tooled.router.queue.append(route(Intent.CANCELLATION))
    answer = text_of(replay(tooled, (), ASKED))
    replay(tooled, (("user", ASKED), ("assistant", answer)), "yes")
    assert cancel.calls == [({"order_id": ALICE_OTHER_ORDER}, ALICE, True)]


def test_no_after_a_replayed_proposal_changes_nothing(tooled: Rig, cancel: FakeCancel) -> None:
    events = replay(tooled, (("user", ASKED), ("assistant", proposed(ALICE_OTHER_ORDER))), "no")
    assert text_of(events) == DROPPED
    assert cancel.calls == []


@pytest.mark.parametrize(
    "history",
    [
        (),  # no proposal at all
        (("user", ASKED), ("assistant", "Sure, I can look into that.")),
        (("user", ASKED), ("assistant", proposed(ALICE_OTHER_ORDER) + " Or ask me anything.")),
        (("user", ASKED), ("assistant", proposed(ALICE_OTHER_ORDER)), ("user", "hmm")),
        (("user", "hello"), ("assistant", proposed(ALICE_OTHER_ORDER))),  # never asked for
        (("user", ASKED), ("assistant", proposed("LK-100301"))),  # another order than asked
    ],
    ids=["none", "no-proposal", "more-said", "not-last", "not-asked", "other-value"],
)
def test_yes_without_the_proposal_right_before_performs_nothing(
    tooled: Rig, cancel: FakeCancel, history: History
) -> None:
    events = replay(tooled, history, "yes")
    assert cancel.calls == []
    assert only(events, ToolResultEvent) == []


def test_the_write_is_for_the_requests_customer_never_the_conversations(
    tooled: Rig, cancel: FakeCancel
) -> None:
    """A history naming Bob's order, replayed for Alice: the call is Alice's (the Order
    API finds no such order of hers); the end user is never read from the messages."""
    asked = f"I am {BOB}, please cancel {BOB_ORDER}"
    replay(tooled, (("user", asked), ("assistant", proposed(BOB_ORDER))), "yes")
    assert cancel.calls == [({"order_id": BOB_ORDER}, ALICE, True)]


def test_an_assistant_without_the_write_tool_performs_nothing(tmp_path: Path) -> None:
    plain = Rig(tmp_path / "plain", tools={})
    try:
        events = replay(plain, (("user", ASKED), ("assistant", proposed(ALICE_OTHER_ORDER))), "yes")
        assert only(events, ToolResultEvent) == []
    finally:
        plain.store.close()


def test_a_value_named_twice_in_the_proposal_must_be_the_same_twice() -> None:
    assert PROPOSAL is not None
    twice = PROPOSAL.model_copy(
        update={"ask": "Cancel {order_id}? Reply yes to cancel {order_id}."}
    )
    assert asked_value(twice, "Cancel LK-1? Reply yes to cancel LK-1.") == "LK-1"
    assert asked_value(twice, "Cancel LK-1? Reply yes to cancel LK-2.") is None
    assert asked_value(PROPOSAL, PROPOSAL.say(PROPOSAL.ask, "LK-1 or LK-2")) is None
