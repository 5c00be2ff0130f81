"""Names and places after the cues customers write, without NER: titles, relations,
self-introductions and sign-offs in five languages, names in lower case, and what is not
a name (a stop word, a company, a common word after "its")."""

from __future__ import annotations

import pytest

from switchboard.guard.name_cues import CueRecognizer, capitalised_prefix, name_prefix
from switchboard.guard.name_filters import clean_ner_span

pytestmark = pytest.mark.unit


def cues(text: str) -> set[tuple[str, str]]:
    results = CueRecognizer().analyze(text, ["PERSON", "LOCATION"])
    return {(r.entity_type, text[r.start : r.end]) for r in results}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("please leave it with mrs. henderson at number 4", "henderson"),
        ("Bitte bei Frau Albrecht im Erdgeschoss abgeben.", "Albrecht"),
        ("my son Felix will pick it up", "Felix"),
        ("my roommate priya can sign for it", "priya"),
        ("Meine Tochter: Lena Brandt, sie holt es ab.", "Lena Brandt"),
        ("hola, soy lucia, mi pedido no llega", "lucia"),
        ("Je m'appelle Hélène Marchand et ma commande est en retard.", "Hélène Marchand"),
        ("Mi chiamo Paolo Neri, il mio ordine è in ritardo.", "Paolo Neri"),
        ("Thanks for checking.\nBest regards,\nT. Okonkwo", "T. Okonkwo"),
        ("Could you call me back? The number is in my account. Priyanka", "Priyanka"),
        ("the name on my order should be derek a. walsh, can u fix it", "derek a. walsh"),
        ("Name on card: Ingrid Solberg", "Ingrid Solberg"),
        ('The parcel was signed for by "P. Nakamura" apparently.', "P. Nakamura"),
    ],
)
def test_names_after_cues(text: str, name: str) -> None:
    assert ("PERSON", name) in cues(text)


def test_a_second_given_name_joined_by_or() -> None:
    found = cues("the courier can ask for tom or bella at the door")
    assert {("PERSON", "tom"), ("PERSON", "bella")} <= found


@pytest.mark.parametrize(
    "text",
    [
        "its way too small, can I swap it?",  # "its" + a common word
        "Thanks for your help, I'm happy with the exchange.",
        "this is great, thank you",
        "my brother will collect it",  # a relation without a name
        "Beneficiary: Alpenrad Touren GmbH, reference LK-204881",  # a company
        "Hi, OK thanks",
    ],
)
def test_no_name_where_none_is_written(text: str) -> None:
    assert {kind for kind, _ in cues(text)} <= {"LOCATION"}


def test_a_name_prefix_keeps_initials_and_stops_at_stop_words() -> None:
    assert capitalised_prefix("K. Lambert signed") == "K. Lambert"
    assert capitalised_prefix("I'm on the water") == ""
    assert name_prefix("marge delaney and my order", surname=True) == "marge delaney"
    assert name_prefix("josé ordered it", surname=False) == "josé"
    assert name_prefix("waterproof jacket", surname=True) == ""  # not a given name
    assert name_prefix("okafor at 17", surname=False, after_title=True) == "okafor"


@pytest.mark.parametrize(
    ("text", "kind", "found", "expected"),
    [
        ("Ich bin Jürgen Weiss aus Köln", "PERSON", "bin Jürgen Weiss", ("PERSON", "Jürgen Weiss")),
        ("Kind regards,\nMrs Ada Brennan", "PERSON", "Mrs Ada Brennan", ("PERSON", "Ada Brennan")),
        (
            "Name: Tuan Pham\nEmail: t@example.com",
            "PERSON",
            "Tuan Pham\nEmail",
            ("PERSON", "Tuan Pham"),
        ),
        ("Il pacco è arrivato rotto", "PERSON", "Il pacco", None),
        ("Veuillez rembourser sur mon compte", "PERSON", "Veuillez", None),
        ("Bitte die Lieferung stornieren", "PERSON", "Lieferung", None),  # not a given name
        ("Paid with Mastercard yesterday", "LOCATION", "Mastercard", None),
        ("Refund to Bergwerk Touren GmbH please", "PERSON", "Bergwerk Touren GmbH", None),
        ("Error 1020, Ray ID 8a1f2c", "PERSON", "Ray ID", None),
        ("Billing name is Jordan", "LOCATION", "Jordan", ("PERSON", "Jordan")),
        ("Can you ship it to Denver?", "LOCATION", "Denver", ("LOCATION", "Denver")),
        ("We moved to Georgia last year", "LOCATION", "Georgia", ("LOCATION", "Georgia")),
    ],
)
def test_what_ner_calls_a_name_is_cleaned_up(
    text: str, kind: str, found: str, expected: tuple[str, str] | None
) -> None:
    start = text.index(found)
    cleaned = clean_ner_span(text, kind, start, start + len(found))
    assert (cleaned and (cleaned[0], text[cleaned[1] : cleaned[2]])) == expected


def test_a_cue_reads_words_of_a_names_length_only() -> None:
    """A value is at most three words of 40 characters, starting a word: what keeps a
    cue's search linear on a 100 kB word or "a.a.a..."."""
    assert cues("A" + "a" * 100 + " here") == set()
    assert cues("Nadia here") == {("PERSON", "Nadia")}
