"""Coherent redaction: one conversation's personal data replaced by stable placeholders.

The model sees ``<PERSON_1>`` every time the customer writes "Maria Gonzalez", so it can
still say "I've updated the address for <PERSON_1>", and ``restore`` puts the customer's
own values back before the answer is shown to them. The mapping is per conversation (the
assistant keeps it in memory per session; ``to_json`` makes it serialisable); the same
value always gets the same placeholder, a different value of the same type the next
number.

PII findings get numbered placeholders (``<EMAIL_ADDRESS_2>``); findings of other
categories (an injection, a profanity) get a bare ``<TYPE>`` and are not restorable:
there is nothing of the customer's to give back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from switchboard.guard.types import Category, Finding

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
_UNFINISHED = re.compile(r"<[A-Z0-9_]*$")  # what may still grow into a placeholder
LONGEST_PLACEHOLDER = 40  # "<EMAIL_ADDRESS_12>" is 18 characters


class Placeholders:
    """The value ↔ placeholder mapping of one conversation."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}  # (type, value) -> placeholder
        self._by_placeholder: dict[str, str] = {}  # placeholder -> value
        self._counts: dict[str, int] = {}  # type -> placeholders issued

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def placeholder_for(self, entity_type: str, value: str) -> str:
        """The placeholder of ``value``, issuing the type's next number the first time."""
        key = (entity_type, value)
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        number = self._counts.get(entity_type, 0) + 1
        self._counts[entity_type] = number
        placeholder = f"<{entity_type}_{number}>"
        self._by_value[key] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder

    def redact(self, text: str, findings: Iterable[Finding]) -> str:
        """``text`` with each finding's span replaced; overlapping findings must have been
        resolved by the detector (a finding starting inside an earlier one is skipped)."""
        parts: list[str] = []
        cursor = 0
        for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
            if finding.start < cursor or finding.end > len(text) or finding.start < 0:
                continue
            parts.append(text[cursor : finding.start])
            parts.append(self._replacement(finding, text[finding.start : finding.end]))
            cursor = finding.end
        parts.append(text[cursor:])
        return "".join(parts)

    def _replacement(self, finding: Finding, value: str) -> str:
        if finding.category is Category.PII:
            return self.placeholder_for(finding.type, value)
        return f"<{finding.type}>"

    def restore(self, text: str, escape: Callable[[str], str] | None = None) -> str:
        """``text`` with every placeholder this conversation issued replaced by its value
        (passed through ``escape`` first, if given); unknown placeholders (e.g. invented by
        the model) are left as they are."""

        def original(match: re.Match[str]) -> str:
            value = self._by_placeholder.get(match.group(0))
            if value is None:
                return match.group(0)
            return escape(value) if escape is not None else value

        return _PLACEHOLDER.sub(original, text)

    def mask(self, text: str) -> str:
        """``text`` with every value this conversation gave a placeholder replaced by it
        again (the inverse of ``restore``, for storing an answer that quoted the customer's
        own data back to them); longer values first, so a value inside another is not
        split."""
        for (_, value), placeholder in sorted(
            self._by_value.items(), key=lambda item: -len(item[0][1])
        ):
            text = text.replace(value, placeholder)
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": [
                {"type": entity_type, "value": value, "placeholder": placeholder}
                for (entity_type, value), placeholder in self._by_value.items()
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Placeholders:
        restored = cls()
        for entry in data.get("entries", []):
            entity_type, value, placeholder = entry["type"], entry["value"], entry["placeholder"]
            match = _PLACEHOLDER.fullmatch(placeholder)
            if match is None or match.group(1) != entity_type:
                raise ValueError(f"not a placeholder of {entity_type}: {placeholder!r}")
            restored._by_value[(entity_type, value)] = placeholder
            restored._by_placeholder[placeholder] = value
            number = int(match.group(2))
            restored._counts[entity_type] = max(restored._counts.get(entity_type, 0), number)
        return restored


class RestoringStream:
    """``Placeholders.restore`` over text that arrives in pieces (a tool call's arguments,
    streamed): a trailing ``<EMAIL_AD`` is held until the next piece shows whether it is
    a placeholder. ``escape`` is applied to restored values (JSON string escaping, for
    arguments)."""

    def __init__(self, placeholders: Placeholders, escape: Callable[[str], str] | None = None):
        self._placeholders = placeholders
        self._escape = escape
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        unfinished = _UNFINISHED.search(text, max(0, len(text) - LONGEST_PLACEHOLDER))
        cut = unfinished.start() if unfinished is not None else len(text)
        self._held = text[cut:]
        return self._placeholders.restore(text[:cut], self._escape)

    @property
    def held(self) -> str:
        return self._held

    def end(self) -> str:
        held, self._held = self._held, ""
        return held
