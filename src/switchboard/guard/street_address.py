"""Street lines of postal addresses: where a customer lives, which identifies them.

A street line is one span, with its house number and the flat, unit or suite written on
the same line, in the common formats of:

- the US, Canada, the UK, Ireland and Australia: a number, the street's name and its
  type ("221 Baker Street", "2219 NE 41st Ave", "1509 17 Ave SW", "Flat 3, 41
  Coldharbour Lane", "500 Lake Shore Drive, Apt 12F"), or a direction and a name ("4419
  N Ravenswood");
- continental Europe and Latin America: a street type before the name and the number
  after it ("Via Garibaldi 22", "Calle de Alcalá 118, 3º B", "ul. Długa 17/4", "Av.
  Chapultepec Sur 284") or before it ("12 rue des Tanneurs"), or a compound street name
  ("Friedrichstraße 43", "Keizersgracht 214-II");
- Japan's block numbers ("1-4-12 Kichijoji Honcho");
- post office boxes and rural routes ("PO Box 442", "Rural Route 2, Box 18").

The street's name must start with a capital where the writer uses capitals at all
(``capitalises``), which keeps "walked 5 miles up the hill" from reading as an address;
in text written in lower case it may not. Its words are never English stop words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from spacy.lang.en.stop_words import STOP_WORDS

Span = tuple[int, int]

_NUMBER = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?(?:-[IVX]{1,4})?"
_WORD = r"[^\W\d_][\w'\u2019.-]*"
_ORDINAL = r"\d{1,4}(?:st|nd|rd|th)?"
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?"
_STREET_TYPE = (
    r"(?:street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|crescent"
    r"|cres|place|pl|way|terrace|ter|close|square|sq|parkway|pkwy|highway|hwy|circle|cir"
    r"|trail|trl|row|mews|grove|gardens|gdns|hill|walk|parade|pde|alley|loop|pike|plaza"
    r"|quay|wharf|esplanade|green|rise|vale|view|crossing|park)\.?"
)
# A street named without a number, after a house's name ("The Old Rectory, Church Lane").
UNNUMBERED_STREET = re.compile(rf", (?:[A-Z][\w'\u2019-]+ ){{1,3}}(?i:{_STREET_TYPE})(?=[,\n]|$)")
_UNIT = (
    r"(?:apt|apartment|flat|unit|suite|ste|room|rm|floor|fl|lot|box|#)\.?\s?[\w-]{1,6}"
    r"|\d{1,3}(?:st|nd|rd|th) floor"
)
# A number, a name (words or ordinals, optionally after a direction), a street type.
_NUMBERED = (
    rf"(?P<number>{_NUMBER}) (?:{_DIRECTION} )?(?P<name>(?:(?:{_WORD}|{_ORDINAL}) ){{0,3}}"
    rf"(?:{_WORD}|{_ORDINAL})) {_STREET_TYPE}(?: {_DIRECTION})?(?!\w)"
)
_NUMBER_DIRECTION = rf"(?P<number>{_NUMBER}) {_DIRECTION} (?P<name>{_WORD})(?!\w)"
_EU_PREFIX = (
    r"(?:via|viale|piazza|piazzale|corso|largo|vicolo|località|calle|carrer|avenida|paseo"
    r"|plaza|camino|rua|travessa|praça|rue|avenue|boulevard|chemin|allée|impasse|place|quai"
    r"|cours|ulica|strada|calea)(?!\.)|(?:avda|av|bd|ul|al|vul)\.?"
)
_CONNECTOR = r"(?:de|del|la|las|los|di|da|dei|delle|della|du|des|le|do|dos)"
_NAME_WORDS = rf"(?:(?:{_WORD}|{_CONNECTOR}|[IVX]{{1,4}}) ){{0,4}}{_WORD}"
_PREFIX_FIRST = rf"(?P<prefix>{_EU_PREFIX}) (?P<name>{_NAME_WORDS}) {_NUMBER}(?!\w)"
_NUMBER_PREFIX = rf"{_NUMBER},? (?P<prefix>{_EU_PREFIX}) (?P<name>{_NAME_WORDS})(?!\w)"
_COMPOUND = (
    r"(?P<name>[^\W\d_][\w'\u2019-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm"
    rf"|ufer|gracht|laan|straat|plein|kade|veien|vej|gatan|gata|vägen|gade|katu)) {_NUMBER}"
    r"(?!\w)"
)
_BLOCK = rf"\d{{1,4}}-\d{{1,4}}-\d{{1,4}} (?P<name>{_WORD}(?: {_WORD})?)"
_POST_BOX = r"(?i:p\.? ?o\.? box|post office box|rural route|rr) \d{1,6}(?:, (?i:box) \d{1,6})?"

_UNIT_BEFORE = rf"(?<![\w-])(?:(?i:{_UNIT}), )?"
_UNIT_AFTER = rf"(?:,? (?i:{_UNIT})|, \d{{1,3}}º ?[A-Z]?|, (?i:col|kv)\. [\w-]+(?: [\w-]+)?)?"
STREET_LINES = tuple(
    re.compile(_UNIT_BEFORE + rf"(?:{form})" + _UNIT_AFTER, re.IGNORECASE)
    for form in (
        _PREFIX_FIRST,
        _NUMBER_PREFIX,
        _NUMBERED,
        _NUMBER_DIRECTION,
        _COMPOUND,
        _BLOCK,
        _POST_BOX,
    )
)


def street_lines(text: str, capitalises: bool) -> list[Span]:
    """Spans of the street lines in ``text``, sorted; ``capitalises``: whether its writer
    uses capitals (then a street's name starts with one). Where two formats read
    overlapping lines, the longer wins."""
    found = [span for pattern in STREET_LINES for span in _matches(pattern, text, capitalises)]
    kept: list[Span] = []
    for start, end in sorted(found, key=lambda span: span[0] - span[1]):
        if all(end <= k_start or start >= k_end for k_start, k_end in kept):
            kept.append((start, end))
    return sorted(kept)


def _matches(pattern: re.Pattern[str], text: str, capitalises: bool) -> Iterator[Span]:
    """Plausible matches of ``pattern``; after an implausible one the search goes on from
    its second character, so it hides no line that starts inside it."""
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        if _plausible(match, capitalises):
            start, end = match.span()
            if text[end - 1] == "." and text[end : end + 1] in ("", " ", "\n"):
                end -= 1  # a sentence's full stop ("... Campbell Ave. Please")
            yield start, end
            pos = match.end()
        else:
            pos = match.start() + 1


def _plausible(match: re.Match[str], capitalises: bool) -> bool:
    name = match.groupdict().get("name")
    if name is None:  # a post office box or rural route
        return True
    words = [word for word in name.split() if not _is_connector(word)]
    if not words or any(word.lower() in STOP_WORDS for word in words):
        return False
    return not capitalises or words[0][0].isupper() or words[0][0].isdigit()


def _is_connector(word: str) -> bool:
    return re.fullmatch(_CONNECTOR, word, re.IGNORECASE) is not None
