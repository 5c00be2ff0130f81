"""``CitationScanner``: ``[n]`` markers found in a streamed answer as its pieces arrive;
``known_markers_only``: markers of sources that do not exist dropped from the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest

from switchboard.assistant.citations import CitationScanner, attribute, known_markers_only
from switchboard.assistant.prompt_budget import Citation, SourceChunk

pytestmark = pytest.mark.unit

SOURCES = [
    Citation(number, f"article-{number}", f"Article {number}", f"/help/article-{number}")
    for number in range(1, 13)
]


def numbers(citations: Iterable[Citation]) -> list[int]:
    return [c.number for c in citations]


def feed_all(scanner: CitationScanner, pieces: Iterable[str]) -> list[list[int]]:
    """What each piece completed, piece by piece."""
    return [numbers(scanner.feed(piece)) for piece in pieces]


def test_whole_marker_in_one_piece() -> None:
    scanner = CitationScanner(SOURCES[:3])

    assert feed_all(scanner, ["Returns take 30 days [2]."]) == [[2]]
    assert scanner.cited == [SOURCES[1]]


@pytest.mark.parametrize(
    "pieces",
    [
        ["30 days [", "1]."],
        ["30 days [1", "]."],
        ["30 days ", "[", "1", "]", "."],
    ],
)
def test_marker_split_across_pieces_is_reported_when_completed(pieces: list[str]) -> None:
    scanner = CitationScanner(SOURCES[:3])

    completed = feed_all(scanner, pieces)

    closing = next(i for i, piece in enumerate(pieces) if "]" in piece)
    assert completed[closing] == [1]
    assert all(found == [] for i, found in enumerate(completed) if i != closing)
    assert scanner.cited == [SOURCES[0]]


def test_two_digit_number_split_after_its_first_digit() -> None:
    scanner = CitationScanner(SOURCES)

    assert feed_all(scanner, ["see [1", "1]"]) == [[], [11]]
    assert numbers(scanner.cited) == [11]


def test_marker_listing_several_sources() -> None:
    scanner = CitationScanner(SOURCES[:3])

    assert feed_all(scanner, ["Both apply [1, 2]."]) == [[1, 2]]
    assert feed_all(scanner, ["[3,1]"]) == [[3]]
    assert numbers(scanner.cited) == [1, 2, 3]


def test_marker_listing_several_sources_split_across_pieces() -> None:
    scanner = CitationScanner(SOURCES[:3])

    assert feed_all(scanner, ["Both apply [1", ", ", "2]."]) == [[], [], [1, 2]]


def test_repeated_marker_is_reported_once() -> None:
    scanner = CitationScanner(SOURCES[:3])

    assert feed_all(scanner, ["A [1]. B [1", "]. C [2] [1]."]) == [[1], [2]]
    assert numbers(scanner.cited) == [1, 2]


def test_numbers_naming_no_source_cite_nothing() -> None:
    scanner = CitationScanner(SOURCES[:2])

    assert feed_all(scanner, ["A [7]. B [2, 9]. C [7] [", "0]."]) == [[2], []]
    assert numbers(scanner.cited) == [2]


def test_no_sources_cites_nothing_until_sources_are_added() -> None:
    scanner = CitationScanner([])

    assert feed_all(scanner, ["[1]"]) == [[]]
    assert scanner.cited == []
    scanner.extend(SOURCES[:1])
    assert feed_all(scanner, ["again [1]"]) == [[1]]


def test_open_bracket_followed_by_long_text_is_dropped() -> None:
    scanner = CitationScanner(SOURCES[:3])

    scanner.feed("Keep the receipt [")
    for _ in range(50):
        scanner.feed("and the original packaging of the item ")
        assert len(scanner._tail) < 16
    assert feed_all(scanner, ["1]."]) == [[]]  # "[<long text>1]" is no marker
    assert scanner.cited == []
    assert feed_all(scanner, ["Then [1]."]) == [[1]]


def test_short_tail_after_an_open_bracket_is_kept() -> None:
    scanner = CitationScanner(SOURCES[:3])

    assert feed_all(scanner, ["x [", "1", ",", " ", "3", "]"]) == [[], [], [], [], [], [1, 3]]


@pytest.mark.parametrize(
    "text",
    [
        "Press [Enter] to continue.",
        "Sizes [S/M/L] are in stock.",
        "The code [1a] and [ 1 ] and [1000] and [] are not markers.",
        "Closing ] before opening [ then text.",
    ],
)
def test_brackets_in_normal_text_cite_nothing(text: str) -> None:
    scanner = CitationScanner(SOURCES[:3])

    whole = numbers(scanner.feed(text))
    pieces = CitationScanner(SOURCES[:3])
    split = [n for found in feed_all(pieces, list(text)) for n in found]

    assert whole == []
    assert split == []
    assert scanner.cited == pieces.cited == []


def test_marker_after_unrelated_brackets_is_found() -> None:
    scanner = CitationScanner(SOURCES[:3])

    assert feed_all(scanner, ["Sizes [S/M/", "L] fit [", "2]."]) == [[], [], [2]]


def test_same_result_however_the_text_is_split() -> None:
    text = "Returns [1] take 30 days [2, 3]; see [7] and [1] again [3]."
    whole = CitationScanner(SOURCES[:3])
    whole.feed(text)
    for size in (1, 2, 3, 5):
        split = CitationScanner(SOURCES[:3])
        feed_all(split, [text[i : i + size] for i in range(0, len(text), size)])
        assert split.cited == whole.cited == SOURCES[:3]


# -- attribution of an answer without markers -----------------------------------------------

RETURNS = SourceChunk("returns.md", "Returns", "", "Unworn items can be returned within 30 days.")
SHIPPING = SourceChunk("shipping.md", "Shipping", "", "Standard delivery takes 3 business days.")


def test_attribute_finds_the_source_the_answer_took_its_facts_from() -> None:
    answer = "You can return unworn items within 30 days."
    assert attribute(answer, "Can I send my jacket back?", [SHIPPING, RETURNS]) == 2


def test_attribute_ignores_words_the_question_already_had() -> None:
    question = "How many business days does standard delivery take?"
    assert attribute("Standard delivery takes some business days.", question, [SHIPPING]) is None


def test_attribute_cites_nothing_for_an_answer_without_facts() -> None:
    assert attribute("I'm not sure about that.", "Do you sell kayaks?", [RETURNS, SHIPPING]) is None
    assert attribute("Anything.", "Question?", []) is None


# -- markers of sources that do not exist ---------------------------------------------------


def filtered(pieces: list[str], known: set[int]) -> list[str]:
    async def stream() -> AsyncIterator[str]:
        for piece in pieces:
            yield piece

    async def drain() -> list[str]:
        return [piece async for piece in known_markers_only(stream(), known)]

    return asyncio.run(drain())


@pytest.mark.parametrize(
    "pieces",
    [
        ["Returns take 30 days [5]."],
        ["Returns take 30 days", " [", "5", "]."],
        ["Returns take 30 days [5", "]", "."],
    ],
)
def test_a_marker_of_a_source_that_does_not_exist_is_dropped(pieces: list[str]) -> None:
    assert "".join(filtered(pieces, {1, 2, 3, 4})) == "Returns take 30 days."


def test_known_markers_stay_and_mixed_ones_keep_their_known_numbers() -> None:
    pieces = ["30 days [1", "] and free [2, 7", "] labels [9]", "."]

    assert "".join(filtered(pieces, {1, 2})) == "30 days [1] and free [2] labels."


def test_text_is_held_back_only_while_a_marker_may_be_open() -> None:
    pieces = ["Returns take ", "30 days [", "1] from delivery", " [see the list]"]

    out = filtered(pieces, {1})

    assert out[:2] == ["Returns take ", "30 days"]  # " [" waits: it may open a marker
    assert "".join(out) == "Returns take 30 days [1] from delivery [see the list]"
