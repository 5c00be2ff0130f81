"""Claims in a text that can be checked mechanically, each in a normal form.

``find_claims`` reads numbers, amounts, percentages, durations, dates, times, codes
(order and tracking numbers, URLs, e-mail addresses), named options and citation markers
out of a text, so that an answer's claims and its sources' facts compare equal whatever
way they are written:

- "€4.95", "4,95 €", "EUR 4.95" and "4.95 euros" are one amount; "EUR 1,500" is 1500;
- "30 days", "thirty days" and "30-day" are one duration, "2 weeks" is "14 days", "48
  hours" is "2 days", "2 years" is "24 months"; "3-5 business days" is two durations;
- "15 January", "January 15th", "15th of January" and "2027-01-15" are one date (a year
  written with it is a number claim of its own); "2 pm" is "14:00";
- a named option (a carrier, a payment method, a country) is a phrase of the option
  vocabulary, any of its aliases ("UK" | "United Kingdom") standing for it.

Patterns are tried in the order of ``_KINDS`` and a span is claimed once, so "30-day" is
a duration and not also the number 30. Citation markers, list numbers ("1." at a line's
start) and the guard's placeholders (``<PERSON_1>``) are not facts and are skipped.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from switchboard.guard.gazetteers import country_names, fold


class ClaimKind(enum.StrEnum):
    SOURCE = "source"  # a citation marker [n]
    CODE = "code"  # a URL, an e-mail address, an order or tracking number
    DATE = "date"
    TIME = "time"
    AMOUNT = "amount"
    PERCENT = "percent"
    DURATION = "duration"
    NUMBER = "number"
    OPTION = "option"


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    key: tuple[object, ...]  # the normal form: equal keys state the same fact
    text: str  # as written
    start: int
    end: int


# -- the option vocabulary -------------------------------------------------------------------


class OptionWords:
    """Names of options an answer may not invent: each a group of aliases that stand for
    one option ("United Kingdom", "UK"). A name listed with a capital must be written
    with one ("Jersey" the island, not a jersey), and one of at most three letters in
    capitals ("US", not "us")."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        self.groups: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, tuple[str, str]] = {}  # folded alias -> (its group, as listed)
        for group in groups:
            names = tuple(dict.fromkeys(" ".join(n.split()) for n in group if n.strip()))
            if names:
                key = fold(names[0])
                self.groups[key] = names
                self._names.update((fold(n), (key, n)) for n in names)
        written = {form for n in self._names.values() for form in (n[1], fold(n[1]))}
        alternatives = "|".join(re.escape(n) for n in sorted(written, key=len, reverse=True))
        self.pattern = re.compile(
            rf"(?<![\w.])(?:{alternatives or '(?!x)x'})(?![\w])", re.IGNORECASE
        )

    def canonical(self, written: str) -> str | None:
        """The option ``written`` names, or None (not in the capitals it is listed with)."""
        text = " ".join(written.split())
        found = self._names.get(fold(text))
        if found is None:
            return None
        key, listed = found
        if len(listed.replace(".", "")) <= 3 and not text.isupper():
            return None
        if listed[:1].isupper() and not text[:1].isupper():
            return None
        return key

    @classmethod
    def from_file(cls, path: Path, *, countries: bool = True) -> OptionWords:
        """One option per line, aliases separated by ``|``; ``#`` starts a comment.
        ``countries`` adds every country name (``guard.gazetteers``) not in the file."""
        groups = [
            [name.strip() for name in line.split("#", 1)[0].split("|")]
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
        groups = [[n for n in g if n] for g in groups if any(g)]
        if countries:
            listed = {fold(n) for g in groups for n in g}
            groups += [[_capitalised(n)] for n in sorted(country_names()) if n not in listed]
        return cls(groups)


def _capitalised(name: str) -> str:
    """A lower-cased country name as written: "United Kingdom", "UK", "Bosnia and ..."."""
    if len(name.replace(".", "")) <= 3:
        return name.upper()
    return " ".join(w if w in {"and", "of", "the"} else w[:1].upper() + w[1:] for w in name.split())


# -- patterns --------------------------------------------------------------------------------

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
          "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
          "eighteen": 18, "nineteen": 19}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?"
_WORDS = (
    rf"(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(list(_UNITS)[1:10])}))?"
    rf"|{'|'.join(sorted(_UNITS, key=len, reverse=True))}"
)
_QTY = rf"(?:{_NUM}|\b(?:{_WORDS})\b)"
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")  # fmt: skip
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_CURRENCY = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD",
             "usd": "USD", "dollar": "USD", "dollars": "USD", "£": "GBP", "gbp": "GBP",
             "pound": "GBP", "pounds": "GBP", "chf": "CHF", "franc": "CHF",
             "francs": "CHF"}  # fmt: skip
_SYMBOL = r"€|\$|£|\b(?:EUR|USD|GBP|CHF)\b"
_CURRENCY_AFTER = r"€|\$|£|\b(?:EUR|USD|GBP|CHF|euros?|dollars?|pounds?|francs?)\b"
# Units in a base: minutes (hours, days, weeks), months (years), business days.
_MINUTES = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "h": 60, "day": 1440, "week": 10080}
_MONTHS_OF = {"month": 1, "year": 12}
_UNIT = r"(?:minutes?|mins?|hours?|hrs?|h|days?|weeks?|months?|years?)"

_B = r"(?<![\w.,])"  # a number starts here, not inside a word or another number
_FINDERS: list[tuple[ClaimKind, re.Pattern[str]]] = [
    (ClaimKind.SOURCE, re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")),
    (
        ClaimKind.CODE,  # a URL or an e-mail address
        re.compile(
            r"(?:https?://|www\.)[^\s<>()\[\]\"']+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
            r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>()\[\]\"']*",
            re.IGNORECASE,
        ),
    ),
    (ClaimKind.OPTION, re.compile(r"(?!x)x")),  # the vocabulary's pattern, when given
    (
        ClaimKind.DATE,
        re.compile(
            rf"\b(?P<d>\d{{1,2}}){_ORDINAL}\.?\s(?:of\s)?(?P<m>{_MONTH})(?:,?\s(?P<y>\d{{4}}))?\b"
            rf"|\b(?P<m2>{_MONTH})\s(?P<d2>\d{{1,2}}){_ORDINAL}\b(?:,?\s(?P<y2>\d{{4}})\b)?"
            r"|\b(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})"
            r"(?:T(?P<hh>\d{2}):(?P<mm>\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?",
            re.IGNORECASE,
        ),
    ),
    (
        ClaimKind.TIME,
        re.compile(
            r"\b(?P<h>\d{1,2}):(?P<m>\d{2})(?::\d{2})?(?:\s?(?P<ap>[ap]\.?m\b\.?))?"
            r"|\b(?P<h2>\d{1,2})\s?(?P<ap2>[ap]\.?m\b\.?)",
            re.IGNORECASE,
        ),
    ),
    (
        ClaimKind.AMOUNT,
        re.compile(
            rf"(?P<c>{_SYMBOL})\s?(?P<v>{_NUM})|{_B}(?P<v2>{_NUM})\s?(?P<c2>{_CURRENCY_AFTER})",
            re.IGNORECASE,
        ),
    ),
    (ClaimKind.PERCENT, re.compile(rf"{_B}(?P<v>{_QTY})\s?(?:%|per\s?cent\b)", re.IGNORECASE)),
    (
        ClaimKind.DURATION,
        re.compile(
            rf"{_B}(?P<a>{_QTY})(?:\s?(?:-|\u2013|\u2014|to|or)\s?(?P<b>{_QTY}))?[\s-]?"
            rf"(?P<kind>(?:business|working|calendar|bank)[\s-])?(?P<unit>{_UNIT})\b",
            re.IGNORECASE,
        ),
    ),
    (
        ClaimKind.CODE,  # an order, tracking or product number: letters and digits
        re.compile(
            r"(?<![\w<])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?![\w>])"
            r"|(?<![\w<])(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{6,}(?![\w>])"
        ),
    ),
    (ClaimKind.NUMBER, re.compile(rf"{_B}(?:{_NUM})(?:{_ORDINAL})(?![\w])")),
]
_NUMERAL = re.compile(rf"{_B}(?:{_NUM})|\b(?:{_WORDS})\b", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")
_LIST_NUMBER = re.compile(rf"(?m)^[ \t]*\d{{1,2}}[.)](?=\s)(?!\s+{_MONTH})", re.IGNORECASE)


def find_claims(text: str, options: OptionWords | None = None) -> list[Claim]:
    """The checkable claims of ``text``, in order of position."""
    taken = [False] * len(text)
    for span in _skipped(text):
        taken[span[0] : span[1]] = [True] * (span[1] - span[0])
    claims: list[Claim] = []
    for kind, pattern in _FINDERS:
        if kind is ClaimKind.OPTION:
            if options is None:
                continue
            pattern = options.pattern
        for match in pattern.finditer(text):
            start, end = _trimmed(match)
            if start == end or any(taken[start:end]):
                continue
            found = list(_READERS[kind](match, options))
            if not found:
                continue
            taken[start:end] = [True] * (end - start)
            claims += [Claim(kind, key, text[start:end], start, end) for kind, key in found]
    return sorted(claims, key=lambda c: c.start)


def _skipped(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (_PLACEHOLDER, _LIST_NUMBER):
        for match in pattern.finditer(text):
            yield match.span()


def _trimmed(match: re.Match[str]) -> tuple[int, int]:
    """A match without the sentence's punctuation a URL or code may have swallowed."""
    start, end = match.span()
    while end > start and match.string[end - 1] in ".,;:!?":
        end -= 1
    return start, end


# -- readers: a match to its claims' (kind, key) ---------------------------------------------

Found = Iterator[tuple[ClaimKind, tuple[object, ...]]]


def number(written: str) -> float | None:
    """The value of a numeral ("1,500", "4,95", "4.95", "30th") or number word ("thirty",
    "twenty-four"); a comma before exactly three digits groups thousands."""
    word = written.lower().strip()
    if word[:1].isdigit():
        digits = re.sub(r"(?:st|nd|rd|th)$", "", word)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits):
            digits = digits.replace(",", "")
        try:
            return round(float(digits.replace(",", ".")), 4)
        except ValueError:
            return None
    parts = re.split(r"[- ]", word)
    if parts[0] in _TENS:
        return float(_TENS[parts[0]] + (_UNITS.get(parts[1], 0) if len(parts) > 1 else 0))
    return float(_UNITS[word]) if word in _UNITS else None


def numerals(text: str) -> set[float]:
    """Every number in ``text``, in digits or words ("three gift cards"), whatever it counts."""
    return {v for m in _NUMERAL.finditer(text) if (v := number(m.group())) is not None}


def _source(match: re.Match[str], _: OptionWords | None) -> Found:
    for n in re.findall(r"\d+", match.group(1)):
        yield ClaimKind.SOURCE, (int(n),)


def _code(match: re.Match[str], _: OptionWords | None) -> Found:
    yield ClaimKind.CODE, (code_form(_trimmed_text(match)),)


def code_form(text: str) -> str:
    """A code as compared: lower case, letters and digits only, no scheme or ``www.``."""
    text = re.sub(r"^(?:https?://)?(?:www\.)?", "", text.lower())
    return re.sub(r"[^a-z0-9]", "", text)


def _trimmed_text(match: re.Match[str]) -> str:
    start, end = _trimmed(match)
    return match.string[start:end]


def _option(match: re.Match[str], options: OptionWords | None) -> Found:
    key = options.canonical(match.group()) if options is not None else None
    if key is not None:
        yield ClaimKind.OPTION, (key,)


def _date(match: re.Match[str], _: OptionWords | None) -> Found:
    g = match.groupdict()
    day, month, year = (
        g["d"] or g["d2"] or g["d3"],
        g["m"] or g["m2"] or g["m3"],
        g["y"] or g["y2"] or g["y3"],
    )
    month_number = int(month) if month.isdigit() else _month(month)
    if month_number is None or not (1 <= int(day) <= 31 and 1 <= month_number <= 12):
        return
    yield ClaimKind.DATE, (month_number, int(day))
    if year is not None:
        yield ClaimKind.NUMBER, (float(year),)
    if g["hh"] is not None:
        yield ClaimKind.TIME, (int(g["hh"]), int(g["mm"]))


def _month(word: str) -> int | None:
    word = word.lower().rstrip(".")
    for number_, name in enumerate(_MONTHS, 1):
        if name.startswith(word[:3]) and (len(word) <= 4 or name == word):
            return number_
    return None


def _time(match: re.Match[str], _: OptionWords | None) -> Found:
    hour = int(match.group("h") or match.group("h2"))
    minute = int(match.group("m") or 0)
    after = (match.group("ap") or match.group("ap2") or "").lower()
    if after.startswith("p") and hour < 12:
        hour += 12
    elif after.startswith("a") and hour == 12:
        hour = 0
    if hour <= 24 and minute < 60:
        yield ClaimKind.TIME, (hour, minute)


def _amount(match: re.Match[str], _: OptionWords | None) -> Found:
    currency = _CURRENCY[(match.group("c") or match.group("c2")).lower()]
    value = number(match.group("v") or match.group("v2"))
    if value is not None:
        yield ClaimKind.AMOUNT, (currency, value)


def _percent(match: re.Match[str], _: OptionWords | None) -> Found:
    value = number(match.group("v"))
    if value is not None:
        yield ClaimKind.PERCENT, (value,)


def _duration(match: re.Match[str], _: OptionWords | None) -> Found:
    unit = match.group("unit").lower().rstrip("s")
    business = (match.group("kind") or "").lower().startswith(("business", "working", "bank"))
    for written in (match.group("a"), match.group("b")):
        value = number(written) if written else None
        if value is None:
            continue
        if business and unit == "day":
            yield ClaimKind.DURATION, (value, "business_day")
        elif unit in _MONTHS_OF:
            yield ClaimKind.DURATION, (value * _MONTHS_OF[unit], "month")
        else:
            yield ClaimKind.DURATION, (value * _MINUTES[unit], "minute")


def _number(match: re.Match[str], _: OptionWords | None) -> Found:
    value = number(match.group())
    if value is not None:
        yield ClaimKind.NUMBER, (value,)


_READERS: dict[ClaimKind, Callable[[re.Match[str], OptionWords | None], Found]] = {
    ClaimKind.SOURCE: _source,
    ClaimKind.CODE: _code,
    ClaimKind.OPTION: _option,
    ClaimKind.DATE: _date,
    ClaimKind.TIME: _time,
    ClaimKind.AMOUNT: _amount,
    ClaimKind.PERCENT: _percent,
    ClaimKind.DURATION: _duration,
    ClaimKind.NUMBER: _number,
}
