"""Coherent redaction: stable placeholders per conversation, restore, round-trip."""

from __future__ import annotations

import json

import pytest

from switchboard.guard.placeholders import Placeholders
from switchboard.guard.types import Category, Finding

pytestmark = pytest.mark.unit


def pii(text: str, value: str, entity: str, nth: int = 0) -> Finding:
    start = -1
    for _ in range(nth + 1):
        start = text.index(value, start + 1)
    return Finding(Category.PII, entity, start, start + len(value), 0.9)


def test_same_value_same_placeholder_across_turns() -> None:
    ph = Placeholders()
    first = "I'm Maria Gonzalez, email maria@gmail.com"
    second = "Maria Gonzalez again, and my husband Ken Ito"
    out1 = ph.redact(
        first,
        [pii(first, "Maria Gonzalez", "PERSON"), pii(first, "maria@gmail.com", "EMAIL_ADDRESS")],
    )
    out2 = ph.redact(
        second, [pii(second, "Maria Gonzalez", "PERSON"), pii(second, "Ken Ito", "PERSON")]
    )
    assert out1 == "I'm <PERSON_1>, email <EMAIL_ADDRESS_1>"
    assert out2 == "<PERSON_1> again, and my husband <PERSON_2>"
    assert len(ph) == 3


def test_same_text_different_types_get_separate_placeholders() -> None:
    ph = Placeholders()
    assert ph.placeholder_for("PERSON", "Paris") == "<PERSON_1>"
    assert ph.placeholder_for("LOCATION", "Paris") == "<LOCATION_1>"


def test_non_pii_findings_get_bare_type_and_are_not_restorable() -> None:
    ph = Placeholders()
    text = "you idiot, call 555"
    finding = Finding(Category.TOXICITY, "PROFANITY", 4, 9, 0.95)
    redacted = ph.redact(text, [finding])
    assert redacted == "you <PROFANITY>, call 555"
    assert ph.restore(redacted) == redacted
    assert len(ph) == 0


def test_restore_puts_values_back_and_leaves_unknown_placeholders() -> None:
    ph = Placeholders()
    text = "Send it to Ken Ito in Osaka"
    redacted = ph.redact(text, [pii(text, "Ken Ito", "PERSON"), pii(text, "Osaka", "LOCATION")])
    answer = f"Done: {redacted.split('to ')[1]}; <PERSON_7> is unknown"
    assert ph.restore(answer) == "Done: Ken Ito in Osaka; <PERSON_7> is unknown"
    assert ph.restore(redacted) == text


def test_redact_skips_overlapping_and_out_of_range_findings() -> None:
    ph = Placeholders()
    text = "card 4111 1111 1111 1111 ok"
    card = pii(text, "4111 1111 1111 1111", "CREDIT_CARD")
    inner = Finding(Category.PII, "PHONE_NUMBER", card.start + 5, card.end, 0.5)
    beyond = Finding(Category.PII, "PERSON", 100, 105, 0.9)
    assert ph.redact(text, [inner, card, beyond]) == "card <CREDIT_CARD_1> ok"


def test_json_round_trip_keeps_numbering() -> None:
    ph = Placeholders()
    ph.placeholder_for("PERSON", "Ana")
    ph.placeholder_for("PERSON", "Bo")
    ph.placeholder_for("US_SSN", "123-45-6780")
    restored = Placeholders.from_json(json.loads(json.dumps(ph.to_json())))
    assert restored.placeholder_for("PERSON", "Bo") == "<PERSON_2>"
    assert restored.placeholder_for("PERSON", "Cy") == "<PERSON_3>"
    assert restored.restore("<US_SSN_1>") == "123-45-6780"


def test_from_json_rejects_mismatched_placeholder() -> None:
    bad = {"entries": [{"type": "PERSON", "value": "Ana", "placeholder": "<EMAIL_ADDRESS_1>"}]}
    with pytest.raises(ValueError, match="not a placeholder of PERSON"):
        Placeholders.from_json(bad)


def test_mask_puts_the_placeholders_back_over_the_values() -> None:
    placeholders = Placeholders()
    ann = placeholders.placeholder_for("PERSON", "Ann")
    full = placeholders.placeholder_for("PERSON", "Ann Lee")
    text = "Hello Ann Lee, and Ann."
    assert placeholders.mask(text) == f"Hello {full}, and {ann}."
    assert placeholders.restore(placeholders.mask(text)) == text
