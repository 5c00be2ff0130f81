"""The golden evaluation set: hand-written chat cases with the answer's expected facts.

One JSON object per line of ``golden.jsonl`` (packaged next to the shop's articles). A
case names the asking customer, the earlier user messages of its conversation, the
message to answer, and what a good answer does: its intent, the articles it cites, the
facts it states (each a list of alternative spellings, matched case-insensitively as
substrings), the strings it must not contain, and whether it offers or creates a human
handoff. ``order_api`` says whether the Order API is up while the case runs. ``split``
is ``dev`` (cases the assistant may be tuned on) or ``test`` (customer-style questions written
apart, by someone who saw neither the assistant nor the dev cases: measure on them, never
tune on them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from switchboard.demo import golden_set_path

Handoff = Literal["offered", "ticket"]
OrderApi = Literal["up", "down"]
Split = Literal["dev", "test"]
Fact = tuple[str, ...]  # alternative spellings of one fact; any one of them counts

HANDOFFS: frozenset[str] = frozenset({"offered", "ticket"})
ORDER_API_STATES: frozenset[str] = frozenset({"up", "down"})
SPLITS: tuple[Split, ...] = ("dev", "test")
FIELDS = (
    "id",
    "customer_id",
    "history",
    "message",
    "expected_intent",
    "expected_sources",
    "must_include",
    "must_not_include",
    "expect_handoff",
    "order_api",
    "tags",
    "split",
)


@dataclass(frozen=True)
class GoldenCase:
    id: str
    customer_id: str
    history: tuple[str, ...]  # earlier user messages of the conversation, sent first
    message: str
    expected_intent: str | None  # None: the intent is not scored
    expected_sources: tuple[str, ...]  # article file names, e.g. "returns-window.md"
    must_include: tuple[Fact, ...]
    must_not_include: tuple[str, ...]
    expect_handoff: Handoff | None
    order_api: OrderApi
    tags: tuple[str, ...]
    split: Split


def default_golden_path() -> Path:
    """The golden set shipped with the package."""
    return golden_set_path()


def load_golden(path: Path) -> list[GoldenCase]:
    """Every case of the file, in order; blank lines are skipped.

    Raises ``ValueError`` naming the file and line number on the first bad line.
    """
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(parse_case(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as exc:
            reason = str(exc).splitlines()[0]
            raise ValueError(f"{path.name} line {number}: {reason}") from exc
    return cases


def parse_case(row: Any) -> GoldenCase:
    """One case from its decoded JSON object; ``ValueError`` if a field is missing or bad."""
    if not isinstance(row, Mapping):
        raise ValueError("expected a JSON object")
    missing = [name for name in FIELDS if name not in row]
    if missing:
        raise ValueError(f"missing field {missing[0]!r}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    return GoldenCase(
        id=_text(row, "id"),
        customer_id=_text(row, "customer_id"),
        history=_texts(row, "history"),
        message=_text(row, "message"),
        expected_intent=_intent(row["expected_intent"]),
        expected_sources=_texts(row, "expected_sources"),
        must_include=tuple(_fact(value) for value in _list(row, "must_include")),
        must_not_include=_texts(row, "must_not_include"),
        expect_handoff=_handoff(row["expect_handoff"]),
        order_api=_order_api(row["order_api"]),
        tags=_texts(row, "tags"),
        split=_split(row["split"]),
    )


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {name!r} must be a non-empty string")
    return value


def _list(row: Mapping[str, Any], name: str) -> list[Any]:
    value = row[name]
    if not isinstance(value, list):
        raise ValueError(f"field {name!r} must be a list")
    return value


def _texts(row: Mapping[str, Any], name: str) -> tuple[str, ...]:
    values = _list(row, name)
    if not all(isinstance(value, str) and value.strip() for value in values):
        raise ValueError(f"field {name!r} must hold non-empty strings")
    return tuple(values)


def _fact(value: Any) -> Fact:
    """A fact is a string or a non-empty list of alternative strings."""
    alternatives = [value] if isinstance(value, str) else value
    if (
        not isinstance(alternatives, list)
        or not alternatives
        or not all(isinstance(alt, str) and alt.strip() for alt in alternatives)
    ):
        raise ValueError(f"bad must_include fact {value!r}")
    return tuple(alternatives)


def _intent(value: Any) -> str | None:
    """An intent's name (checked against the assistant's when the set runs), or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected_intent must be an intent's name or null, not {value!r}")
    return value


def _split(value: Any) -> Split:
    if value not in SPLITS:
        raise ValueError(f"split must be 'dev' or 'test', not {value!r}")
    return cast(Split, value)


def _handoff(value: Any) -> Handoff | None:
    if value is not None and (not isinstance(value, str) or value not in HANDOFFS):
        raise ValueError(f"expect_handoff must be null, 'offered' or 'ticket', not {value!r}")
    return cast(Handoff | None, value)


def _order_api(value: Any) -> OrderApi:
    if not isinstance(value, str) or value not in ORDER_API_STATES:
        raise ValueError(f"order_api must be 'up' or 'down', not {value!r}")
    return cast(OrderApi, value)


__all__ = ["Fact", "GoldenCase", "default_golden_path", "load_golden", "parse_case"]
