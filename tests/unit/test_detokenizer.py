import pytest

from switchboard.engine.detokenizer import IncrementalDetokenizer

pytestmark = pytest.mark.unit

# A byte-level vocabulary: "é" is split across two tokens, "👍" across four.
PIECES = {
    1: b"caf",
    2: b"\xc3",
    3: b"\xa9",
    4: b" ",
    5: b"\xf0\x9f",
    6: b"\x91",
    7: b"\x8d",
    8: b"!",
}


def feed(detok: IncrementalDetokenizer, ids: list[int]) -> list[str]:
    return [detok.add(i) for i in ids] + [detok.flush()]


def test_multibyte_characters_are_never_split() -> None:
    detok = IncrementalDetokenizer(PIECES.__getitem__)
    chunks = feed(detok, [1, 2, 3, 4, 5, 6, 7, 8])
    assert chunks == ["caf", "", "é", " ", "", "", "👍", "!", ""]
    for chunk in chunks:
        chunk.encode("utf-8")  # every emitted piece is valid UTF-8
    assert detok.text == "café 👍!"


def test_truncated_character_at_the_end_becomes_replacement() -> None:
    detok = IncrementalDetokenizer(PIECES.__getitem__)
    assert "".join(feed(detok, [1, 2])) == "caf\ufffd"


def test_stop_string_across_tokens_is_held_back_then_cut() -> None:
    pieces = {1: b"Hello", 2: b" wor", 3: b"ld", 4: b" END", 5: b"more"}
    detok = IncrementalDetokenizer(pieces.__getitem__, stop=("world",))
    assert detok.add(1) == "Hello"
    assert detok.add(2) == " "  # "wor" could start "world": held back
    assert detok.add(3) == ""
    assert detok.stopped_on == "world"
    assert detok.add(4) == ""
    assert detok.text == "Hello "


def test_false_alarm_is_released() -> None:
    pieces = {1: b"wo", 2: b"nder"}
    detok = IncrementalDetokenizer(pieces.__getitem__, stop=("world",))
    assert detok.add(1) == ""
    assert detok.add(2) == "wonder"
    assert detok.stopped_on is None


def test_held_back_prefix_is_flushed_at_the_end() -> None:
    detok = IncrementalDetokenizer({1: b"end wor"}.__getitem__, stop=("world",))
    assert detok.add(1) == "end "
    assert detok.flush() == "wor"


def test_earliest_of_several_stops_wins() -> None:
    detok = IncrementalDetokenizer({1: b"a STOP b END"}.__getitem__, stop=("END", "STOP"))
    assert detok.add(1) == "a "
    assert detok.stopped_on == "STOP"
