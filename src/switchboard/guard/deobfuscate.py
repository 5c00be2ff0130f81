"""Views of a text with character-level disguises undone, for the injection classifier.

``bastioncorpus.decode.variants`` decodes payloads (base64, hex, rot13, leetspeak, the
whole text reversed, letters spaced out with spaces); customers' attacks also disguise
words in ways it leaves as they are, or reads into one run without word gaps:

- letters joined by a separator: ``r.e.v.e.a.l y.o.u.r`` becomes ``reveal your`` (the
  separator inside a word, spaces between words), ``ig-nore pre-vious`` becomes ``ignore
  previous``;
- each word spelled backwards, in their order: ``wohs em eht`` becomes ``show me the``;
  only where as many words read as common words of English, German, French, Spanish or
  Italian backwards as forwards;
- look-alike letters from other scripts and full-width forms ("ignore" written with
  Cyrillic or full-width letters), folded to Latin letters (Unicode NFKC plus a table of
  Cyrillic and Greek letters that look Latin).

Each function returns the new view, or ``None`` when it would not change the text. All
are single passes over the text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from switchboard.guard.gazetteers import stop_words

MIN_REVERSED_STOP_WORDS = 2
_LETTER = r"[^\W\d_]"
# Two or more letters with the same separator between each: "r.e.v.e.a.l", "m.e", "s-e-n-d".
_SEPARATED = re.compile(
    rf"(?<!\w){_LETTER}(?P<sep>[.\-_*·•|])(?:{_LETTER}(?P=sep))*{_LETTER}(?!\w)"
)
_SEPARATORS = re.compile(r"[.\-_*·•|]")
_HYPHEN_IN_WORD = re.compile(rf"(?<={_LETTER})-(?={_LETTER})")
_WORD = re.compile(rf"{_LETTER}+")
# Cyrillic and Greek letters drawn like Latin ones (NFKC leaves them as they are),
# escaped: on screen they cannot be told apart from the Latin letters in the comments.
_LOOK_ALIKE = (
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456"  # a e o p c y x i
    "\u0458\u0455\u0501\u04bb\u04cf\u0410\u0412\u0415"  # j s d h l A B E
    "\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425"  # K M H O P C T X
    "\u0406\u0408\u0405\u03b1\u03b5\u03b9\u03ba\u03bd"  # I J S a e i k n
    "\u03bf\u03c1\u03c4\u03c5\u03c7\u0391\u0392\u0395"  # o p t u x A B E
    "\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1"  # Z H I K M N O P
    "\u03a4\u03a5\u03a7"  # T Y X
)
_LOOK_ALIKES = str.maketrans(_LOOK_ALIKE, "aeopcyxijsdhlABEKMHOPCTXIJSaeiknoptuxABEZHIKMNOPTYX")


@functools.cache
def _stop_words() -> frozenset[str]:
    """Common words of three letters or more: shorter ones ("on", "ti") read as another
    one backwards too often."""
    return frozenset(word for word in stop_words() if len(word) > 2)


def joined_letters(text: str) -> str | None:
    """Letters that a separator holds apart, joined: ``r.e.v.e.a.l`` and ``ig-nore``."""
    joined = _SEPARATED.sub(lambda m: _SEPARATORS.sub("", m.group(0)), text)
    joined = _HYPHEN_IN_WORD.sub("", joined)
    return joined if joined != text else None


def words_reversed(text: str) -> str | None:
    """Each word spelled backwards, where at least as many of them read as common words
    backwards as forwards (and at least ``MIN_REVERSED_STOP_WORDS``): "now" is "won"
    backwards, but an ordinary sentence has more common words as it stands."""
    stop_words = _stop_words()
    forwards = backwards = 0
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        forwards += word in stop_words
        backwards += word[::-1] != word and word[::-1] in stop_words
    if backwards < max(MIN_REVERSED_STOP_WORDS, forwards):
        return None
    return _WORD.sub(lambda m: m.group(0)[::-1], text)


def latin_folded(text: str) -> str | None:
    """Full-width forms and Cyrillic or Greek look-alikes as Latin letters."""
    if text.isascii():
        return None
    folded = unicodedata.normalize("NFKC", text).translate(_LOOK_ALIKES)
    return folded if folded != text else None


def undisguised(text: str) -> list[str]:
    """Every view of ``text`` with a disguise undone; none when it has none."""
    found = (view(text) for view in (joined_letters, words_reversed, latin_folded))
    return [view for view in found if view is not None]
