"""The shop's order numbers as people type them, shared by the assistant's router (which
looks them up), the PII detector (they are never personal data) and the cache's false-hit
guard (two questions about two orders are different questions).

``LK-123456`` in any case, with a hyphen, an en dash, a space or nothing between the
letters and exactly six digits. Word boundaries keep out longer digit runs and words
ending in "lk".
"""

from __future__ import annotations

import re

ORDER_ID = re.compile(r"\bLK[-\u2013 ]?(\d{6})\b", re.IGNORECASE)


def extract_order_ids(text: str) -> tuple[str, ...]:
    """The order numbers in ``text`` as ``LK-123456``, in order of appearance, once each."""
    found = (f"LK-{digits}" for digits in ORDER_ID.findall(text))
    return tuple(dict.fromkeys(found))
