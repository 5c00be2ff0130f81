"""``POST /v1/assistant/sessions/{id}/turns/{turn_id}/feedback`` over the rig of
``test_api_assistant``: the owner's rating is stored with the answer; anyone else's, or a
bad one, gets OpenAI's error JSON."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.assistant.feedback import MAX_COMMENT_CHARS
from tests.unit.assistant_rig import ALICE, BOB
from tests.unit.test_api_assistant import Served, assert_error, chat, rig_app

pytestmark = pytest.mark.unit

QUESTION = "How long do I have to return a jacket?"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with rig_app(tmp_path) as app:
        yield app


def answered(served: Served) -> tuple[str, int]:
    """A new session's id and its answer's ``turn_id``, from the ``done`` event."""
    done = chat(served, message=QUESTION)[-1][1]
    return done["session_id"], done["turn_id"]


def rate(served: Served, session: str, turn: Any, **body: Any) -> Any:
    url = f"/v1/assistant/sessions/{session}/turns/{turn}/feedback"
    return served.client.post(url, json={"customer_id": ALICE, **body})


def stored(served: Served) -> list[tuple[Any, ...]]:
    with sqlite3.connect(served.rig.store.file.path) as conn:
        return conn.execute("SELECT session_id, turn_idx, rating, comment FROM feedback").fetchall()


def test_a_rating_is_stored_with_the_answer_and_a_second_replaces_it(served: Served) -> None:
    session, turn = answered(served)

    first = rate(served, session, turn, rating="up")
    second = rate(served, session, turn, rating="down", comment="It is 30 days, not 14")

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    body = second.json()
    assert (body["session_id"], body["turn_id"], body["rating"]) == (session, turn, "down")
    assert body["comment"] == "It is 30 days, not 14"
    assert stored(served) == [(session, turn, "down", "It is 30 days, not 14")]


def test_another_customers_or_assistants_answer_is_not_found(served: Served) -> None:
    session, turn = answered(served)

    as_bob = rate(served, session, turn, rating="down", customer_id=BOB)
    with sqlite3.connect(served.rig.store.file.path) as conn:
        conn.execute("UPDATE sessions SET assistant = 'helpdesk'")  # made by another assistant
    as_shop = rate(served, session, turn, rating="down")

    assert_error(as_bob, 404, "session_not_found")
    assert_error(as_shop, 404, "session_not_found")
    assert stored(served) == []


def test_a_turn_that_is_not_an_answer_is_not_found(served: Served) -> None:
    session, turn = answered(served)

    for not_an_answer in (turn - 1, turn + 2):  # the question; none yet
        assert_error(rate(served, session, not_an_answer, rating="down"), 404, "turn_not_found",
                     "turn_id")  # fmt: skip
    assert stored(served) == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"rating": "meh"}, "rating"),
        ({}, "rating"),
        ({"rating": "down", "comment": "x" * (MAX_COMMENT_CHARS + 1)}, "comment"),
        ({"rating": "down", "comment": 5}, "comment"),
    ],
)
def test_bad_feedback_is_a_400(served: Served, body: dict[str, Any], param: str) -> None:
    session, turn = answered(served)

    assert_error(rate(served, session, turn, **body), 400, None, param)
    assert stored(served) == []


def test_a_turn_id_that_is_not_a_number_is_a_400(served: Served) -> None:
    session, _ = answered(served)

    response = rate(served, session, "first", rating="up")

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "turn_id"


def test_the_sessions_history_shows_each_answers_rating(served: Served) -> None:
    session, rated = answered(served)
    unrated = chat(served, message=QUESTION, session_id=session)[-1][1]["turn_id"]
    rate(served, session, rated, rating="down", comment="too short")

    body = served.client.get(
        f"/v1/assistant/sessions/{session}", params={"customer_id": ALICE}
    ).json()

    answers = {m["index"]: m for m in body["messages"] if m["role"] == "assistant"}
    assert answers[rated]["feedback"] == {"rating": "down", "comment": "too short"}
    assert answers[unrated]["feedback"] is None
