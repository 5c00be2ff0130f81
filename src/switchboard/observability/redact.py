"""Masking of personal data and secrets in texts the request log keeps.

A plain ``Callable[[str], str]`` so a stronger redactor (Presidio, issue 6) can replace it.
Each rule is a pattern, its placeholder and an optional check on the match (Luhn for
cards, mod-97 for IBANs, a digit count for phone numbers) that keeps false positives down.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    placeholder: str
    check: Callable[[str], bool] | None = None

    def apply(self, text: str) -> str:
        check = self.check
        if check is None:
            return self.pattern.sub(self.placeholder, text)
        return self.pattern.sub(
            lambda m: self.placeholder if check(m.group(0)) else m.group(0), text
        )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """The Luhn checksum of the digits in ``number`` (payment cards)."""
    digits = [int(ch) for ch in _digits(number)]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return bool(digits) and total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: length 15-34 and the mod-97 remainder 1."""
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone_like(candidate: str) -> bool:
    count = len(_digits(candidate))
    if not 9 <= count <= 15 or _DATE_START.match(candidate):
        return False
    return candidate.startswith(("+", "(", "0")) or count >= 10


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

SECRET_RULES: tuple[Rule, ...] = (
    Rule("switchboard_key", re.compile(r"\bsb-[0-9a-f]{12}-[A-Za-z0-9_-]+"), "<API_KEY>"),
    Rule("openai_key", re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "<API_KEY>"),
    Rule("bearer", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer <TOKEN>"),
)

PII_RULES: tuple[Rule, ...] = (
    Rule(
        "email",
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
        "<EMAIL>",
    ),
    Rule(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
        "<IBAN>",
        iban_valid,
    ),
    Rule("ipv4", re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.]*\d)"), "<IP>"),
    Rule("card", re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)"), "<CARD>", luhn_valid),
    Rule(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
            r"\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"
        ),
        "<PHONE>",
        _phone_like,
    ),
)


def redact_secrets(text: str) -> str:
    """Mask anything shaped like an API key or a bearer token."""
    for rule in SECRET_RULES:
        text = rule.apply(text)
    return text


def redact_pii(text: str) -> str:
    """Mask emails, IBANs, IPv4 addresses, payment cards and phone numbers."""
    for rule in PII_RULES:
        text = rule.apply(text)
    return text


def redact_text(text: str) -> str:
    """Both: secrets first (a key's digits must not read as a phone number), then PII."""
    return redact_pii(redact_secrets(text))
