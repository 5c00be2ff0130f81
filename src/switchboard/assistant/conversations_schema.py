"""The conversation store's SQLite schema: what a new database is created with, and the
migrations from each version to the next (run in the opening transaction)."""

from __future__ import annotations

import sqlite3

from switchboard.errors import FatalError

SCHEMA_VERSION = 6
# Version 2; a new database runs it, then the migrations after it.
SCHEMA = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sessions_by_customer ON sessions(customer_id, updated_at);
CREATE TABLE turns (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    intent TEXT,
    confidence REAL,
    cited_article_ids TEXT,
    tool_results TEXT,
    handoff_reason TEXT,
    timings_ms TEXT,
    usage TEXT,
    model TEXT,
    answer_path TEXT,
    PRIMARY KEY (session_id, idx)
);
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    summary TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX tickets_by_customer ON tickets(customer_id, created_at);
CREATE UNIQUE INDEX one_open_ticket_per_session ON tickets(session_id) WHERE status = 'open';
"""

BASE_VERSION = 2  # the version SCHEMA creates
# Each version's changes from the one before it; ``:default_tenant`` and
# ``:default_assistant`` are the store's (the rows written before a column existed get them).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE turns ADD COLUMN answer_path TEXT",),
    3: (
        "ALTER TABLE sessions ADD COLUMN tenant TEXT NOT NULL DEFAULT ''",
        "UPDATE sessions SET tenant = :default_tenant",
        "ALTER TABLE tickets ADD COLUMN tenant TEXT NOT NULL DEFAULT ''",
        "UPDATE tickets SET tenant = :default_tenant",
        "DROP INDEX sessions_by_customer",
        "DROP INDEX tickets_by_customer",
        "CREATE INDEX sessions_by_owner ON sessions(tenant, customer_id, updated_at)",
        "CREATE INDEX tickets_by_owner ON tickets(tenant, customer_id, created_at)",
    ),
    4: (
        """CREATE TABLE pending_actions (
            session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
            tenant TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            intent TEXT NOT NULL,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ),
    5: (
        "ALTER TABLE sessions ADD COLUMN assistant TEXT NOT NULL DEFAULT ''",
        "UPDATE sessions SET assistant = :default_assistant",
        "DROP INDEX sessions_by_owner",
        "CREATE INDEX sessions_by_owner ON sessions(tenant, assistant, customer_id, updated_at)",
    ),
    6: (
        """CREATE TABLE feedback (
            session_id TEXT NOT NULL,
            turn_idx INTEGER NOT NULL,
            rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
            comment TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (session_id, turn_idx),
            FOREIGN KEY (session_id, turn_idx) REFERENCES turns(session_id, idx)
                ON DELETE CASCADE
        )""",
        "CREATE INDEX feedback_by_rating ON feedback(rating, created_at)",
    ),
}


def migrate(conn: sqlite3.Connection, default_tenant: str, default_assistant: str) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    if not 0 <= version < SCHEMA_VERSION:
        raise FatalError(
            f"conversation database has schema version {version}; this code knows {SCHEMA_VERSION}"
        )
    statements = []
    if version == 0:
        statements = [s for s in SCHEMA.split(";") if s.strip()]
        version = BASE_VERSION
    statements += [s for v in range(version + 1, SCHEMA_VERSION + 1) for s in MIGRATIONS[v]]
    for statement in statements:  # executescript() would commit the open transaction
        conn.execute(
            statement, {"default_tenant": default_tenant, "default_assistant": default_assistant}
        )
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
