"""The assistant's conversations in one SQLite file: sessions, their messages, handoff tickets.

A session belongs to one customer of one tenant (two tenants may both have a customer
``C1002``; they are different people); reading another customer's or another tenant's
session raises the same ``SessionNotFoundError`` as a missing one, so ids cannot be probed.
A call that names no tenant acts for the store's ``default_tenant``, which also owns the
rows of a database written before sessions had tenants (schema version 2).
A session belongs to the assistant that created it, too: another assistant's reads
(``get_session``, ``list_sessions``, ``tickets``) find none of it, with the same
``SessionNotFoundError``. A call that names no assistant acts for ``default_assistant``
(the server's default assistant), which also owns the sessions written before sessions
had assistants (schema version 4).

Each message is one row of ``turns`` with an index gapless and monotonic within its
session; ``add_exchange``
writes a question and its answer in one ``BEGIN IMMEDIATE`` transaction, so a crash never
leaves a question without its answer. A session has at most one open ticket (a partial
unique index): a repeated handoff request gets the open ticket back. A session has at most
one pending write action (``propose``), waiting for the customer's confirmation; the next
turn takes it (``take_pending``), so it is performed or dropped once.

Threads: each thread gets its own connection, opened on its first call and kept until
``close`` (WAL, ``synchronous=NORMAL``, foreign keys on), so one store serves the server's
worker threads; writers queue on the database lock for up to ``timeout_s``. Opening a
connection costs ~1.7 ms, two a turn, against ~0.1 ms for the writes themselves.
Timestamps are stored as ISO-8601 UTC text from an injectable clock.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from switchboard.assistant import feedback
from switchboard.assistant.conversation_records import (
    AssistantRecord,
    PendingAction,
    Session,
    StoredMessage,
    Ticket,
    TicketStatus,
    message_of,
    session_of,
    ticket_of,
)
from switchboard.assistant.conversations_schema import migrate
from switchboard.assistant.feedback import DownRated, Feedback, Rating
from switchboard.assistant.types import (
    AnswerPath,
    HandoffReason,
    event_json,
)
from switchboard.errors import SessionNotFoundError
from switchboard.sqlite_file import SQLiteFile
from switchboard.sqlite_tx import transaction
from switchboard.thread_connections import ThreadConnections

Clock = Callable[[], datetime]

_SESSION = "SELECT id, customer_id, created_at, updated_at, tenant, assistant FROM sessions"
_TICKET = "SELECT id, session_id, customer_id, reason, summary, status, created_at FROM tickets"
_TURN = """SELECT session_id, idx, role, content, created_at, intent, confidence,
                  cited_article_ids, tool_results, handoff_reason, timings_ms, usage, model,
                  answer_path
           FROM turns"""


def utc_now() -> datetime:
    return datetime.now(UTC)


RECOVERY = (
    "restore it from a backup, or move it away (a new one is made at start; the "
    "past conversations and tickets in it are lost)"
)


class ConversationStore:
    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = utc_now,
        timeout_s: float = 30.0,
        default_tenant: str = "default",
        default_assistant: str = "default",
    ) -> None:
        self.file = SQLiteFile(Path(path), "conversations", RECOVERY)
        self.default_tenant = default_tenant
        self.default_assistant = default_assistant
        self._clock = clock
        self._timeout_s = timeout_s
        self._connections = ThreadConnections(self._open_connection, "the conversation store")
        self.file.path.parent.mkdir(parents=True, exist_ok=True)
        with self.file.opening():
            with self._connection() as conn:
                conn.execute("PRAGMA journal_mode = WAL")  # persistent: once per file is enough
            with self._transaction() as conn:
                migrate(conn, default_tenant, default_assistant)
            with self._connection() as conn:
                self.file.quick_check(conn)

    def close(self) -> None:
        """Refuse further calls and close every thread's connection."""
        self._connections.close()

    # -- sessions ----------------------------------------------------------------------

    def create_session(
        self, customer_id: str, *, tenant: str | None = None, assistant: str | None = None
    ) -> Session:
        if not customer_id:
            raise ValueError("customer_id must be non-empty")
        now = self._now()
        owner = (tenant or self.default_tenant, assistant or self.default_assistant)
        session = Session(uuid.uuid4().hex, customer_id, now, now, *owner)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (id, customer_id, created_at, updated_at, tenant, "
                "assistant) VALUES (?, ?, ?, ?, ?, ?)",
                (session.id, customer_id, _text(now), _text(now), *owner),
            )
        return session

    def get_session(
        self,
        session_id: str,
        customer_id: str,
        *,
        tenant: str | None = None,
        assistant: str | None = None,
    ) -> Session:
        """The customer's session with this assistant; ``SessionNotFoundError`` if missing,
        someone else's or another assistant's."""
        owner = (tenant or self.default_tenant, assistant or self.default_assistant)
        with self._connection() as conn:
            return _owned_session(conn, session_id, customer_id, *owner)

    def list_sessions(
        self,
        customer_id: str,
        limit: int = 20,
        *,
        tenant: str | None = None,
        assistant: str | None = None,
    ) -> list[Session]:
        """The customer's sessions with this assistant, most recently active first."""
        _check_limit(limit)
        owner = (tenant or self.default_tenant, assistant or self.default_assistant)
        with self._connection() as conn:
            rows = conn.execute(
                f"{_SESSION} WHERE tenant = ? AND assistant = ? AND customer_id = ? "
                "ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                (*owner, customer_id, limit),
            ).fetchall()
        return [session_of(row) for row in rows]

    # -- turns -------------------------------------------------------------------------

    def add_exchange(self, session_id: str, user_text: str, assistant: AssistantRecord) -> int:
        """Append the question and its answer in one transaction; the answer's index."""
        now = _text(self._now())
        with self._transaction() as conn:
            touched = conn.execute(
                "UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id)
            ).rowcount
            if touched == 0:
                raise SessionNotFoundError(session_id)
            (index,) = conn.execute(
                "SELECT coalesce(max(idx) + 1, 0) FROM turns WHERE session_id = ?", (session_id,)
            ).fetchone()
            _insert_user(conn, session_id, index, user_text, now)
            _insert_assistant(conn, session_id, index + 1, assistant, now)
        return int(index) + 1

    def history(self, session_id: str, limit_turns: int) -> list[StoredMessage]:
        """The session's last ``limit_turns`` messages, oldest first."""
        _check_limit(limit_turns)
        with self._connection() as conn:
            rows = conn.execute(
                f"{_TURN} WHERE session_id = ? ORDER BY idx DESC LIMIT ?",
                (session_id, limit_turns),
            ).fetchall()
        return [message_of(row) for row in reversed(rows)]

    # -- handoff tickets ---------------------------------------------------------------

    def create_ticket(
        self,
        session_id: str,
        customer_id: str,
        reason: HandoffReason,
        summary: str,
        *,
        tenant: str | None = None,
    ) -> Ticket:
        """A new open ticket, or the session's open ticket if it has one already."""
        with self._transaction() as conn:
            _owned_session(conn, session_id, customer_id, tenant or self.default_tenant)
            existing = _open_ticket(conn, session_id)
            if existing is not None:
                return existing
            ticket = Ticket(
                _unused_ticket_id(conn),
                session_id,
                customer_id,
                HandoffReason(reason),
                summary,
                TicketStatus.OPEN,
                self._now(),
            )
            conn.execute(
                "INSERT INTO tickets (id, session_id, customer_id, reason, summary, status, "
                "created_at, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ticket.id,
                    session_id,
                    customer_id,
                    ticket.reason.value,
                    summary,
                    ticket.status.value,
                    _text(ticket.created_at),
                    tenant or self.default_tenant,
                ),
            )
        return ticket

    def open_ticket(self, session_id: str) -> Ticket | None:
        with self._connection() as conn:
            return _open_ticket(conn, session_id)

    def tickets(
        self, customer_id: str, *, tenant: str | None = None, assistant: str | None = None
    ) -> list[Ticket]:
        """The customer's tickets of their sessions with this assistant, newest first."""
        owner = (tenant or self.default_tenant, customer_id, assistant or self.default_assistant)
        with self._connection() as conn:
            rows = conn.execute(
                f"{_TICKET} WHERE tenant = ? AND customer_id = ? "
                "AND session_id IN (SELECT id FROM sessions WHERE assistant = ?) "
                "ORDER BY created_at DESC, rowid DESC",
                owner,
            ).fetchall()
        return [ticket_of(row) for row in rows]

    # -- pending write actions ---------------------------------------------------------

    def propose(self, session_id: str, action: PendingAction, *, tenant: str | None = None) -> None:
        """Remember ``action`` as the session's pending one (replacing an earlier one)."""
        with self._transaction() as conn:
            _owned_session(conn, session_id, action.customer_id, tenant or self.default_tenant)
            conn.execute(
                "INSERT OR REPLACE INTO pending_actions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    tenant or self.default_tenant,
                    action.customer_id,
                    action.intent,
                    action.tool,
                    json.dumps(dict(action.arguments)),
                    _text(self._now()),
                ),
            )

    def take_pending(
        self, session_id: str, customer_id: str, *, tenant: str | None = None
    ) -> PendingAction | None:
        """The session's pending action of this customer, removed (whatever the turn makes
        of it, it is taken once); None when there is none."""
        owner = (session_id, customer_id, tenant or self.default_tenant)
        where = "WHERE session_id = ? AND customer_id = ? AND tenant = ?"
        with self._connection() as conn:  # most turns have none: no write lock for them
            row = conn.execute(
                f"SELECT customer_id, intent, tool, arguments FROM pending_actions {where}", owner
            ).fetchone()
        if row is None:
            return None
        with self._transaction() as conn:
            same = f"{where} AND tool = ? AND arguments = ?"  # not one proposed since
            taken = conn.execute(f"DELETE FROM pending_actions {same}", (*owner, *row[2:])).rowcount
        if taken == 0:  # a concurrent turn of the session took or replaced it first
            return None
        return PendingAction(row[0], row[1], row[2], json.loads(row[3]))

    # -- feedback on answers ------------------------------------------------------------

    def rate(
        self,
        session_id: str,
        turn_id: int,
        customer_id: str,
        rating: Rating,
        comment: str = "",
        *,
        tenant: str | None = None,
        assistant: str | None = None,
    ) -> Feedback:
        """The customer's rating of an answer in their session with this assistant,
        replacing an earlier one; ``SessionNotFoundError`` or ``TurnNotFoundError``."""
        owner = (tenant or self.default_tenant, assistant or self.default_assistant)
        rated = Feedback(session_id, turn_id, Rating(rating), comment, self._now())
        with self._transaction() as conn:
            _owned_session(conn, session_id, customer_id, *owner)
            feedback.save(conn, rated)
        return rated

    def ratings(self, session_id: str) -> dict[int, Feedback]:
        """The session's ratings, by the index of the answer each rates."""
        with self._connection() as conn:
            return feedback.of_session(conn, session_id)

    def down_rated(
        self, *, assistant: str | None = None, since: datetime | None = None
    ) -> list[DownRated]:
        """Every tenant's thumbed-down answers (of ``assistant``, since ``since``)."""
        with self._connection() as conn:
            return feedback.down_rated(conn, assistant, since)

    # -- plumbing ----------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened on its first use, closed when the thread ends."""
        yield self._connections.get()

    def _open_connection(self) -> sqlite3.Connection:
        conn = self.file.connect(timeout_s=self._timeout_s)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed if the block returns, rolled back if it raises."""
        with self._connection() as conn, transaction(conn):
            yield conn


def _owned_session(
    conn: sqlite3.Connection,
    session_id: str,
    customer_id: str,
    tenant: str,
    assistant: str | None = None,
) -> Session:
    """The session if it is this customer's (and, when named, this assistant's)."""
    where, values = "id = ? AND customer_id = ? AND tenant = ?", [session_id, customer_id, tenant]
    if assistant is not None:
        where, values = f"{where} AND assistant = ?", [*values, assistant]
    row = conn.execute(f"{_SESSION} WHERE {where}", values).fetchone()
    if row is None:
        raise SessionNotFoundError(session_id)
    return session_of(row)


def _insert_user(
    conn: sqlite3.Connection, session_id: str, index: int, text: str, now: str
) -> None:
    conn.execute(
        "INSERT INTO turns (session_id, idx, role, content, created_at) VALUES (?, ?, ?, ?, ?)",
        (session_id, index, "user", text, now),
    )


def _insert_assistant(
    conn: sqlite3.Connection, session_id: str, index: int, record: AssistantRecord, now: str
) -> None:
    conn.execute(
        "INSERT INTO turns VALUES (?, ?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session_id,
            index,
            record.content,
            now,
            record.intent,
            record.confidence,
            json.dumps(list(record.cited_article_ids)),
            json.dumps([event_json(result) for result in record.tool_results]),
            None if record.handoff_reason is None else HandoffReason(record.handoff_reason).value,
            json.dumps(dict(record.timings_ms)),
            json.dumps(dict(record.usage)),
            record.model,
            None if record.answer_path is None else AnswerPath(record.answer_path).value,
        ),
    )


def _open_ticket(conn: sqlite3.Connection, session_id: str) -> Ticket | None:
    row = conn.execute(
        f"{_TICKET} WHERE session_id = ? AND status = ?", (session_id, TicketStatus.OPEN.value)
    ).fetchone()
    return None if row is None else ticket_of(row)


def new_ticket_id() -> str:
    """``T-`` and eight random hex digits: short to read out, not guessable in sequence."""
    return f"T-{secrets.token_hex(4).upper()}"


def _unused_ticket_id(conn: sqlite3.Connection) -> str:
    while True:
        ticket_id = new_ticket_id()
        if conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)).fetchone() is None:
            return ticket_id


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be at least 0, got {limit}")


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")
