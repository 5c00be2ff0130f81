"""Street addresses and the places of an address, countries and regions named in a
message, and the given names that are also places."""

from __future__ import annotations

import pytest

from switchboard.guard.places import find_places

pytestmark = pytest.mark.unit


def places(text: str) -> list[tuple[str, str]]:
    return sorted({(kind, text[start:end]) for kind, start, end, _ in find_places(text)})


def test_a_us_address_gives_its_street_line_town_and_state() -> None:
    text = "Ship to 401 Pearl St, Apt 3, Boulder, CO 80302 please"
    assert places(text) == [
        ("LOCATION", "Boulder"),
        ("LOCATION", "CO"),
        ("STREET_ADDRESS", "401 Pearl St, Apt 3"),
    ]


def test_a_european_address_on_several_lines() -> None:
    text = "Neue Adresse:\nGoethestraße 21\n80336 München\nGermany\n\nDanke!"
    assert places(text) == [
        ("LOCATION", "Germany"),
        ("LOCATION", "München"),
        ("STREET_ADDRESS", "Goethestraße 21"),
    ]


def test_a_uk_postcode_is_skipped_and_the_country_kept() -> None:
    text = "It's 9 Rosemary Close, Harrogate, HG1 2AB, United Kingdom."
    assert places(text) == [
        ("LOCATION", "Harrogate"),
        ("LOCATION", "United Kingdom"),
        ("STREET_ADDRESS", "9 Rosemary Close"),
    ]


def test_a_named_house_or_farm_is_an_address_line_when_an_address_follows() -> None:
    text = "Post it to Hilltop Farm, Little Wenlock, Shropshire."
    assert places(text) == [
        ("LOCATION", "Little Wenlock"),
        ("LOCATION", "Shropshire"),
        ("STREET_ADDRESS", "Hilltop Farm"),
    ]
    assert places("We had lunch at the Town Hall yesterday.") == []


def test_the_address_ends_at_the_first_part_that_is_not_a_place() -> None:
    text = "I moved to 12 Cedar Lane and the parcel went to my old flat."
    assert places(text) == [("STREET_ADDRESS", "12 Cedar Lane")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Do you ship to New Zealand?", [("LOCATION", "New Zealand")]),
        ("I'm in Ottawa, Ontario for the winter", [("LOCATION", "Ontario")]),
        ("Does it ship to the Netherlands?", [("LOCATION", "Netherlands")]),
        ("My sister lives in Tulsa, OK.", [("LOCATION", "OK")]),
    ],
)
def test_countries_and_regions_named_in_a_message(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert places(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Georgia Mills placed the order for me.",  # a given name before a surname
        "Jordan is my daughter and used my card.",  # a given name said as a person
        "Hi, OK thanks, that solves it.",  # "OK" after a greeting, not a town
        "Do the boots come in UK sizes? I wear a 9 UK.",  # adjectives and sizes
    ],
)
def test_names_and_words_that_look_like_places(text: str) -> None:
    assert places(text) == []


def test_a_given_name_that_is_a_country_is_a_place_after_in_or_a_comma() -> None:
    assert places("We live in Jordan now.") == [("LOCATION", "Jordan")]
    assert places("Deliver to 4 King Hussein St, Amman, Jordan.") == [
        ("LOCATION", "Amman"),
        ("LOCATION", "Jordan"),
        ("STREET_ADDRESS", "4 King Hussein St"),
    ]
