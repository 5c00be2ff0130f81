"""The synthetic PII set: deterministic, exact spans, valid values, every entity covered."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest

from switchboard.config import DEFAULT_PII_ENTITIES
from switchboard_bench.pii_set import (
    credit_card,
    email,
    fill,
    first_name,
    generate,
    iban,
    iban_mod97,
    luhn_valid,
    order_number,
    person,
    phone,
    ssn,
)

pytestmark = pytest.mark.unit


def test_same_seed_same_cases_other_seed_other_cases() -> None:
    assert generate(50, seed=3) == generate(50, seed=3)
    assert generate(50, seed=3) != generate(50, seed=4)


def test_spans_are_exactly_the_filled_values() -> None:
    template = "Hi {PERSON}, mail {EMAIL_ADDRESS} about {ORDER} from {FIRST_NAME}"
    case = fill(template, random.Random(0))
    replay = random.Random(0)  # the same draws in the same order give the filled values
    values = [person(replay), email(replay)]
    order = order_number(replay)
    values.append(first_name(replay))
    assert [s.type for s in case.spans] == ["PERSON", "EMAIL_ADDRESS", "PERSON"]
    assert [case.text[s.start : s.end] for s in case.spans] == values
    assert case.text == f"Hi {values[0]}, mail {values[1]} about {order} from {values[2]}"


def test_every_span_in_a_generated_set_is_well_formed() -> None:
    for case in generate(400, seed=1):
        previous_end = 0
        for span in case.spans:
            value = case.text[span.start : span.end]
            assert value
            assert value == value.strip()
            assert span.start >= previous_end
            previous_end = span.end


def test_covers_every_default_entity_and_hard_negatives() -> None:
    cases = generate(400, seed=2)
    seen = {span.type for case in cases for span in case.spans}
    assert seen == set(DEFAULT_PII_ENTITIES)
    negatives = [c for c in cases if c.is_negative]
    assert 60 <= len(negatives) <= 140
    assert any(re.search(r"LK-\d{6}", c.text) for c in negatives)


def test_unknown_slot_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown slot"):
        fill("hello {NOPE}", random.Random(0))


def test_cards_pass_luhn_and_keep_brand_lengths() -> None:
    rng = random.Random(5)
    for _ in range(200):
        card = credit_card(rng)
        digits = re.sub(r"\D", "", card)
        assert luhn_valid(card)
        assert len(digits) == (15 if digits[:2] in ("34", "37") else 16)
    assert not luhn_valid("4111 1111 1111 1112")


def test_ibans_pass_mod97_in_several_countries() -> None:
    rng = random.Random(6)
    countries = set()
    for _ in range(200):
        value = iban(rng)
        assert iban_mod97(value) == 1
        countries.add(value[:2])
    assert len(countries) >= 6
    assert iban_mod97("DE89 3704 0044 0532 0130 00") == 1  # a published example


def test_phones_are_valid_numbers_from_several_regions() -> None:
    rng = random.Random(7)
    regions = set()
    for _ in range(100):
        value = phone(rng)
        number = phonenumbers.parse(value, "US" if not value.startswith("+") else None)
        regions.add(value[:3])
        if value.startswith("+"):
            assert phonenumbers.is_valid_number(number)
    assert len(regions) >= 5


def test_ssns_are_in_issued_ranges() -> None:
    rng = random.Random(8)
    for _ in range(300):
        area, group, serial = ssn(rng).split("-")
        assert area not in ("000", "666")
        assert int(area) < 900
        assert group != "00"
        assert serial != "0000"
