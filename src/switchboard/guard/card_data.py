"""A payment card's expiry date and security code (CVV, CVC, CVV2, CID), where they are
written as card data.

A date or a three-digit number alone is nothing; what makes one card data is what stands
next to it:

- a **cue** right before the value: "exp 04/27", "expires 04/2027", "valid thru 12/26",
  "cvv: 123", "security code 318", "the 3 digits on the back are 552" (and a few German,
  French, Spanish and Italian words); a security code may also come first ("123 is the
  cvv");
- **card context** for the cues that other things share ("expires", "expiry", "valid
  until": a return window or a voucher expires too): a card number, a card word ("card",
  "visa", "cvv"...) within ``CONTEXT_CHARS``, and no other subject right before the cue
  ("the voucher expires 12/31"). The card-only cues ("exp", "valid thru", "cvv") need
  none;
- the **card tuple** customers paste: right after a card number that passes Luhn, a date
  written ``MM/YY`` or ``MM/YYYY`` is its expiry, and right after an expiry, a lone group
  of 3 or 4 digits is its security code ("4111 1111 1111 1111 04/27 123").

Dates are months 1 to 12 with a two-digit or 20xx year, never part of a longer date
("12/03/2025"); a compact ``MMYY`` ("0925") and a month's name with a year ("April 2028",
"Apr '28"; "April 28" is a day) count only after a cue.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

CARD_EXPIRY = "CARD_EXPIRY"
CARD_CVV = "CARD_CVV"
CARD_ENTITIES = (CARD_EXPIRY, CARD_CVV)
SCORE = 0.9
CONTEXT_CHARS = 100  # how far a card word or number may stand from a generic cue's value
TUPLE_GAP = r"[\s,;:|/-]{1,4}"  # between the parts of a pasted card tuple

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_YEAR = r"(?:20\d{2}|\d{2})"
# MM/YY, MM-YYYY, M/YY: not inside a longer date or number
_NUMERIC_DATE = rf"(?<![\d/.-])(?:0?[1-9]|1[0-2]) ?[/.-] ?{_YEAR}(?![\d/]|[.-]\d)"
_COMPACT_DATE = r"(?<!\d)(?:0[1-9]|1[0-2])\d{2}(?!\d)"
_MONTH_YEAR = rf"\b(?:{_MONTHS})\.? ?(?:20\d{{2}}|['\u2019]\d{{2}})\b"
_CUED_DATE = rf"{_NUMERIC_DATE}|{_COMPACT_DATE}|{_MONTH_YEAR}"
_CODE = r"(?<![\d/.,-])\d{3,4}(?!\d|[/.,-]\d)"

# Cues only card data has, and cues a card shares with other things (need card context).
_CARD_EXPIRY_CUES = r"exp\b\.?|exp\.? ?date|valid (?:thru|thr\.)|good thru"
_SHARED_EXPIRY_CUES = (
    r"expir(?:y|ation|es|ing|e)\w*(?: date)?|valid (?:through|until|till|to)|gültig bis"
    r"|ablaufdatum|date d'expiration|fecha de (?:caducidad|vencimiento)|scadenza"
)
_CVV_CUES = (
    r"cvv2?|cvc2?|cid|csc|cvn|security (?:code|number|digits)"
    r"|card verification (?:code|value|number)"
    r"|(?:(?:three|four|3|4)[- ]digits?(?: code| number)?|code|number|digits)"
    r" on the (?:back|front)(?: of (?:the|my|your) card)?"
    r"|sicherheitscode|kartenprüfnummer|prüfnummer|prüfziffer|cryptogramme(?: visuel)?"
    r"|código de seguridad|codice di sicurezza"
)
# What may stand between a cue and its value: punctuation and a few filler words.
_FILLER = (
    r"[^\w\n]*(?:(?:date|is|are|on|in|at|of|end|the|was|code|number|it|its|s|mine|here|my"
    r"|card|debit|credit)\b[^\w\n]*){0,5}"
)
# What else expires or is valid until a date: a shared cue right after one of these
# ("the voucher expires 12/31") is about it, not the card.
OTHER_SUBJECT = re.compile(
    r"\b(?:voucher|coupon|code|offer|discount|promo\w*|sale|deal|return|window|warranty"
    r"|subscription|membership|link|password|gift card|quote|reservation)\W+(?:\w+\W+)?$",
    re.IGNORECASE,
)

CARD_WORDS = re.compile(
    r"\b(?:card|cards|credit|debit|visa|mastercard|master card|amex|american express|maestro"
    r"|karte|kreditkarte|carte|tarjeta|carta|" + _CVV_CUES + r")\b",
    re.IGNORECASE,
)
CARD_EXPIRY_CUED = re.compile(
    rf"\b(?P<cue>{_CARD_EXPIRY_CUES}){_FILLER}(?P<value>{_CUED_DATE})", re.IGNORECASE
)
SHARED_EXPIRY_CUED = re.compile(
    rf"\b(?P<cue>{_SHARED_EXPIRY_CUES}){_FILLER}(?P<value>{_CUED_DATE})", re.IGNORECASE
)
CVV_CUED = re.compile(rf"\b(?P<cue>{_CVV_CUES})\b{_FILLER}(?P<value>{_CODE})", re.IGNORECASE)
CVV_FIRST = re.compile(
    rf"(?P<value>{_CODE}) ?\(?(?:is (?:the|my) )?(?P<cue>cvv2?|cvc2?|cid|security code)\b",
    re.IGNORECASE,
)
# Unbroken, or grouped as cards print them (4-4-4-4[-3], Amex 4-6-5, Diners 4-6-4)
CARD_NUMBER = re.compile(
    r"(?<![\d-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?!\d)"
)
EXPIRY_AFTER_CARD = re.compile(rf"{TUPLE_GAP}(?P<value>{_NUMERIC_DATE})")
CODE_AFTER_EXPIRY = re.compile(rf"{TUPLE_GAP}(?P<value>{_CODE})(?![\w/])")

Span = tuple[str, int, int]


def luhn_valid(number: str) -> bool:
    digits = [int(ch) for ch in number if ch.isdigit()]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits))
    )
    return len(digits) >= 13 and total % 10 == 0


def card_numbers(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in CARD_NUMBER.finditer(text) if luhn_valid(m.group(0))]


def has_card_context(text: str, start: int, end: int, numbers: list[tuple[int, int]]) -> bool:
    """A card word or card number within ``CONTEXT_CHARS`` of ``text[start:end]``."""
    low, high = max(0, start - CONTEXT_CHARS), end + CONTEXT_CHARS
    if CARD_WORDS.search(text, low, min(high, len(text))):
        return True
    return any(n_start < high and low < n_end for n_start, n_end in numbers)


def find_card_data(text: str) -> list[Span]:
    """``(type, start, end)`` of every expiry date and security code in ``text``, sorted."""
    numbers = card_numbers(text)
    expiries = {m.span("value") for m in CARD_EXPIRY_CUED.finditer(text)}
    expiries |= {
        m.span("value")
        for m in SHARED_EXPIRY_CUED.finditer(text)
        if has_card_context(text, m.start(), m.end(), numbers)
        and not OTHER_SUBJECT.search(text, max(0, m.start() - 40), m.start())
    }
    for _, number_end in numbers:
        after = EXPIRY_AFTER_CARD.match(text, number_end)
        if after is not None:
            expiries.add(after.span("value"))
    codes = {m.span("value") for pattern in (CVV_CUED, CVV_FIRST) for m in pattern.finditer(text)}
    for _, expiry_end in expiries:
        after = CODE_AFTER_EXPIRY.match(text, expiry_end)
        if after is not None:
            codes.add(after.span("value"))
    spans = [(CARD_EXPIRY, *span) for span in expiries] + [(CARD_CVV, *span) for span in codes]
    return sorted(spans, key=lambda span: (span[1], span[2]))


class CardDataRecognizer(LocalRecognizer):
    """``find_card_data`` as a Presidio recognizer of ``CARD_EXPIRY`` and ``CARD_CVV``."""

    def __init__(self) -> None:
        super().__init__(supported_entities=list(CARD_ENTITIES), name="CardDataRecognizer")

    def load(self) -> None:
        """Nothing to load: the cues are regular expressions."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(kind, start, end, SCORE)
            for kind, start, end in find_card_data(text)
            if kind in entities
        ]
