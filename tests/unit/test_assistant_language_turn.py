"""A turn in another language through ``Orchestrator.turn()`` with the fakes of
``assistant_rig``: a colleague offered in that language instead of a refusal."""

from __future__ import annotations

import pytest

from switchboard.assistant.types import AnswerPath, HandoffEvent, HandoffReason
from tests.unit import assistant_rig
from tests.unit.assistant_rig import ALICE, Rig, done_of, kinds, only, route, text_of
from tests.unit.demo_shop import OTHER_LANGUAGE, OUT_OF_SCOPE, Intent

pytestmark = pytest.mark.unit
rig = assistant_rig.rig  # the fixture

GERMAN = "Hallo, kann ich die Jacke noch zurückschicken? Ich habe sie erst seit einer Woche."
FRENCH = "Bonjour, combien de jours pour la livraison en France ?"


def test_a_german_message_gets_the_offer_in_german_not_a_refusal(rig: Rig) -> None:
    rig.router.default = route(Intent.OUT_OF_SCOPE)  # what an English router makes of it

    events = rig.turn(GERMAN)

    assert kinds(events) == ["token", "handoff", "done"]
    assert text_of(events).startswith(OTHER_LANGUAGE["de"])
    assert OUT_OF_SCOPE not in text_of(events)
    [handoff] = only(events, HandoffEvent)
    assert handoff.reason is HandoffReason.LANGUAGE
    assert handoff.message == OTHER_LANGUAGE["de"]
    assert handoff.ticket_id is None  # offered, not a ticket
    assert done_of(events).answer_path is AnswerPath.LANGUAGE


def test_another_language_is_neither_routed_nor_searched_nor_generated(rig: Rig) -> None:
    events = rig.turn(FRENCH)

    assert text_of(events).startswith(OTHER_LANGUAGE["fr"])
    assert rig.router.seen == []
    assert rig.searcher.queries == []
    assert rig.model.calls == []
    assert rig.orders.calls == []


def test_the_offer_is_recorded_with_its_reason(rig: Rig) -> None:
    events = rig.turn(GERMAN)

    stored = rig.store.history(done_of(events).session_id, 10)[-1]
    assert stored.content.startswith(OTHER_LANGUAGE["de"])
    assert stored.assistant is not None
    assert stored.assistant.handoff_reason is HandoffReason.LANGUAGE
    assert stored.assistant.answer_path is AnswerPath.LANGUAGE


def test_an_english_message_with_a_foreign_greeting_is_answered(rig: Rig) -> None:
    events = rig.turn("Bonjour! How long do I have to return a jacket?")

    assert only(events, HandoffEvent) == []
    assert rig.router.seen != []
    assert done_of(events).intent == Intent.RETURNS_REFUNDS


def test_with_the_check_off_every_message_is_routed(rig: Rig) -> None:
    rig.orchestrator.settings = rig.settings.model_copy(update={"language_handoff": False})
    rig.router.default = route(Intent.OUT_OF_SCOPE)

    events = rig.turn(GERMAN)

    assert text_of(events) == OUT_OF_SCOPE
    assert rig.router.seen == [GERMAN]


def test_writing_on_in_the_language_after_the_offer_creates_a_ticket(rig: Rig) -> None:
    first = rig.turn(GERMAN)
    session = done_of(first).session_id

    events = rig.turn("Ja, bitte verbinden Sie mich mit einem Kollegen.", session=session)

    [handoff] = only(events, HandoffEvent)
    assert handoff.ticket_id is not None
    assert handoff.reason is HandoffReason.LANGUAGE
    [ticket] = rig.store.tickets(ALICE)
    assert ticket.reason is HandoffReason.LANGUAGE
    assert rig.router.seen == []


def test_an_english_reply_after_the_offer_is_answered_as_usual(rig: Rig) -> None:
    session = done_of(rig.turn(GERMAN)).session_id

    events = rig.turn("Sorry, in English then: how long do I have to return it?", session=session)

    assert only(events, HandoffEvent) == []
    assert rig.store.tickets(ALICE) == []
