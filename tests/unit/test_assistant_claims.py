"""Checkable claims and their normal forms (``assistant.claims``)."""

from __future__ import annotations

import pytest

from switchboard.assistant.claims import ClaimKind, OptionWords, find_claims, number
from switchboard.demo import option_words_path

pytestmark = pytest.mark.unit

OPTIONS = OptionWords(
    [["United Kingdom", "UK"], ["DHL"], ["PayPal"], ["bank transfer", "prepayment"], ["Jersey"]]
)


def keys(text: str, options: OptionWords | None = OPTIONS) -> set[tuple[ClaimKind, tuple]]:
    return {(c.kind, c.key) for c in find_claims(text, options)}


def one(text: str) -> tuple[ClaimKind, tuple]:
    (claim,) = keys(text)
    return claim


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("It costs €4.95.", "It costs 4,95 €."),
        ("It costs EUR 4.95.", "It costs 4.95 euros."),
        ("Up to EUR 1,500.", "Up to €1500."),
        ("Only €5.", "Only €5.00."),
        ("within 30 days", "within thirty days"),
        ("a 30-day window", "within 30 days"),
        ("2 weeks", "14 days"),
        ("48 hours", "2 days"),
        ("a 2-year guarantee", "24 months"),
        ("twenty-four hours", "24h"),
        ("on 15 January", "on January 15th"),
        ("the 15th of January", "15. January"),
        ("by 2 pm", "by 14:00"),
        ("10%", "10 per cent"),
    ],
)
def test_the_same_fact_written_two_ways_has_one_key(a: str, b: str) -> None:
    assert keys(a) == keys(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("€4.95", "$4.95"),
        ("30 days", "30 months"),
        ("14 days", "30 days"),
        ("15 January", "16 January"),
        ("5 business days", "5 hours"),
        ("10%", "10"),
    ],
)
def test_different_facts_have_different_keys(a: str, b: str) -> None:
    assert keys(a) != keys(b)


def test_a_range_is_two_durations_of_its_unit() -> None:
    assert keys("It takes 3-5 business days.") == {
        (ClaimKind.DURATION, (3.0, "business_day")),
        (ClaimKind.DURATION, (5.0, "business_day")),
    }
    assert keys("1 to 2 business days") == keys("1-2 business days")


def test_a_date_with_its_year_is_a_date_and_a_number() -> None:
    assert keys("until 15 January 2027") == {
        (ClaimKind.DATE, (1, 15)),
        (ClaimKind.NUMBER, (2027.0,)),
    }
    assert (ClaimKind.DATE, (5, 7)) in keys('"estimated_delivery": "2024-05-07"')


def test_codes_urls_and_emails_are_claims_of_their_own() -> None:
    found = keys("Order LK-100214, tracking JD014600003828, see https://help.example/returns.")
    kinds = sorted(kind for kind, _ in found)
    assert kinds == [ClaimKind.CODE] * 3
    assert one("Write to help@larkspur.example") == (ClaimKind.CODE, ("helplarkspurexample",))


def test_markers_list_numbers_and_placeholders_are_not_facts() -> None:
    assert keys("1. Open your account <PERSON_1> and pick it.") == set()
    assert one("See the policy [2].") == (ClaimKind.SOURCE, (2,))
    assert keys("Sources [1, 3]") == {(ClaimKind.SOURCE, (1,)), (ClaimKind.SOURCE, (3,))}


def test_a_plain_number_and_number_words_without_a_unit() -> None:
    assert one("You can use 3 gift cards.") == (ClaimKind.NUMBER, (3.0,))
    assert keys("one of our colleagues will help") == set()


def test_named_options_by_alias_and_case() -> None:
    assert one("We ship to the UK.") == (ClaimKind.OPTION, ("united kingdom",))
    assert one("We ship to the United Kingdom.") == one("We ship to the UK.")
    assert keys("for uk plugs") == set()  # a short alias only in capitals
    assert one("Pay by Prepayment") == (ClaimKind.OPTION, ("bank transfer",))
    assert keys("a warm jersey") == set()  # listed with a capital: the island only
    assert one("DHL delivers it.") == (ClaimKind.OPTION, ("dhl",))


def test_the_demo_vocabulary_has_carriers_payment_methods_and_countries() -> None:
    options = OptionWords.from_file(option_words_path())
    found = {c.key[0] for c in find_claims("UPS, Klarna, Japan and the USA", options)}
    assert found == {"ups", "klarna", "japan", "united states"}


@pytest.mark.parametrize(
    ("written", "value"),
    [("1,500", 1500.0), ("4,95", 4.95), ("4.95", 4.95), ("30th", 30.0), ("thirty", 30.0),
     ("twenty-four", 24.0), ("seven", 7.0), ("what", None)],
)  # fmt: skip
def test_number_reads_numerals_and_number_words(written: str, value: float | None) -> None:
    assert number(written) == value
