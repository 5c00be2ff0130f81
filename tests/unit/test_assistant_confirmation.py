"""A write tool behind a confirmation turn: proposed when a cancellation names an order,
performed only by the same session's next "yes", once, for its own customer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from switchboard.assistant.confirmation import DROPPED, confirms, declines, reason
from switchboard.assistant.conversation_records import PendingAction
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.types import AnswerPath, ToolResultEvent
from switchboard.errors import SessionNotFoundError
from switchboard.tools import ToolFailure, ToolOutcome
from tests.unit.assistant_rig import (
    ALICE,
    ALICE_ORDER,
    ALICE_OTHER_ORDER,
    BOB,
    Rig,
    done_of,
    only,
    route,
    text_of,
)
from tests.unit.demo_shop import SHOP, Intent

pytestmark = pytest.mark.unit

SHIPPED = "The order '{}' is shipped and can no longer be cancelled."
PROPOSAL = SHOP.proposal(Intent.CANCELLATION)


class FakeCancel:
    """The Order API's cancel as a tool: a write refused unless confirmed; ``shipped``
    orders get the API's 409. Records every call."""

    def __init__(self, shipped: set[str]) -> None:
        self.shipped = shipped
        self.calls: list[tuple[dict[str, Any], str | None, bool]] = []

    async def call(
        self, arguments: Mapping[str, Any] | str, *, end_user: str | None, confirmed: bool = False
    ) -> ToolOutcome:
        assert isinstance(arguments, Mapping)
        self.calls.append((dict(arguments), end_user, confirmed))
        order_id = arguments["order_id"]
        if not confirmed:
            return ToolOutcome(ok=False, failure=ToolFailure.NEEDS_CONFIRMATION)
        if order_id in self.shipped:
            error = f"cancel_order: HTTP 409: {SHIPPED.format(order_id)}"
            return ToolOutcome(ok=False, status=409, error=error, failure=ToolFailure.REFUSED)
        return ToolOutcome(ok=True, status=200, data={"order_id": order_id, "status": "cancelled"})


@pytest.fixture
def cancel() -> FakeCancel:
    return FakeCancel(shipped={ALICE_ORDER})


@pytest.fixture
def tooled(tmp_path: Path, cancel: FakeCancel) -> Iterator[Rig]:
    rig = Rig(tmp_path, tools={"cancel_order": cancel})
    try:
        yield rig
    finally:
        rig.store.close()


def propose(rig: Rig, order_id: str, customer: str = ALICE) -> str:
    """Ask to cancel ``order_id``; the session the proposal was made in."""
    rig.router.queue.append(route(Intent.CANCELLATION))
    events = rig.turn(f"please cancel {order_id}", customer=customer)
    assert PROPOSAL is not None
    assert PROPOSAL.say(PROPOSAL.ask, order_id) in text_of(events)
    done = done_of(events)
    assert done.answer_path is AnswerPath.ACTION
    return done.session_id


def test_the_shop_declares_the_cancel_proposal() -> None:
    assert PROPOSAL is not None
    assert PROPOSAL.tool == "cancel_order"
    assert SHOP.tools is not None
    assert [s.name for s in SHOP.tool_specs("http://127.0.0.1:1") if s.write] == ["cancel_order"]


def test_yes_performs_the_proposed_write_once(tooled: Rig, cancel: FakeCancel) -> None:
    session = propose(tooled, ALICE_OTHER_ORDER)
    assert cancel.calls == []  # proposing sends nothing

    events = tooled.turn("Yes please!", session=session)
    assert cancel.calls == [({"order_id": ALICE_OTHER_ORDER}, ALICE, True)]
    [result] = only(events, ToolResultEvent)
    assert result.tool == "cancel_order"
    assert result.ok
    assert result.data["status"] == "cancelled"
    assert text_of(events) == f"Done: order {ALICE_OTHER_ORDER} is cancelled."
    assert done_of(events).answer_path is AnswerPath.ACTION

    again = tooled.turn("yes", session=session)  # no pending action left: just a message
    assert len(cancel.calls) == 1
    assert only(again, ToolResultEvent) == []


def test_a_shipped_order_gets_the_apis_reason(tooled: Rig, cancel: FakeCancel) -> None:
    session = propose(tooled, ALICE_ORDER)
    events = tooled.turn("confirm", session=session)
    [result] = only(events, ToolResultEvent)
    assert not result.ok
    assert result.error == "refused"
    assert text_of(events) == (
        f"I couldn't cancel order {ALICE_ORDER}: {SHIPPED.format(ALICE_ORDER)}"
    )


def test_no_drops_it(tooled: Rig, cancel: FakeCancel) -> None:
    session = propose(tooled, ALICE_OTHER_ORDER)
    events = tooled.turn("no thanks", session=session)
    assert text_of(events) == DROPPED
    assert done_of(events).answer_path is AnswerPath.ACTION
    tooled.turn("yes", session=session)
    assert cancel.calls == []


def test_another_message_drops_it(tooled: Rig, cancel: FakeCancel) -> None:
    session = propose(tooled, ALICE_OTHER_ORDER)
    events = tooled.turn("How long do I have to return an item?", session=session)
    assert "30 days" in text_of(events)  # answered as usual
    tooled.turn("yes", session=session)
    assert cancel.calls == []


def test_yes_without_a_proposal_is_just_a_message(tooled: Rig, cancel: FakeCancel) -> None:
    events = tooled.turn("yes")
    assert cancel.calls == []
    assert only(events, ToolResultEvent) == []
    assert done_of(events).answer_path is not AnswerPath.ACTION


def test_another_session_or_customer_cannot_confirm(tooled: Rig, cancel: FakeCancel) -> None:
    session = propose(tooled, ALICE_OTHER_ORDER)
    tooled.turn("yes")  # Alice, but a new session
    assert cancel.calls == []
    assert tooled.store.take_pending(session, BOB) is None  # Bob cannot take Alice's action
    tooled.turn("yes", session=session)  # still pending in Alice's own session
    assert cancel.calls == [({"order_id": ALICE_OTHER_ORDER}, ALICE, True)]


def test_a_question_without_an_order_number_gets_the_policy(
    tooled: Rig, cancel: FakeCancel
) -> None:
    tooled.router.queue.append(route(Intent.CANCELLATION))
    events = tooled.turn("How do I cancel an order?")
    assert PROPOSAL is not None
    assert "Shall I go ahead" not in text_of(events)
    assert done_of(events).answer_path is not AnswerPath.ACTION
    tooled.turn("yes", session=done_of(events).session_id)
    assert cancel.calls == []


def test_an_unknown_order_is_not_proposed(tooled: Rig, cancel: FakeCancel) -> None:
    tooled.router.queue.append(route(Intent.CANCELLATION))
    events = tooled.turn("cancel LK-999999")
    assert "couldn't find order LK-999999" in text_of(events)
    assert "Shall I go ahead" not in text_of(events)
    tooled.turn("yes", session=done_of(events).session_id)
    assert cancel.calls == []


def test_without_tools_nothing_is_proposed(tooled: Rig, tmp_path: Path) -> None:
    plain = Rig(tmp_path / "plain", offer_tools=False)
    try:
        plain.router.queue.append(route(Intent.CANCELLATION))
        events = plain.turn(f"cancel {ALICE_OTHER_ORDER}")
        assert "Shall I go ahead" not in text_of(events)
    finally:
        plain.store.close()


@pytest.mark.parametrize("text", ["yes", "Yes.", "yes please", "CONFIRM", " go ahead! "])
def test_confirmations(text: str) -> None:
    assert confirms(text)
    assert not declines(text)


@pytest.mark.parametrize("text", ["yes but change the address", "yesterday", "sure?", "no"])
def test_not_confirmations(text: str) -> None:
    assert not confirms(text)


def test_an_unavailable_api_is_said_plainly() -> None:
    outcome = ToolOutcome(ok=False, error="x: unavailable", failure=ToolFailure.UNAVAILABLE)
    assert "can't tell whether it was done" in reason(outcome)


def test_the_store_hands_a_pending_action_out_once(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    try:
        session = store.create_session(ALICE).id
        action = PendingAction(ALICE, "cancellation", "cancel_order", {"order_id": "LK-1"})
        with pytest.raises(SessionNotFoundError):  # not Bob's session to propose in
            store.propose(session, PendingAction(BOB, "cancellation", "cancel_order", {}))
        store.propose(session, action)
        assert store.take_pending(session, ALICE, tenant="other") is None
        assert store.take_pending(session, ALICE) == action
        assert store.take_pending(session, ALICE) is None
    finally:
        store.close()
