"""What spaCy's small English model calls a name, cleaned up before it is reported.

``en_core_web_sm`` reads capitals: in German every noun has one, and in French, Spanish
or Italian messages it tags pieces of sentences ("sur mon compte", "Il pacco", "bin
Jürgen Hofmann"), greetings ("Gracias", "Bonjour") and titles ("Mrs Patricia
Hallworth"). A span it reports is:

- cut at a line break ("Thanh Nguyen\\nEmail");
- trimmed of words at either end that cannot be part of a name: stop words of English,
  German, French, Spanish and Italian, titles ("Mr", "Mme", "Dr"), greetings and
  sign-offs in those languages, and, where the writer uses capitals, words in lower case;
- dropped when nothing is left, when it names a company ("... GmbH", "... Ltd") or a card
  scheme ("Mastercard"), or is a short all-capital code ("JD");
- as a PERSON, dropped when a word in it is in lower case (the writer capitalises), or
  when it is one word that is not a given name (``gazetteers.first_names``): a surname
  alone comes with a title, which the cue recognizer reads;
- as a LOCATION that is one word, a given name and a country or region ("Jordan",
  "Georgia"), a person unless it is said as a place (``said_as_a_place``: "in Jordan",
  "Amman, Jordan"). Towns that are given names too ("Paris", "Denver") stay places.
"""

from __future__ import annotations

import re

from switchboard.guard.gazetteers import first_names, fold, is_country, region_names, stop_words

PERSON = "PERSON"
LOCATION = "LOCATION"
# fmt: off
TITLES = frozenset((
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "mme", "mlle", "m",
    "herr", "frau", "sr", "sra", "srta", "señor", "señora", "don", "doña", "signor",
    "signora", "sig", "aunt", "auntie", "uncle",
))
GREETINGS_AND_SIGN_OFFS = frozenset((
    "hi", "hello", "hey", "dear", "thanks", "thank", "cheers", "regards", "sincerely",
    "best", "kind", "ok", "okay", "sorry", "yes", "no", "good", "morning", "afternoon",
    "evening", "hola", "buenas", "buenos", "gracias", "saludos", "bonjour", "bonsoir",
    "merci", "cordialement", "salut", "hallo", "guten", "tag", "danke", "grüße", "gruß",
    "ciao", "buongiorno", "buonasera", "grazie", "saluti", "cordiali",
))
COMPANY_SUFFIXES = frozenset((
    "gmbh", "ag", "kg", "ltd", "llc", "inc", "plc", "corp", "co", "b.v", "bv", "nv", "sa",
    "sas", "sarl", "srl", "spa", "s.l", "sl", "oy", "ab", "as", "school", "hotel", "club",
))
CARD_SCHEMES = frozenset((
    "visa", "mastercard", "amex", "maestro", "discover", "jcb", "diners", "paypal",
))
# fmt: on
MAX_CODE_CHARS = 3
_WORD = re.compile(r"[^\s,;:()\"]+")
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|to|from|of|near|at|into|across|around|visiting|ship(?:ping)?|deliver(?:y)?)"
    r"|,)\s*(?:the\s+)?$",
    re.IGNORECASE,
)
PLACE_CONTEXT_CHARS = 20


def said_as_a_place(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` follows "in", "to", "from"... or a comma, or comes
    before a comma: how a place is named, and a person (mostly) not."""
    before = _PLACE_BEFORE.search(text, max(0, start - PLACE_CONTEXT_CHARS), start)
    return before is not None or text[end : end + 1] == ","


def clean_ner_span(text: str, kind: str, start: int, end: int) -> tuple[str, int, int] | None:
    """The type and span to report for NER's ``kind`` at ``text[start:end]``, or None."""
    line_end = text.find("\n", start, end)
    if line_end != -1:
        end = line_end
    cased = writes_capitals(text)
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    while words and not _may_be_in_a_name(text[slice(*words[0])], cased):
        words.pop(0)
    while words and not _may_be_in_a_name(text[slice(*words[-1])], cased):
        words.pop()
    if not words:
        return None
    values = [_bare(text[s:e]) for s, e in words]
    if _is_company_scheme_or_code(values):
        return None
    span = (words[0][0], words[-1][1])
    if kind == PERSON:
        return (PERSON, *span) if _may_be_a_person(values, cased) else None
    if len(values) == 1 and fold(values[0]) in first_names() and _is_region(values[0]):
        return (LOCATION if said_as_a_place(text, *span) else PERSON, *span)
    return (kind, *span)


def _is_region(value: str) -> bool:
    return is_country(value) or fold(value) in region_names()


def writes_capitals(text: str) -> bool:
    """Whether the writer uses capitals at all (not every message does)."""
    return any(ch.isupper() for ch in text)


_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)[^\w]*(\w)")


def capitalises(text: str) -> bool:
    """Whether the writer of ``text`` starts sentences with capitals."""
    starts = _SENTENCE_START.findall(text)
    return bool(starts) and all(c.isupper() for c in starts)


def _bare(word: str) -> str:
    return word.strip(".'\u2019-").removesuffix("'s").removesuffix("\u2019s")


def _may_be_in_a_name(word: str, cased: bool) -> bool:
    bare = _bare(word)
    lowered = bare.lower()
    if not bare or lowered in stop_words() or lowered in TITLES:
        return False
    if lowered in GREETINGS_AND_SIGN_OFFS or "'" in bare or "\u2019" in bare:
        return False  # "m'appelle", "l'adresse"
    return not cased or bare[0].isupper()


def _is_company_scheme_or_code(values: list[str]) -> bool:
    last = values[-1].lower().rstrip(".")
    if last in COMPANY_SUFFIXES or any(v.lower() in CARD_SCHEMES for v in values):
        return True
    return len(values) == 1 and values[0].isupper() and len(values[0]) <= MAX_CODE_CHARS


def _may_be_a_person(values: list[str], cased: bool) -> bool:
    if cased and any(not v[:1].isupper() for v in values):
        return False
    if any(len(v) > 1 and v.isupper() for v in values):
        return False  # "Ray ID": a code, not a name (initials are "R." or "R")
    return len(values) > 1 or fold(values[0]) in first_names()
