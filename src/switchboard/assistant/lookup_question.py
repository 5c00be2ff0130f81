"""Whether a lookup message also asks what an article answers.

"Where is LK-100214?" is answered by the order's status. "Tracking says delivered
yesterday but there's nothing here. What now?" is routed to the lookup too, but the
customer also asks what to do, which the status does not say and an article does. The
best chunk's cosine does not tell the two apart, so the question is read instead: the
message, record numbers left out, is split into sentences, and it asks beyond the status
when one of its asking sentences (``focus.is_asking``, or a question word after a
preposition or a comma: "at what point", "by when", "..., how long") says nothing the
status answers: none of the definition's ``[lookup] status_words`` (the shop's: where,
status, tracking number, shipped, arrived, delivered, news...). A message that only tells
("tracking has said 'in transit' since Wednesday.") asks nothing beyond the status.
"""

from __future__ import annotations

import re

from switchboard.assistant.focus import is_asking, sentences
from switchboard.order_ids import OrderIdFormat

_ASKS_INSIDE = re.compile(
    r"\b(?:at|by|from|in|until|till|up to) (?:what|which|when)\b|"
    r",\s*(?:how|what|when|why|can|could)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]")


def asks(sentence: str) -> bool:
    """Whether ``sentence`` asks something: its question word at the start, after a
    preposition or after a comma ("returned it, how long until I see the money")."""
    if not _WORD.search(sentence):
        return False
    return is_asking(sentence) or _ASKS_INSIDE.search(sentence) is not None


def asks_beyond_status(
    message: str, order_ids: OrderIdFormat, status_words: re.Pattern[str] | None
) -> bool:
    """Whether ``message`` asks something its record's status does not answer (without
    ``status_words``, whether it asks anything at all)."""
    text = order_ids.replace(message)
    return any(
        asks(s) and (status_words is None or not status_words.search(s)) for s in sentences(text)
    )
