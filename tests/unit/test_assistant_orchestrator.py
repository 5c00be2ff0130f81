"""One chat turn through ``Orchestrator.turn()`` with the fakes of ``assistant_rig``:
grounded answers, small talk, refusals and human handoff."""

from __future__ import annotations

import pytest

from switchboard.assistant.types import (
    QUESTION,
    CitationEvent,
    HandoffEvent,
    HandoffReason,
    TokenEvent,
)
from tests.unit import assistant_rig
from tests.unit.assistant_rig import (
    ALICE,
    MAX_TOKENS,
    RETURNS_ANSWER,
    Rig,
    done_of,
    hit,
    kinds,
    last_user_message,
    only,
    route,
    text_of,
)
from tests.unit.demo_shop import (
    GROUNDED_SYSTEM,
    NOT_SURE,
    OUT_OF_SCOPE,
    SMALL_TALK_SYSTEM,
    Intent,
)

pytestmark = pytest.mark.unit
rig = assistant_rig.rig  # the fixture


# -- grounded answers ------------------------------------------------------------------------


def test_policy_question_streams_tokens_then_citation_then_done(rig: Rig) -> None:
    events = rig.turn("How long do I have to return a jacket?")

    assert kinds(events) == ["token", "token", "token", "citation", "done"]
    assert [e.text for e in only(events, TokenEvent)] == list(RETURNS_ANSWER)
    (citation,) = only(events, CitationEvent)
    quote = "Unworn items can be returned within 30 days."
    assert citation == CitationEvent(
        1, "returns-policy", "Returns policy", "/help/returns-policy", "", quote, 0, len(quote)
    )
    done = done_of(events)
    assert done.intent == Intent.RETURNS_REFUNDS
    assert done.confidence == pytest.approx(0.8)
    assert done.cited_article_ids == ("returns-policy",)
    assert done.model == "fake-chat"
    assert rig.store.get_session(done.session_id, ALICE).id == done.session_id
    assert {"route", "retrieve", "prompt", "model", "ttft", "total", "overhead"} <= set(
        done.timings_ms
    )
    assert all(value > 0 for value in done.timings_ms.values())
    assert done.timings_ms["total"] > done.timings_ms["model"] >= done.timings_ms["ttft"]
    assert done.timings_ms["overhead"] == pytest.approx(
        done.timings_ms["total"] - done.timings_ms["model"]
    )
    (call,) = rig.model.calls
    assert done.usage == {
        "prompt_tokens": rig.model.count_messages(call["messages"]),
        "completion_tokens": 3,
    }


def test_grounded_prompt_has_sources_question_and_settings(rig: Rig) -> None:
    rig.turn("How long do I have to return a jacket?")

    (call,) = rig.model.calls
    assert call["messages"][0] == {"role": "system", "content": GROUNDED_SYSTEM}
    user = last_user_message(call)
    assert "[1] Returns policy (/help/returns-policy)" in user
    assert "[2] Shipping times" in user
    assert user.endswith("Question: How long do I have to return a jacket?")
    assert call["max_tokens"] == MAX_TOKENS
    assert call["stop"] == rig.settings.stop
    assert call["temperature"] == rig.settings.temperature
    assert rig.searcher.queries == ["How long do I have to return a jacket?"]


def test_second_source_cited_maps_to_its_article(rig: Rig) -> None:
    rig.model.replies.append(["Shipping takes 3 days [", "2]."])

    events = rig.turn("How long does shipping take?")

    (citation,) = only(events, CitationEvent)
    assert (citation.number, citation.article_id) == (2, "shipping-times")
    assert done_of(events).cited_article_ids == ("shipping-times",)


def test_a_marker_of_a_source_never_given_is_not_shown(rig: Rig) -> None:
    rig.model.replies.append(["Returns are accepted for 30 days [", "5]."])

    events = rig.turn("How long do I have to return a jacket?")

    assert "[5]" not in text_of(events)  # two sources were given
    assert text_of(events).startswith("Returns are accepted for 30 days.")


def test_answer_without_marker_gets_the_best_source_cited(rig: Rig) -> None:
    rig.model.replies.append(["Returns are accepted ", "for 30 days."])

    events = rig.turn("How long do I have to return a jacket?")

    assert kinds(events) == ["token", "token", "token", "citation", "done"]
    assert only(events, TokenEvent)[-1].text == " [1]"
    assert text_of(events) == "Returns are accepted for 30 days. [1]"
    assert only(events, CitationEvent)[0].article_id == "returns-policy"
    done = done_of(events)
    assert done.cited_article_ids == ("returns-policy",)
    stored = rig.store.history(done.session_id, 10)[-1]
    assert stored.content == "Returns are accepted for 30 days. [1]"


def test_answer_that_took_nothing_from_the_sources_cites_nothing(rig: Rig) -> None:
    rig.model.replies.append(["I'm not sure ", "about that."])

    events = rig.turn("How long do I have to return a jacket?")

    assert only(events, CitationEvent) == []
    assert text_of(events) == "I'm not sure about that."
    assert done_of(events).cited_article_ids == ()


def test_below_relevance_floor_says_not_sure_and_offers_handoff(rig: Rig) -> None:
    rig.searcher.hits = [hit("gift-cards", "Gift cards", "Gift cards never expire.", 0.2)]

    events = rig.turn("Can I pay with seashells?")

    assert kinds(events) == ["token", "handoff", "done"]
    assert text_of(events) == NOT_SURE
    (handoff,) = only(events, HandoffEvent)
    assert handoff.reason is HandoffReason.NOT_SURE
    assert handoff.reason.value == "no_relevant_sources"
    assert handoff.ticket_id is None
    assert rig.model.calls == []
    done = done_of(events)
    assert done.cited_article_ids == ()
    assert done.model == ""
    assert done.usage == {}
    assert "model" not in done.timings_ms
    record = rig.store.history(done.session_id, 10)[-1].assistant
    assert record is not None
    assert record.handoff_reason is HandoffReason.NOT_SURE
    assert rig.store.open_ticket(done.session_id) is None  # offered, not created


def test_no_hits_at_all_is_not_sure(rig: Rig) -> None:
    rig.searcher.hits = []

    events = rig.turn("Can I pay with seashells?")

    assert text_of(events) == NOT_SURE
    assert only(events, HandoffEvent)[0].reason is HandoffReason.NOT_SURE
    assert rig.model.calls == []


def test_unconfident_small_talk_below_floor_gets_a_model_reply(rig: Rig) -> None:
    rig.router.default = route(Intent.SMALL_TALK, confident=False)
    rig.searcher.hits = [hit("gift-cards", "Gift cards", "Gift cards never expire.", 0.1)]
    rig.model.replies.append(["Hi there! ", "How can I help?"])

    events = rig.turn("hey hey")

    assert kinds(events) == ["token", "token", "done"]
    assert text_of(events) == "Hi there! How can I help?"
    assert only(events, HandoffEvent) == []
    (call,) = rig.model.calls
    assert call["messages"] == [
        {"role": "system", "content": SMALL_TALK_SYSTEM},
        {"role": "user", "content": "hey hey"},
    ]
    assert call["max_tokens"] < MAX_TOKENS
    done = done_of(events)
    assert done.intent == Intent.SMALL_TALK
    assert done.cited_article_ids == ()


def test_confident_small_talk_skips_retrieval(rig: Rig) -> None:
    rig.router.default = route(Intent.SMALL_TALK)
    rig.model.replies.append(["Hello!"])

    events = rig.turn("hello")

    assert text_of(events) == "Hello!"
    assert rig.searcher.queries == []
    assert only(events, CitationEvent) == []
    assert rig.model.calls[0]["messages"][0]["content"] == SMALL_TALK_SYSTEM


def test_confident_out_of_scope_is_a_fixed_refusal(rig: Rig) -> None:
    rig.router.default = route(Intent.OUT_OF_SCOPE)

    events = rig.turn("Write me a poem about LK-100214")

    assert kinds(events) == ["token", "done"]
    assert text_of(events) == OUT_OF_SCOPE
    assert rig.model.calls == []
    assert rig.searcher.queries == []
    assert rig.orders.calls == []
    assert done_of(events).intent == Intent.OUT_OF_SCOPE


def test_unconfident_out_of_scope_below_floor_is_refused(rig: Rig) -> None:
    rig.router.default = route(Intent.OUT_OF_SCOPE, confident=False)
    rig.searcher.hits = []

    events = rig.turn("what's the capital of Peru")

    assert text_of(events) == OUT_OF_SCOPE
    assert only(events, HandoffEvent) == []
    assert rig.model.calls == []


def test_unconfident_handoff_request_below_floor_creates_a_ticket(rig: Rig) -> None:
    rig.router.default = route(Intent.HUMAN_HANDOFF, confident=False, confidence=0.4)
    rig.searcher.hits = [hit("contact", "Contact", "Call us.", 0.2)]

    events = rig.turn("I'd rather sort this out with someone from your team")

    [handoff] = only(events, HandoffEvent)
    assert handoff.reason is HandoffReason.CUSTOMER_REQUEST
    assert handoff.ticket_id is not None
    assert rig.model.calls == []


def test_a_question_that_only_least_badly_resembles_a_handoff_gets_no_ticket(rig: Rig) -> None:
    """Below ``unsure_handoff_floor`` the handoff intent is only the best of few bad
    matches: not sure, a colleague offered, no ticket."""
    rig.router.default = route(Intent.HUMAN_HANDOFF, confident=False, confidence=0.2)
    rig.searcher.hits = [hit("contact", "Contact", "Call us.", 0.2)]

    events = rig.turn("How do I get a parking permit for the office car park?")

    [handoff] = only(events, HandoffEvent)
    assert (handoff.reason, handoff.ticket_id) == (HandoffReason.NOT_SURE, None)
    assert text_of(events) == NOT_SURE
    assert done_of(events).answer_path.value == "not_sure"


# -- human handoff ---------------------------------------------------------------------------


def test_human_handoff_creates_a_ticket_and_reuses_it(rig: Rig) -> None:
    rig.router.default = route(Intent.HUMAN_HANDOFF)

    first = rig.turn("I want to talk to a person")
    session = done_of(first).session_id
    second = rig.turn("a human please, now", session=session)

    (handoff,) = only(first, HandoffEvent)
    assert handoff.reason is HandoffReason.CUSTOMER_REQUEST
    ticket = rig.store.open_ticket(session)
    assert ticket is not None
    assert handoff.ticket_id == ticket.id
    assert ticket.customer_id == ALICE
    assert ticket.summary == "I want to talk to a person"
    assert ticket.id in text_of(first)
    assert handoff.message == text_of(first)
    (again,) = only(second, HandoffEvent)
    assert again.ticket_id == ticket.id
    assert ticket.id in text_of(second)
    assert len(rig.store.tickets(ALICE)) == 1
    assert rig.model.calls == []
    assert rig.searcher.queries == []


def test_handoff_in_another_session_gets_another_ticket(rig: Rig) -> None:
    rig.router.default = route(Intent.HUMAN_HANDOFF)

    first = only(rig.turn("agent please"), HandoffEvent)[0]
    second = only(rig.turn("agent please"), HandoffEvent)[0]

    assert first.ticket_id is not None
    assert second.ticket_id is not None
    assert first.ticket_id != second.ticket_id


# -- the intent a turn reports ---------------------------------------------------------------


def test_an_unconfident_route_answered_from_the_articles_reports_a_question(rig: Rig) -> None:
    """The best-scoring intent of an untrusted route is not what the turn did: it answered
    a question from the articles."""
    rig.router.default = route(Intent.HUMAN_HANDOFF, confident=False, confidence=0.2)

    events = rig.turn("How long do I have to return a jacket?")

    assert only(events, CitationEvent) != []
    done = done_of(events)
    assert (done.intent, done.confidence) == (QUESTION, pytest.approx(0.2))
    assert done.routed_intent == Intent.HUMAN_HANDOFF  # what the evaluation scores
    record = rig.store.history(done.session_id, 10)[-1].assistant
    assert record is not None
    assert record.intent == QUESTION


def test_an_unconfident_route_the_articles_do_not_answer_reports_a_question(rig: Rig) -> None:
    rig.router.default = route(Intent.HUMAN_HANDOFF, confident=False, confidence=0.2)
    rig.searcher.hits = [hit("contact", "Contact", "Call us.", 0.2)]

    done = done_of(rig.turn("How do I get a parking permit for the office car park?"))

    assert (done.answer_path.value, done.intent) == ("not_sure", QUESTION)


def test_an_unconfident_route_whose_intent_picked_the_reply_reports_that_intent(rig: Rig) -> None:
    rig.router.default = route(Intent.OUT_OF_SCOPE, confident=False)
    rig.searcher.hits = []

    done = done_of(rig.turn("what's the capital of Peru"))

    assert (done.answer_path.value, done.intent) == ("refusal", Intent.OUT_OF_SCOPE)
