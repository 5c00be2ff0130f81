"""Street lines of postal addresses in the formats customers write, and the sentences
with numbers and street words that are not addresses."""

from __future__ import annotations

import pytest

from switchboard.guard.street_address import street_lines

pytestmark = pytest.mark.unit


def lines(text: str, capitalises: bool = True) -> list[str]:
    return [text[start:end] for start, end in street_lines(text, capitalises)]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("Send it to 742 Evergreen Terrace, Springfield.", "742 Evergreen Terrace"),
        ("New address: 18 NW Alder Ct, Beaverton", "18 NW Alder Ct"),
        ("It's 3100 W 65th St, Apt 4B now", "3100 W 65th St, Apt 4B"),
        ("Please use Unit 7, 40 Mill Road for returns", "Unit 7, 40 Mill Road"),
        ("deliver to 2201 8 Ave NE please", "2201 8 Ave NE"),
        ("My office is at 960 S Halsted", "960 S Halsted"),
        ("Lieferadresse: Lindenallee 12, 50968 Köln", "Lindenallee 12"),
        ("Bitte an Marktstr. 3 schicken", "Marktstr. 3"),
        ("Indirizzo: Via dei Mille 14, Napoli", "Via dei Mille 14"),
        ("Envíalo a Calle del Pez 9, 2º A, Madrid", "Calle del Pez 9, 2º A"),
        ("Livraison au 7 avenue des Lilas, Grenoble", "7 avenue des Lilas"),
        ("ul. Polna 5/12, Poznań", "ul. Polna 5/12"),
        ("Send to P.O. Box 1187, Juneau", "P.O. Box 1187"),
        ("Tokyo address: 3-2-1 Roppongi Minato", "3-2-1 Roppongi Minato"),
    ],
)
def test_street_lines_in_common_formats(text: str, line: str) -> None:
    assert lines(text) == [line]


def test_a_street_name_in_lower_case_counts_where_the_writer_writes_in_lower_case() -> None:
    text = "ship it to 45 birch hill rd please"
    assert lines(text, capitalises=False) == ["45 birch hill rd"]
    assert lines(text, capitalises=True) == []


@pytest.mark.parametrize(
    "text",
    [
        "I walked 5 miles up the hill and the boots held up fine.",
        "The 2 person tent and 3 sleeping bags arrived, thanks!",
        "Order LK-123456 was 129.95 EUR, delivered on 12/03/2025.",
        "Is the 30 day return window the same for the 45 litre pack?",
        "Your store on Main Street was closed on Sunday.",
        "I gave the courier 20 minutes and he drove off down the road.",
    ],
)
def test_numbers_and_street_words_that_are_not_addresses(text: str) -> None:
    assert lines(text) == []


def test_a_sentences_full_stop_is_not_part_of_the_line() -> None:
    assert lines("My address is 12 Oak Ave. Please update it.") == ["12 Oak Ave"]
