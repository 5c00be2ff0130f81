"""Feedback on answers in the conversation store, on tmp_path SQLite files: one rating per
answer, the owner's only, read back as thumbed-down answers with their question; and a
version 5 database gaining the feedback table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.conversations_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from switchboard.assistant.feedback import Rating
from switchboard.errors import SessionNotFoundError, TurnNotFoundError
from tests.unit.test_assistant_conversations import FakeClock, answer

pytestmark = pytest.mark.unit


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    store = ConversationStore(tmp_path / "conv.db", clock=FakeClock(), default_assistant="shop")
    yield store
    store.close()


def ratings(path: Path) -> list[tuple[str, int, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT session_id, turn_idx, rating, comment FROM feedback")
        return [tuple(row) for row in rows]


def test_a_second_rating_replaces_the_first(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    turn = store.add_exchange(session.id, "Where is my parcel?", answer("On its way."))
    store.rate(session.id, turn, "C-1", Rating.UP)
    store.rate(session.id, turn, "C-1", Rating.DOWN, "It arrived yesterday")
    assert ratings(store.file.path) == [(session.id, turn, "down", "It arrived yesterday")]


def test_only_the_owner_rates_and_only_an_answer(store: ConversationStore) -> None:
    session = store.create_session("C-1", tenant="acme")
    turn = store.add_exchange(session.id, "Hi", answer("Hello!"))
    for customer, tenant, assistant in (
        ("C-2", "acme", None),
        ("C-1", "globex", None),
        ("C-1", "acme", "helpdesk"),
    ):
        with pytest.raises(SessionNotFoundError):
            store.rate(session.id, turn, customer, Rating.DOWN, tenant=tenant, assistant=assistant)
    for not_an_answer in (turn - 1, turn + 1):  # the question; none yet
        with pytest.raises(TurnNotFoundError):
            store.rate(session.id, not_an_answer, "C-1", Rating.DOWN, tenant="acme")
    assert ratings(store.file.path) == []


def test_down_rated_answers_come_with_their_question_and_history(
    store: ConversationStore,
) -> None:
    shop = store.create_session("C-1")
    first = store.add_exchange(shop.id, "Hi, I'm Ann", answer("Hello Ann!"))
    second = store.add_exchange(shop.id, "Can I return shoes?", answer("No."))
    store.rate(shop.id, first, "C-1", Rating.UP)
    store.rate(shop.id, second, "C-1", Rating.DOWN, "Wrong: 30 days")
    desk = store.create_session("C-1", assistant="helpdesk")
    third = store.add_exchange(desk.id, "VPN down", answer("Reboot."))
    store.rate(desk.id, third, "C-1", Rating.DOWN, assistant="helpdesk")

    down = store.down_rated(assistant="shop")
    assert len(down) == 1
    (item,) = down
    assert (item.question, item.answer, item.feedback.comment) == (
        "Can I return shoes?",
        "No.",
        "Wrong: 30 days",
    )
    assert item.history == (("user", "Hi, I'm Ann"), ("assistant", "Hello Ann!"))
    assert (item.assistant, item.customer_id, item.intent) == ("shop", "C-1", "shipping")
    assert [d.question for d in store.down_rated()] == ["Can I return shoes?", "VPN down"]
    rated_desk = store.down_rated()[1].feedback.created_at
    assert [d.question for d in store.down_rated(since=rated_desk)] == ["VPN down"]


def version_5_database(path: Path) -> None:
    """The schema as it was before feedback, with one answered question."""
    statements = [s for s in SCHEMA.split(";") if s.strip()]
    statements += [s for version in (3, 4, 5) for s in MIGRATIONS[version]]
    params = {"default_tenant": "default", "default_assistant": "shop"}
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement, params)
        conn.execute(
            "INSERT INTO sessions VALUES ('s1', 'C-1', '2024-01-01T00:00:00+00:00', "
            "'2024-01-01T00:00:00+00:00', 'default', 'shop')"
        )
        conn.execute(
            "INSERT INTO turns (session_id, idx, role, content, created_at) "
            "VALUES ('s1', 0, 'user', 'old user', '2024-01-01T00:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO turns VALUES ('s1', 1, 'assistant', 'old assistant', "
            "'2024-01-01T00:00:00+00:00', 'shipping', 0.9, '[]', '[]', NULL, '{}', '{}', "
            "'tiny', 'generated')"
        )
        conn.execute("PRAGMA user_version = 5")


def test_a_version_5_database_gains_feedback_and_keeps_its_turns(tmp_path: Path) -> None:
    path = tmp_path / "conv.db"
    version_5_database(path)
    store = ConversationStore(path, default_assistant="shop")
    try:
        assert [m.content for m in store.history("s1", 10)] == ["old user", "old assistant"]
        store.rate("s1", 1, "C-1", Rating.DOWN, "stale")
        assert [d.answer for d in store.down_rated()] == ["old assistant"]
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "feedback_by_rating" in indexes
