"""Street addresses, and the towns, regions and countries of addresses and of messages.

- ``STREET_ADDRESS``: a street line (``street_address``). It identifies where a person
  lives, so unlike a town it is redacted: its own type keeps it out of
  ``guard.pii.keep``'s ``LOCATION``.
- ``LOCATION``, after a street line: the parts of the address that follow it, separated
  by commas or line breaks ("..., Whitby, YO21 3PN, United Kingdom", "... Boise ID
  83702", "...\\n1016 DZ Amsterdam\\nNetherlands"): the town, the region (a name or a
  code such as "OR" or "QLD") and the country; postcodes are skipped, and the tail ends
  at the first part that is not a place (a stop word, a digit, a sentence's end).
- ``LOCATION`` anywhere: a country or a region named in capitals ("I'm in Brisbane,
  Australia", "do you ship to Ohio?"), and a region code right after a town ("Springfield,
  MO"). A name that is also a given name ("Jordan", "Georgia") counts only after "in",
  "to", "from"... or a comma, or before a comma: "Jordan is my daughter" names a person.

Towns outside addresses are left to NER. Scores: a street line 0.95, a place of an
address 0.9 (both above NER's 0.85: spaCy reads "Hawthorne St" or "Ely" as people), a
country or region elsewhere 0.88 (above NER, which reads "Wien" as a person; below the
name cues' 0.9: "my name is Georgia").
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from switchboard.guard.gazetteers import (
    first_names,
    fold,
    is_country,
    region_codes,
    region_names,
    stop_words,
)
from switchboard.guard.name_filters import GREETINGS_AND_SIGN_OFFS, capitalises, said_as_a_place
from switchboard.guard.street_address import UNNUMBERED_STREET, street_lines

STREET_ADDRESS = "STREET_ADDRESS"
LOCATION = "LOCATION"
PLACE_ENTITIES = (STREET_ADDRESS, LOCATION)
STREET_SCORE = 0.95
ADDRESS_PLACE_SCORE = 0.9
GAZETTEER_SCORE = 0.88
MAX_TAIL_PARTS = 4
MAX_PLACE_WORDS = 4

Span = tuple[int, int]
# US ZIP, German/French/Italian/Spanish... digits, Polish, UK and Canadian codes (each half
# is a token of its own), and the two letters after a Dutch postcode's four digits.
_POSTCODE = re.compile(
    r"\d{4,5}(?:-\d{3,4})?|\d{2}-\d{3}|[A-Z]{1,2}\d[A-Z\d]?|\d[A-Z]{2}|[A-Z]\d[A-Z]|\d[A-Z]\d"
)
_DUTCH_LETTERS = re.compile(r"[A-Z]{2}")
_PART = re.compile(r"[ \t]*(?:,[ \t]*|\n[ \t]*)?(?P<part>[^,\n.!?;:()\"]+)")
_TOKEN = re.compile(r"\S+")
_CAPITALISED_RUN = re.compile(
    r"(?<![\w-])(?:[Tt]he )?[A-Z][\w'\u2019.-]*(?: (?:of|and|de|del|du)? ?[A-Z][\w'\u2019.-]*){0,3}"
)
# A region's code after a town and a comma, before a ZIP code, a capital, punctuation or
# a stop word ("Springfield, IL but ...", not "Hi, OK thanks").
_AFTER_TOWN = re.compile(
    r"(?P<town>[A-Z][\w'\u2019-]+), (?P<code>[A-Z]{2,3})"
    r"(?=$|[.,!?;)\n]|\s+\d|\s+[A-Z]|\s+(?P<next>[a-z]+))"
)
_NAMED_PLACE = re.compile(
    r"(?:Camp [A-Z][\w'\u2019-]+|(?:[A-Z][\w'\u2019-]+ ){1,3}(?:Farm|Hall|Halls|House|Cottage|Lodge"
    r"|Manor|Rectory|Barn|Mill|Estate|Mobile Home Park|Caravan Park|Trailer Park)(?!\w))"
    r"(?P<unit>, (?i:room|lot|unit|flat|apt|suite|cabin) [\w-]+)?"
)
_AFTER_NUMBER = re.compile(r"\d ?$")
_WORD_AFTER = re.compile(r" (?P<word>[a-z]+)\b")
_CONNECTORS = frozenset(("im", "am", "an", "der", "upon", "on", "sur", "de", "del", "la", "le"))


def find_places(text: str) -> list[tuple[str, int, int, float]]:
    """``(type, start, end, score)`` of street lines, places of addresses, and countries
    and regions named elsewhere."""
    cased = capitalises(text)
    found: list[tuple[str, int, int, float]] = []
    for start, end in address_lines(text, cased):
        found.append((STREET_ADDRESS, start, end, STREET_SCORE))
        found += [(LOCATION, s, e, ADDRESS_PLACE_SCORE) for s, e in address_tail(text, end, cased)]
    found += [(LOCATION, s, e, GAZETTEER_SCORE) for s, e in named_regions(text)]
    return found


def address_lines(text: str, cased: bool) -> list[Span]:
    """Street lines, and named places written as an address's first line: a farm, hall,
    camp or park with a room or lot ("Hollis Hall, Room 214"), before a street line
    ("Pollock Halls, 18 Holyrood Park Road") or before a town and a region ("Trewidden
    Farm, St Buryan, Cornwall"), with the street it is on ("The Old Rectory, Church
    Lane")."""
    streets = street_lines(text, cased)
    lines = list(streets)
    for match in _NAMED_PLACE.finditer(text):
        start, end = match.span()
        if any(start < s_end and s_start < end for s_start, s_end in lines):
            continue
        after = next((s for s in streets if s[0] == _skip_comma(text, end)), None)
        if after is None and (street := UNNUMBERED_STREET.match(text, end)) is not None:
            end = street.end()
        if after is not None:
            lines = [line for line in lines if line != after] + [(start, after[1])]
        elif match.group("unit") or len(address_tail(text, end, cased)) >= 2:
            lines.append((start, end))
    return sorted(lines)


def _skip_comma(text: str, end: int) -> int:
    return end + 2 if text[end : end + 2] == ", " else -1


def address_tail(text: str, end: int, cased: bool) -> list[Span]:
    """The town, region and country written after the street line ending at ``end``."""
    places: list[Span] = []
    pos = end
    for _ in range(MAX_TAIL_PARTS):
        match = _PART.match(text, pos)
        if match is None or not match.group("part").strip() or text.startswith(":", match.end()):
            break  # the end of the text, or a label ("Carrier: UPS")
        tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text, *match.span("part"))]
        separated = any(ch in ",\n" for ch in text[pos : match.start("part")])
        parsed = _place_part(text, tokens, cased, first=pos == end and not separated)
        if parsed is None:
            break
        places += parsed
        pos = match.end()
    return places


def _place_part(text: str, tokens: list[Span], cased: bool, first: bool) -> list[Span] | None:
    """The places of one part of an address ("Boise ID 83702", "1016 DZ Amsterdam"), or
    None when it is not one. ``first``: the part follows the street line after a space
    only, and is one only with a postcode or a region code ("po box 442 talkeetna ak")."""
    words = [t for i, t in enumerate(tokens) if not _is_postcode(text, tokens, i)]
    had_postcode = len(words) < len(tokens)
    places: list[Span] = []
    if words and _is_code(text[words[-1][0] : words[-1][1]], cased):
        places.append(words.pop())
    if words:
        if not _is_place_name([text[s:e] for s, e in words], cased):
            return None
        places.insert(0, (words[0][0], words[-1][1]))
    if first and not (had_postcode or len(places) > 1):
        return None
    return places if places or had_postcode else None


def _is_postcode(text: str, tokens: list[Span], i: int) -> bool:
    token = text[tokens[i][0] : tokens[i][1]]
    if _POSTCODE.fullmatch(token):
        return True
    previous = text[tokens[i - 1][0] : tokens[i - 1][1]] if i else ""
    return bool(_DUTCH_LETTERS.fullmatch(token)) and previous.isdigit() and len(previous) == 4


def _is_code(token: str, cased: bool) -> bool:
    """A region's code: in capitals, or in a text written in lower case, any case but a
    stop word's ("in", "or")."""
    if token.upper() not in region_codes():
        return False
    return token.isupper() or (not cased and token.lower() not in stop_words())


def _is_place_name(words: list[str], cased: bool) -> bool:
    if len(words) > MAX_PLACE_WORDS:
        return False
    for i, word in enumerate(words):
        lowered = word.lower()
        if i and lowered in _CONNECTORS:
            continue
        if any(ch.isdigit() for ch in word) or lowered in stop_words():
            return False
        if cased and not word[0].isupper():
            return False
    return True


def named_regions(text: str) -> list[Span]:
    """Countries and regions named in capitals, and region codes right after a town."""
    spans = []
    for match in _CAPITALISED_RUN.finditer(text):
        start, end = match.span()
        name = match.group(0).rstrip(".")
        end = start + len(name)
        if name.lower().startswith("the "):
            start, name = start + 4, name[4:]
        if _is_region(name) and _not_a_persons_name(text, name, start, end):
            if name.isupper() and (_adjective(text, end) or _AFTER_NUMBER.search(text, 0, start)):
                continue  # "my US card", "UK sizes", "a size 8 UK"
            spans.append((start, end))
    spans += [
        m.span("code")
        for m in _AFTER_TOWN.finditer(text)
        if m.group("code") in region_codes()
        and m.group("town").lower() not in GREETINGS_AND_SIGN_OFFS
        and (m.group("next") is None or m.group("next") in stop_words())
    ]
    return spans


def _adjective(text: str, end: int) -> bool:
    """Whether a word other than a stop word follows ``end`` in lower case."""
    after = _WORD_AFTER.match(text, end)
    return after is not None and after.group("word") not in stop_words()


def _is_region(name: str) -> bool:
    return is_country(name) or fold(name) in region_names()


def _not_a_persons_name(text: str, name: str, start: int, end: int) -> bool:
    if name.isupper() or fold(name) not in first_names():  # "UK" is no one's name
        return True
    return said_as_a_place(text, start, end)


class PlaceRecognizer(LocalRecognizer):
    """``find_places`` as a Presidio recognizer of ``STREET_ADDRESS`` and ``LOCATION``."""

    def __init__(self) -> None:
        super().__init__(supported_entities=list(PLACE_ENTITIES), name="PlaceRecognizer")

    def load(self) -> None:
        """Nothing to load: the gazetteers load on first use."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(kind, start, end, score)
            for kind, start, end, score in find_places(text)
            if kind in entities
        ]
