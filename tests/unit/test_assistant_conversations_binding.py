"""Sessions and tickets belong to the assistant that made them: another assistant finds
none of them (the same "not found" as a missing session), on tmp_path SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.conversations_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from switchboard.assistant.types import HandoffReason
from switchboard.errors import SessionNotFoundError

pytestmark = pytest.mark.unit

REASON = HandoffReason.CUSTOMER_REQUEST


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    store = ConversationStore(tmp_path / "conv.db", default_assistant="shop")
    yield store
    store.close()


def test_a_session_is_its_assistants_only(store: ConversationStore) -> None:
    shop = store.create_session("C-1", assistant="shop")
    helpdesk = store.create_session("C-1", assistant="helpdesk")
    assert (shop.assistant, helpdesk.assistant) == ("shop", "helpdesk")
    assert store.get_session(shop.id, "C-1", assistant="shop") == shop
    assert store.get_session(helpdesk.id, "C-1", assistant="helpdesk") == helpdesk
    for session_id, other in ((shop.id, "helpdesk"), (helpdesk.id, "shop"), (helpdesk.id, None)):
        with pytest.raises(SessionNotFoundError):  # as a missing one: existence not revealed
            store.get_session(session_id, "C-1", assistant=other)


def test_a_call_naming_no_assistant_acts_for_the_default(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    assert session.assistant == "shop"
    assert store.get_session(session.id, "C-1", assistant="shop") == session


def test_listing_and_tickets_are_filtered_by_assistant(store: ConversationStore) -> None:
    shop = store.create_session("C-1", assistant="shop")
    helpdesk = store.create_session("C-1", assistant="helpdesk")
    other_tenant = store.create_session("C-1", tenant="acme", assistant="helpdesk")
    assert [s.id for s in store.list_sessions("C-1", assistant="shop")] == [shop.id]
    assert [s.id for s in store.list_sessions("C-1", assistant="helpdesk")] == [helpdesk.id]
    assert store.list_sessions("C-1") == [shop]  # the default assistant's
    assert store.list_sessions("C-1", assistant="hr") == []

    shop_ticket = store.create_ticket(shop.id, "C-1", REASON, "a human")
    desk_ticket = store.create_ticket(helpdesk.id, "C-1", REASON, "a technician")
    store.create_ticket(other_tenant.id, "C-1", REASON, "x", tenant="acme")
    assert store.tickets("C-1", assistant="shop") == [shop_ticket]
    assert store.tickets("C-1", assistant="helpdesk") == [desk_ticket]
    assert store.tickets("C-1") == [shop_ticket]
    assert store.tickets("C-1", assistant="hr") == []


def version_4_database(path: Path) -> None:
    """The schema as it was before sessions had assistants, with one session and ticket."""
    statements = [s for s in SCHEMA.split(";") if s.strip()]
    statements += [s for version in (3, 4) for s in MIGRATIONS[version]]
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement, {"default_tenant": "default"})
        conn.execute(
            "INSERT INTO sessions (id, customer_id, created_at, updated_at, tenant) "
            "VALUES ('s1', 'C-1', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00', "
            "'default')"
        )
        conn.execute(
            "INSERT INTO turns (session_id, idx, role, content, created_at) "
            "VALUES ('s1', 0, 'user', 'old question', '2024-01-01T00:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO tickets VALUES ('T-1', 's1', 'C-1', 'customer_request', 'x', 'open', "
            "'2024-01-01T00:00:00+00:00', 'default')"
        )
        conn.execute("PRAGMA user_version = 4")


def test_a_version_4_database_gives_its_sessions_to_the_default_assistant(tmp_path: Path) -> None:
    path = tmp_path / "conv.db"
    version_4_database(path)
    store = ConversationStore(path, default_assistant="helpdesk")
    try:
        session = store.get_session("s1", "C-1", assistant="helpdesk")
        assert session.assistant == "helpdesk"
        assert [m.content for m in store.history("s1", 10)] == ["old question"]
        assert [t.id for t in store.tickets("C-1", assistant="helpdesk")] == ["T-1"]
        with pytest.raises(SessionNotFoundError):
            store.get_session("s1", "C-1", assistant="shop")
        assert store.tickets("C-1", assistant="shop") == []
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        (index,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'sessions_by_owner'"
        ).fetchone()
        assert "assistant" in index


def test_reopening_keeps_each_sessions_assistant(tmp_path: Path) -> None:
    path = tmp_path / "conv.db"
    with closing(ConversationStore(path, default_assistant="shop")) as first:
        session = first.create_session("C-1", assistant="helpdesk")
    with closing(ConversationStore(path, default_assistant="shop")) as again:
        assert again.get_session(session.id, "C-1", assistant="helpdesk").assistant == "helpdesk"
