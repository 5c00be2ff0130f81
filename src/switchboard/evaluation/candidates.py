"""Draft golden cases from thumbed-down answers, for a person to complete.

A draft has every field of a golden case (``golden.FIELDS``): the customer's question and
their earlier messages, personal data masked by ``redact``; what a good answer does is
left empty (``expected_intent`` null, no sources, no facts), the ``split`` is ``dev`` (a
case seen in production is tuned on; ``test`` cases are written apart) and the tags are
``["feedback"]``. Its ``review`` holds what the reviewer needs: the answer given and the
customer's comment (masked too), the intent it was given, and where it came from. A draft
does not load as a golden case until the reviewer has filled it in and removed ``review``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from switchboard.assistant.feedback import DownRated

Redact = Callable[[str], str]
DRAFT_TAG = "feedback"


def draft_case(item: DownRated, redact: Redact) -> dict[str, Any]:
    """One draft golden case (a JSON object) from a thumbed-down answer."""
    rated = item.feedback
    history = [redact(content) for role, content in item.history if role == "user"]
    return {
        "id": f"feedback-{rated.session_id[:8]}-{rated.turn_id}",
        "customer_id": item.customer_id,
        "history": [text for text in history if text.strip()],
        "message": redact(item.question),
        "expected_intent": None,
        "expected_sources": [],
        "must_include": [],
        "must_not_include": [],
        "expect_handoff": None,
        "order_api": "up",
        "tags": [DRAFT_TAG],
        "split": "dev",
        "review": {
            "answer": redact(item.answer),
            "comment": redact(rated.comment),
            "answered_intent": item.intent,
            "assistant": item.assistant,
            "tenant": item.tenant,
            "session_id": rated.session_id,
            "turn_id": rated.turn_id,
            "rated_at": rated.created_at.isoformat(),
        },
    }
