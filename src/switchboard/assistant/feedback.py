"""Feedback on the assistant's answers: one rating (thumbs up or down) per answer, with an
optional comment, kept beside the answer in the conversation store's ``feedback`` table.

The comment is stored as the customer wrote it: it is shown to no one but its author, and
goes to no model, cache or log; whatever hands it to people (``switchboard eval
candidates``) redacts it with the rest of the conversation. A second rating of the same
answer replaces the first. ``down_rated`` reads the thumbed-down answers back, each with
the question it answered and the conversation before it, for drafting golden cases.
"""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from switchboard.errors import TurnNotFoundError

MAX_COMMENT_CHARS = 1000
HISTORY_MESSAGES = 10  # of the conversation before a thumbed-down question


class Rating(enum.StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Feedback:
    session_id: str
    turn_id: int  # the answer's index in its session (the ``done`` event's ``turn_id``)
    rating: Rating
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class DownRated:
    """A thumbed-down answer with what it answered and who asked."""

    feedback: Feedback
    tenant: str
    assistant: str
    customer_id: str
    question: str
    answer: str
    intent: str | None
    history: tuple[tuple[str, str], ...]  # (role, content) before the question, oldest first


def save(conn: sqlite3.Connection, feedback: Feedback) -> None:
    """Insert or replace the answer's rating; ``TurnNotFoundError`` when the session holds
    no assistant answer at ``turn_id`` (the session's ownership is checked before)."""
    row = conn.execute(
        "SELECT role FROM turns WHERE session_id = ? AND idx = ?",
        (feedback.session_id, feedback.turn_id),
    ).fetchone()
    if row is None or row[0] != "assistant":
        raise TurnNotFoundError(feedback.session_id, feedback.turn_id)
    conn.execute(
        "INSERT OR REPLACE INTO feedback (session_id, turn_idx, rating, comment, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            feedback.session_id,
            feedback.turn_id,
            Rating(feedback.rating).value,
            feedback.comment,
            feedback.created_at.isoformat(timespec="microseconds"),
        ),
    )


def of_session(conn: sqlite3.Connection, session_id: str) -> dict[int, Feedback]:
    """The session's ratings by the index of the answer they rate."""
    rows = conn.execute(
        "SELECT turn_idx, rating, comment, created_at FROM feedback WHERE session_id = ?",
        (session_id,),
    ).fetchall()
    return {
        idx: Feedback(session_id, idx, Rating(rating), comment, datetime.fromisoformat(at))
        for idx, rating, comment, at in rows
    }


def down_rated(
    conn: sqlite3.Connection, assistant: str | None, since: datetime | None
) -> list[DownRated]:
    """The thumbed-down answers (of ``assistant``, rated at or after ``since``), oldest
    rating first."""
    where, values = ["f.rating = 'down'"], []
    if assistant is not None:
        where.append("s.assistant = ?")
        values.append(assistant)
    if since is not None:
        where.append("f.created_at >= ?")
        values.append(since.astimezone(UTC).isoformat(timespec="microseconds"))
    rows = conn.execute(
        "SELECT f.session_id, f.turn_idx, f.comment, f.created_at, s.tenant, s.assistant, "
        "s.customer_id, a.content, a.intent, q.content "
        "FROM feedback f JOIN sessions s ON s.id = f.session_id "
        "JOIN turns a ON a.session_id = f.session_id AND a.idx = f.turn_idx "
        "LEFT JOIN turns q ON q.session_id = f.session_id AND q.idx = f.turn_idx - 1 "
        f"WHERE {' AND '.join(where)} ORDER BY f.created_at, f.rowid",
        values,
    ).fetchall()
    return [_down_rated(conn, row) for row in rows]


def _down_rated(conn: sqlite3.Connection, row: tuple[Any, ...]) -> DownRated:
    session_id, turn_id, comment, created_at, tenant, assistant, customer = row[:7]
    answer, intent, question = row[7:]
    earlier = conn.execute(
        "SELECT role, content FROM turns WHERE session_id = ? AND idx < ? "
        "ORDER BY idx DESC LIMIT ?",
        (session_id, turn_id - 1, HISTORY_MESSAGES),
    ).fetchall()
    rated = Feedback(session_id, turn_id, Rating.DOWN, comment, datetime.fromisoformat(created_at))
    history = tuple((role, content) for role, content in reversed(earlier))
    return DownRated(rated, tenant, assistant, customer, question or "", answer, intent, history)
