"""A thumbed-down answer as a draft golden case: the golden fields with what a good answer
does left empty, every text through the redactor, the customer's messages only as history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.assistant.feedback import DownRated, Feedback, Rating
from switchboard.evaluation.candidates import draft_case
from switchboard.evaluation.golden import FIELDS, parse_case

pytestmark = pytest.mark.unit

RATED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def upper(text: str) -> str:
    return text.upper()


def down_rated(question: str = "can i return boots?") -> DownRated:
    return DownRated(
        Feedback("0123456789abcdef", 3, Rating.DOWN, "wrong window", RATED_AT),
        tenant="acme",
        assistant="shop",
        customer_id="C1005",
        question=question,
        answer="no, never.",
        intent="returns_refunds",
        history=(("user", "hi, i'm ann"), ("assistant", "hello ann!")),
    )


def test_a_draft_is_a_golden_case_once_its_review_is_removed() -> None:
    draft = draft_case(down_rated(), upper)

    review = draft.pop("review")
    case = parse_case(draft)

    assert list(draft) == list(FIELDS)
    assert case.id == "feedback-01234567-3"
    assert (case.message, case.history) == ("CAN I RETURN BOOTS?", ("HI, I'M ANN",))
    assert (case.expected_intent, case.must_include, case.expected_sources) == (None, (), ())
    assert (case.split, case.tags, case.customer_id) == ("dev", ("feedback",), "C1005")
    assert review == {
        "answer": "NO, NEVER.",
        "comment": "WRONG WINDOW",
        "answered_intent": "returns_refunds",
        "assistant": "shop",
        "tenant": "acme",
        "session_id": "0123456789abcdef",
        "turn_id": 3,
        "rated_at": "2026-12-01T09:30:00+00:00",
    }
