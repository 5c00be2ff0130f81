"""The conversation store on tmp_path SQLite files: ownership, history, atomicity, tickets."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from switchboard.assistant import conversations
from switchboard.assistant.conversation_records import AssistantRecord, TicketStatus
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.conversations_schema import SCHEMA, SCHEMA_VERSION
from switchboard.assistant.types import AnswerPath, HandoffReason, ToolResultEvent
from switchboard.errors import FatalError, SessionNotFoundError
from tests.unit.demo_shop import Intent

pytestmark = pytest.mark.unit

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Each reading is one second after the previous one."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    store = ConversationStore(tmp_path / "conv.db", clock=FakeClock())
    yield store
    store.close()


def answer(text: str = "Here you go.", **overrides: object) -> AssistantRecord:
    fields: dict[str, object] = {
        "content": text,
        "intent": Intent.SHIPPING,
        "confidence": 0.9,
        "model": "tiny-chat",
    }
    return AssistantRecord(**{**fields, **overrides})  # type: ignore[arg-type]


def turn_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM turns").fetchone()[0])


def test_create_then_get_returns_the_same_session(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    assert len(session.id) == 32
    assert session.created_at == session.updated_at == START + timedelta(seconds=1)
    assert store.get_session(session.id, "C-1") == session


@pytest.mark.parametrize(("session_id", "customer"), [("missing", "C-1"), (None, "C-2")])
def test_missing_or_foreign_session_is_not_found(
    store: ConversationStore, session_id: str | None, customer: str
) -> None:
    own = store.create_session("C-1")
    with pytest.raises(SessionNotFoundError) as caught:
        store.get_session(session_id or own.id, customer)
    assert caught.value.status_code == 404
    assert caught.value.code == "session_not_found"


def test_list_sessions_most_recently_active_first(store: ConversationStore) -> None:
    first, second, third = (store.create_session("C-1") for _ in range(3))
    store.create_session("C-2")
    store.add_exchange(first.id, "hi", answer())
    assert [s.id for s in store.list_sessions("C-1", limit=10)] == [first.id, third.id, second.id]
    assert [s.id for s in store.list_sessions("C-1", limit=1)] == [first.id]


def test_history_is_oldest_first_and_keeps_the_last_messages(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    indices = [store.add_exchange(session.id, f"q{n}", answer(f"a{n}")) for n in range(3)]
    assert indices == [1, 3, 5]
    assert [m.content for m in store.history(session.id, 100)] == [
        "q0", "a0", "q1", "a1", "q2", "a2"
    ]  # fmt: skip
    last = store.history(session.id, 3)
    assert [(m.index, m.role, m.content) for m in last] == [
        (3, "assistant", "a1"),
        (4, "user", "q2"),
        (5, "assistant", "a2"),
    ]
    assert last[1].assistant is None
    assert (last[1].role, last[1].content) == ("user", "q2")
    assert store.history(session.id, 0) == []


def test_assistant_record_round_trips(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    record = answer(
        intent=Intent.ORDER_STATUS,
        confidence=0.42,
        cited_article_ids=("kb-1", "kb-7"),
        tool_results=(
            ToolResultEvent("get_order", {"order_id": "A-1"}, ok=True, data={"status": "shipped"}),
            ToolResultEvent("get_order", {"order_id": "A-2"}, ok=False, error="order_not_found"),
        ),
        handoff_reason=HandoffReason.SERVICE_DOWN,
        timings_ms={"route": 1.5, "generate": 120.0},
        usage={"prompt_tokens": 300, "completion_tokens": 40},
    )
    store.add_exchange(session.id, "where is A-1?", record)
    user, assistant = store.history(session.id, 2)
    assert user.role == "user"
    assert user.content == "where is A-1?"
    assert assistant.assistant == record
    assert assistant.created_at == START + timedelta(seconds=2)


def test_exchange_on_a_missing_session_writes_nothing(
    store: ConversationStore, tmp_path: Path
) -> None:
    with pytest.raises(SessionNotFoundError):
        store.add_exchange("missing", "hi", answer())
    assert turn_count(tmp_path / "conv.db") == 0


def test_unserialisable_answer_leaves_no_lonely_question(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    bad = answer(tool_results=(ToolResultEvent("t", {}, ok=True, data=object()),))
    with pytest.raises(TypeError):
        store.add_exchange(session.id, "question", bad)
    assert store.history(session.id, 10) == []
    assert store.get_session(session.id, "C-1").updated_at == session.updated_at


def test_failure_after_the_question_rolls_back(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = store.create_session("C-1")
    store.add_exchange(session.id, "q0", answer("a0"))

    def crash(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(conversations, "_insert_assistant", crash)
    with pytest.raises(sqlite3.OperationalError):
        store.add_exchange(session.id, "q1", answer("a1"))
    monkeypatch.undo()
    assert [m.content for m in store.history(session.id, 10)] == ["q0", "a0"]
    assert store.add_exchange(session.id, "q1", answer("a1")) == 3


def test_repeated_handoff_reuses_the_open_ticket(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    assert store.open_ticket(session.id) is None
    ticket = store.create_ticket(session.id, "C-1", HandoffReason.CUSTOMER_REQUEST, "a human!")
    assert ticket.id.startswith("T-")
    assert ticket.status is TicketStatus.OPEN
    assert store.open_ticket(session.id) == ticket
    again = store.create_ticket(session.id, "C-1", HandoffReason.CUSTOMER_REQUEST, "again!")
    assert again == ticket
    other = store.create_ticket(
        store.create_session("C-1").id, "C-1", HandoffReason.CUSTOMER_REQUEST, "other"
    )
    assert other.id != ticket.id
    assert store.tickets("C-1") == [other, ticket]
    assert store.tickets("C-2") == []


def test_ticket_for_a_foreign_session_is_refused(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    with pytest.raises(SessionNotFoundError):
        store.create_ticket(session.id, "C-2", HandoffReason.CUSTOMER_REQUEST, "hi")
    assert store.tickets("C-2") == []


def test_ticket_id_collision_draws_again(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["T-AAAA0001", "T-AAAA0001", "T-BBBB0002"])
    monkeypatch.setattr(conversations, "new_ticket_id", lambda: next(ids))
    first, second = (store.create_session("C-1") for _ in range(2))
    reason = HandoffReason.CUSTOMER_REQUEST
    assert store.create_ticket(first.id, "C-1", reason, "x").id == "T-AAAA0001"
    assert store.create_ticket(second.id, "C-1", reason, "y").id == "T-BBBB0002"


def test_everything_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "conv.db"
    store = ConversationStore(path, clock=FakeClock())
    session = store.create_session("C-1")
    store.add_exchange(session.id, "q", answer("a", cited_article_ids=("kb-3",)))
    ticket = store.create_ticket(session.id, "C-1", HandoffReason.CUSTOMER_REQUEST, "q")
    store.close()
    with pytest.raises(RuntimeError):
        store.create_session("C-1")

    reopened = ConversationStore(path)
    assert reopened.get_session(session.id, "C-1").id == session.id
    assert [m.content for m in reopened.history(session.id, 10)] == ["q", "a"]
    assert reopened.open_ticket(session.id) == ticket
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_answer_path_is_kept_with_the_answer(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    store.add_exchange(session.id, "q", answer("a", answer_path=AnswerPath.QUOTED))
    store.add_exchange(session.id, "q2", answer("b"))
    records = [m.assistant for m in store.history(session.id, 10) if m.assistant]
    assert [r.answer_path for r in records] == [AnswerPath.QUOTED, None]


def test_a_version_1_database_gains_the_answer_path_and_keeps_its_turns(tmp_path: Path) -> None:
    path = tmp_path / "conv.db"
    v1 = SCHEMA.replace("    answer_path TEXT,\n", "")
    with sqlite3.connect(path) as conn:
        conn.executescript(v1)
        conn.execute("INSERT INTO sessions VALUES ('s1', 'C-1', '2024-01-01', '2024-01-01')")
        conn.execute(
            "INSERT INTO turns VALUES ('s1', 0, 'assistant', 'old', '2024-01-01', "
            "'shipping', 0.9, '[]', '[]', NULL, '{}', '{}', 'm')"
        )
        conn.execute("PRAGMA user_version = 1")
    store = ConversationStore(path)
    try:
        (old,) = store.history("s1", 10)
        assert old.content == "old"
        assert old.assistant is not None
        assert old.assistant.answer_path is None
        store.add_exchange("s1", "q", answer("new", answer_path=AnswerPath.GENERATED))
        assert store.history("s1", 10)[-1].assistant.answer_path is AnswerPath.GENERATED  # type: ignore[union-attr]
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_sessions_and_tickets_belong_to_one_tenant(store: ConversationStore) -> None:
    acme = store.create_session("C-1", tenant="acme")
    globex = store.create_session("C-1", tenant="globex")  # another tenant's C-1
    assert acme.tenant == "acme"
    assert store.get_session(acme.id, "C-1", tenant="acme") == acme
    for session_id, tenant in ((acme.id, "globex"), (globex.id, "acme"), (acme.id, None)):
        with pytest.raises(SessionNotFoundError):
            store.get_session(session_id, "C-1", tenant=tenant)
    assert [s.id for s in store.list_sessions("C-1", tenant="acme")] == [acme.id]
    assert [s.id for s in store.list_sessions("C-1", tenant="globex")] == [globex.id]
    assert store.list_sessions("C-1") == []  # the default tenant has none

    reason = HandoffReason.CUSTOMER_REQUEST
    ticket = store.create_ticket(acme.id, "C-1", reason, "help", tenant="acme")
    with pytest.raises(SessionNotFoundError):
        store.create_ticket(acme.id, "C-1", reason, "help", tenant="globex")
    assert store.tickets("C-1", tenant="acme") == [ticket]
    assert store.tickets("C-1", tenant="globex") == []


def test_a_version_2_database_keeps_its_rows_in_the_default_tenant(tmp_path: Path) -> None:
    path = tmp_path / "conv.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)  # version 2: no tenants
        conn.execute("INSERT INTO sessions VALUES ('s1', 'C-1', '2024-01-01', '2024-01-01')")
        conn.execute(
            "INSERT INTO turns (session_id, idx, role, content, created_at) "
            "VALUES ('s1', 0, 'user', 'old question', '2024-01-01')"
        )
        conn.execute(
            "INSERT INTO tickets VALUES ('T-1', 's1', 'C-1', 'customer_request', 'x', 'open', "
            "'2024-01-01')"
        )
        conn.execute("PRAGMA user_version = 2")
    store = ConversationStore(path, default_tenant="shop")
    try:
        session = store.get_session("s1", "C-1")
        assert session.tenant == "shop" == store.get_session("s1", "C-1", tenant="shop").tenant
        assert [m.content for m in store.history("s1", 10)] == ["old question"]
        assert [t.id for t in store.tickets("C-1")] == ["T-1"]
        with pytest.raises(SessionNotFoundError):
            store.get_session("s1", "C-1", tenant="default")
        assert store.create_session("C-2", tenant="acme").tenant == "acme"
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"sessions_by_owner", "tickets_by_owner"} <= indexes
        assert "sessions_by_customer" not in indexes


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "conv.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(FatalError):
        ConversationStore(path)


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conv.db", clock=lambda: datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.create_session("C-1")


def test_concurrent_exchanges_get_unique_gapless_indices(store: ConversationStore) -> None:
    session = store.create_session("C-1")
    threads, per_thread = 8, 10
    returned: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        barrier.wait()
        for k in range(per_thread):
            index = store.add_exchange(session.id, f"q{n}.{k}", answer(f"a{n}.{k}"))
            with lock:
                returned.append(index)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    messages = store.history(session.id, 1000)
    assert [m.index for m in messages] == list(range(2 * threads * per_thread))
    assert sorted(returned) == list(range(1, 2 * threads * per_thread, 2))
    for question, reply in zip(messages[::2], messages[1::2], strict=True):
        assert question.role == "user"
        assert reply.role == "assistant"
        assert reply.content == "a" + question.content[1:]


def test_each_thread_keeps_one_connection_until_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConversationStore(tmp_path / "c.db")
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def counting_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr(conversations.sqlite3, "connect", counting_connect)
    session = store.create_session("C-1")
    store.add_exchange(session.id, "q0", answer("a0"))
    worker = threading.Thread(target=lambda: store.history(session.id, 10))
    worker.start()
    worker.join()
    store.get_session(session.id, "C-1")
    assert len(opened) == 1  # the worker's: this thread's was opened in __init__
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")  # the worker's, closed by close() on this thread
    with pytest.raises(RuntimeError, match="closed"):
        store.get_session(session.id, "C-1")
