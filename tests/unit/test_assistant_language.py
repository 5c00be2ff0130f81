"""The language check: which messages are in a language other than English, and which."""

from __future__ import annotations

import json

import pytest

from switchboard.assistant.language import ENGLISH, LANGUAGES, detect_language, evidence
from switchboard.evaluation.golden import default_golden_path
from tests.unit.demo_shop import OTHER_LANGUAGE
from tests.unit.language_samples import SAMPLES

pytestmark = pytest.mark.unit


def dev_messages() -> list[tuple[bool, str]]:
    """Every message of the golden set's dev split (earlier turns too): whether it is
    tagged ``non_english``, and its text."""
    rows = []
    for line in default_golden_path().read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if case["split"] == "dev":
            rows += [(False, text) for text in case["history"]]
            rows.append(("non_english" in case["tags"], case["message"]))
    return rows


@pytest.mark.parametrize(("language", "text"), SAMPLES)
def test_a_written_sample_is_named_right(language: str, text: str) -> None:
    assert detect_language(text) == language, evidence(text)


def test_no_english_message_of_the_dev_split_is_taken_for_another_language() -> None:
    english = [text for tagged, text in dev_messages() if not tagged]
    assert [text for text in english if detect_language(text) != ENGLISH] == []


def test_every_non_english_message_of_the_dev_split_is_noticed() -> None:
    tagged = [text for is_tagged, text in dev_messages() if is_tagged]
    assert len(tagged) >= 4
    assert [text for text in tagged if detect_language(text) == ENGLISH] == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "LK-100214",
        "Danke!",  # one word of German: a greeting, not a language
        "Merci beaucoup",
        "Hauptstraße 5, 10115 Berlin",  # a letter and no words: never enough
    ],
)
def test_too_little_evidence_stays_english(text: str) -> None:
    assert detect_language(text) == ENGLISH


def test_an_english_message_quoting_another_language_stays_english() -> None:
    text = "My German friend wrote 'ich habe die Jacke nicht bekommen' - what does she do now?"
    assert detect_language(text) == ENGLISH, evidence(text)


def test_every_language_named_has_its_reply() -> None:
    assert set(OTHER_LANGUAGE) == set(LANGUAGES) - {ENGLISH}
