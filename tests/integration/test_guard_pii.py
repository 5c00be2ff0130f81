"""The PII detector with the real spaCy model and Presidio recognizers: types and spans,
the shop's non-PII, no network, the pattern-only path, and the evaluation end to end."""

from __future__ import annotations

import itertools
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import pytest
import tldextract

from switchboard.config import PiiSettings
from switchboard.guard import pii
from switchboard.guard.gazetteers import is_country
from switchboard.guard.injection_model import load_support
from switchboard.guard.name_cues import capitalised_prefix, recipient_type
from switchboard.guard.pii import (
    PiiDetector,
    is_phone_shaped,
    is_whole_words,
    may_name,
    resolve_overlaps,
)
from switchboard.guard.types import Category, Finding
from switchboard_bench.injection_eval import golden_messages
from switchboard_bench.pii_eval import Matching, evaluate
from switchboard_bench.pii_set import generate
from tests.unit.demo_shop import ORDER_IDS

pytestmark = pytest.mark.integration

ALLOWED = (ORDER_IDS.pattern,)  # the demo shop's order numbers are never PII

MESSAGE = (
    "Hi, my name is Maria Gonzalez. Please refund order LK-123456 (€49.99, bought on "
    "2 December) to DE89 3704 0044 0532 0130 00 or my card 4111 1111 1111 1111. "
    "Email maria.gonzalez@gmail.com or call +44 20 7946 0958."
)


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    found = PiiDetector(PiiSettings(), ALLOWED)
    found.load()
    return found


def spans(detector: PiiDetector, text: str) -> dict[str, str]:
    return {text[f.start : f.end]: f.type for f in detector.scan(text)}


def test_finds_each_kind_with_type_and_exact_span(detector: PiiDetector) -> None:
    found = spans(detector, MESSAGE)
    assert found == {
        "Maria Gonzalez": "PERSON",
        "DE89 3704 0044 0532 0130 00": "IBAN_CODE",
        "4111 1111 1111 1111": "CREDIT_CARD",
        "maria.gonzalez@gmail.com": "EMAIL_ADDRESS",
        "+44 20 7946 0958": "PHONE_NUMBER",
    }


def test_findings_sorted_non_overlapping_and_pii(detector: PiiDetector) -> None:
    findings = detector.scan(MESSAGE)
    assert all(f.category is Category.PII for f in findings)
    assert all(0.5 <= f.score <= 1.0 for f in findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))


def test_order_numbers_prices_dates_are_not_pii_and_countries_are_places(
    detector: PiiDetector,
) -> None:
    text = (
        "Order LK-482913 and lk 771204 cost 129.95 EUR on 12/03/2025; "
        "do you ship them to Germany or the United Kingdom by 2 December?"
    )
    assert spans(detector, text) == {"Germany": "LOCATION", "United Kingdom": "LOCATION"}


def test_another_shops_order_numbers_are_never_pii_when_allowed() -> None:
    hashed = re.compile(r"#(\d{10})\b")  # a shop whose order numbers look like phone numbers
    text = "Is order #2125550147 on its way? It is not AB-1234."
    assert spans(PiiDetector(PiiSettings(ner=False)), text) == {"2125550147": "PHONE_NUMBER"}
    allowed = (hashed, re.compile(r"\bAB-(\d{4})\b"))
    assert spans(PiiDetector(PiiSettings(ner=False), allowed), text) == {}


def test_ssn_ip_and_a_city(detector: PiiDetector) -> None:
    text = "I live in Leipzig, my SSN is 512-30-1802 and my IP is 203.0.113.7"
    assert spans(detector, text) == {
        "Leipzig": "LOCATION",
        "512-30-1802": "US_SSN",
        "203.0.113.7": "IP_ADDRESS",
    }


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records and refuses every name lookup and connection attempt."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        attempts.append(args)
        raise OSError(f"network disabled in this test: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_the_no_network_fixture_catches_tldextracts_default_fetch(
    no_network: list[object], tmp_path: Path
) -> None:
    """Stock tldextract with an empty cache tries to fetch the public suffix list, and the
    fixture sees it; otherwise the next test would prove nothing."""
    stock = tldextract.TLDExtract(cache_dir=str(tmp_path))
    stock("ana@posteo.de")
    assert no_network


def test_email_validation_makes_no_network_attempt(
    no_network: list[object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TLDEXTRACT_CACHE", str(tmp_path))  # no cached list to fall back on
    fresh = PiiDetector(PiiSettings(entities=["EMAIL_ADDRESS"], ner=False))
    text = "write to someone@mail.example.co.uk or ana@posteo.de"
    assert spans(fresh, text) == {
        "someone@mail.example.co.uk": "EMAIL_ADDRESS",
        "ana@posteo.de": "EMAIL_ADDRESS",
    }
    assert no_network == []


def test_pattern_only_path_finds_patterns_but_not_names() -> None:
    patterns = PiiDetector(PiiSettings(ner=False), ALLOWED)
    found = spans(patterns, MESSAGE)
    assert "Maria Gonzalez" not in found
    assert found["4111 1111 1111 1111"] == "CREDIT_CARD"
    assert found["+44 20 7946 0958"] == "PHONE_NUMBER"
    assert spans(patterns, "I live in Leipzig") == {}


def test_only_configured_entities_are_reported() -> None:
    cards_only = PiiDetector(PiiSettings(entities=["CREDIT_CARD"], ner=False), ALLOWED)
    assert set(spans(cards_only, MESSAGE).values()) == {"CREDIT_CARD"}


def test_concurrent_scans_agree(detector: PiiDetector) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(detector.scan, [MESSAGE] * 8))
    assert all(r == results[0] for r in results)


def test_evaluation_on_a_small_synthetic_set(detector: PiiDetector) -> None:
    report = evaluate(detector, generate(80, seed=11), types=PiiSettings().entities)
    overlap = report.reports[Matching.OVERLAP].micro
    strict = report.reports[Matching.STRICT].micro
    assert overlap.recall >= 0.85
    assert overlap.precision >= 0.85
    assert strict.tp <= overlap.tp
    assert report.negatives > 0
    payload = report.to_json()
    assert set(payload) >= {"strict", "overlap", "hard_negatives", "latency_ms"}


def test_overlaps_keep_higher_score_then_longer_span() -> None:
    def finding(kind: str, start: int, end: int, score: float) -> Finding:
        return Finding(Category.PII, kind, start, end, score)

    low_long = finding("PERSON", 0, 10, 0.6)
    high_short = finding("LOCATION", 2, 5, 0.9)
    tie_short = finding("PHONE_NUMBER", 20, 24, 0.7)
    tie_long = finding("US_SSN", 18, 26, 0.7)
    apart = finding("EMAIL_ADDRESS", 30, 40, 0.5)
    kept = resolve_overlaps([apart, low_long, tie_short, high_short, tie_long])
    assert kept == [high_short, tie_long, apart]


@pytest.mark.parametrize(
    ("value", "shaped"),
    [
        ("+44 20 7946 0958", True),
        ("030 12345678", True),
        ("16.99", False),  # a price phonenumbers takes for a German short number
        ("512-30-1802", False),  # an SSN's shape
        ("03303787576806", False),  # a DPD tracking number
    ],
)
def test_phone_shape(value: str, shaped: bool) -> None:
    assert is_phone_shaped(value) is shaped


def test_name_filters() -> None:
    assert is_country("the United Kingdom")
    assert is_country("USA")
    assert not is_country("Leipzig")
    assert capitalised_prefix("Hamburg Central and more") == "Hamburg Central"
    assert capitalised_prefix("January") == ""
    assert not is_whole_words("LB395289478GB", 11, 13)
    assert is_whole_words("to GB now", 3, 5)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("How long do I have to send back something I bought? Thanks!", False),
        ("What's the warranty on a trekking backpack? Cheers, I'm curious", False),
        ("can i return shoes", True),  # no capitals at all: no evidence either way
        ("Hi. how long does delivery to warsaw take?", True),
        ("I'm Maria, where is my parcel?", True),
        ("Maria here. Where is my parcel?", True),
        ("Can you ship to Leipzig?", True),
        ("My iPhone case arrived broken", True),
        ("Anna\u2019s order never came", True),
    ],
)
def test_text_without_a_capitalised_content_word_skips_ner(text: str, named: bool) -> None:
    assert may_name(text) is named


def test_skipping_ner_changes_no_finding_on_the_synthetic_set(
    detector: PiiDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where ``may_name`` lets a text skip NER, running it finds nothing more: the gate
    only saves time."""
    texts = [c.text for c in generate(300, seed=7)]
    texts += [t.lower() for t in texts[:50]]  # names without their capitals
    assert sum(not may_name(t) for t in texts) > 50
    gated = [detector.scan(t) for t in texts]
    monkeypatch.setattr(pii, "may_name", lambda text: True)
    assert [detector.scan(t) for t in texts] == gated


def test_card_expiry_and_security_code_next_to_a_card(detector: PiiDetector) -> None:
    text = "Card 4111 1111 1111 1111, expires 04/2027, the 3 digits on the back are 123."
    assert spans(detector, text) == {
        "4111 1111 1111 1111": "CREDIT_CARD",
        "04/2027": "CARD_EXPIRY",
        "123": "CARD_CVV",
    }


def test_no_card_data_in_the_benign_support_messages_and_golden_questions(
    detector: PiiDetector,
) -> None:
    texts = [m.text for m in load_support()] + [m for _, m in golden_messages()]
    found = [(t, f.type) for t in texts for f in detector.scan(t) if f.type.startswith("CARD_")]
    assert len(texts) > 400
    assert found == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please deliver to Sarah Mitchell at reception.", {"Sarah Mitchell": "PERSON"}),
        ("Ship it to Paul Green, not to me.", {"Paul Green": "PERSON"}),
        ("Please deliver the parcel to Sofia Rossi.", {"Sofia Rossi": "PERSON"}),
        ("Send the replacement to Lucas Meyer please.", {"Lucas Meyer": "PERSON"}),
        ("If I'm out, leave it with Austin Clarke next door.", {"Austin Clarke": "PERSON"}),
        ("Deliver to Lena Fischer in Graz.", {"Lena Fischer": "PERSON", "Graz": "LOCATION"}),
        ("Can you deliver it to Dublin instead?", {"Dublin": "LOCATION"}),
        ("Do you deliver to Rotterdam on Saturdays?", {"Rotterdam": "LOCATION"}),
    ],
)
def test_a_delivery_instructions_recipient_is_a_person_and_a_destination_a_place(
    detector: PiiDetector, text: str, expected: dict[str, str]
) -> None:
    """A name read as a town would be passed on (``keep = ["LOCATION"]``): the leak the
    dev split's recipients guard against."""
    assert spans(detector, text) == expected


def test_recipient_type_trusts_ners_person_and_takes_two_words_for_a_name() -> None:
    assert recipient_type("Tom", 10, 13, [(10, 13, "PERSON")]) == "PERSON"
    assert recipient_type("Sofia Rossi", 10, 21, [(10, 21, "LOCATION")]) == "PERSON"
    assert recipient_type("Dublin", 10, 16, [(10, 16, "LOCATION")]) == "LOCATION"
    assert recipient_type("Leeds", 10, 15, []) == "LOCATION"


# Phrasings written for these tests (none is in the dev or test split) of what the blind
# dev split found missed: street addresses and the places of an address, countries and
# regions, names in lower case or after a title, relation or sign-off; and of what it
# found misread: non-English words and companies as names.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please redirect LK-402211 to 58 Quarry Lane, Apt 2, Burlington, VT 05401.",
            {
                "58 Quarry Lane, Apt 2": "STREET_ADDRESS",
                "Burlington": "LOCATION",
                "VT": "LOCATION",
            },
        ),
        (
            "Neue Lieferadresse: Kastanienweg 9, 04109 Leipzig, Deutschland ist richtig.",
            {"Kastanienweg 9": "STREET_ADDRESS", "Leipzig": "LOCATION", "Deutschland": "LOCATION"},
        ),
        ("do you ship to new zealand or only to Australia?", {"Australia": "LOCATION"}),
        (
            "hey its priya, leave the box with mr okonjo downstairs",
            {"priya": "PERSON", "okonjo": "PERSON"},
        ),
        ("Mi hermana Carmen recoge el paquete, gracias.", {"Carmen": "PERSON"}),
        (
            "Wie kann ich die Jacke umtauschen? Liefern Sie auch am Samstag?",
            {},
        ),
        ("Refund to Alpenrad Touren GmbH, reference LK-332190.", {}),
    ],
)
def test_addresses_places_and_names_the_dev_split_found_missed(
    detector: PiiDetector, text: str, expected: dict[str, str]
) -> None:
    assert spans(detector, text) == expected
