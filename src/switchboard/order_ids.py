"""A shop's order numbers as people type them, shared by the assistant's router (which
looks them up), the PII detector (they are never personal data) and the cache's false-hit
guard (two questions about two orders are different questions).

The format is a setting (``orders.id_pattern``: a regular expression with one capture
group; ``orders.id_format``: the canonical form around it), built once at the edge into an
``OrderIdFormat`` and passed down to each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.config import OrdersSettings

PLACEHOLDER_ID = "000000"
"""What the placeholder's capture group holds (``OrderIdFormat.placeholder``)."""


@dataclass(frozen=True, slots=True)
class OrderIdFormat:
    """``pattern`` finds an order number and captures the part that identifies it;
    ``canonical`` (``"LK-{}"``) writes that part as the shop writes its order numbers."""

    pattern: re.Pattern[str]
    canonical: str

    @classmethod
    def from_settings(cls, settings: OrdersSettings) -> OrderIdFormat:
        return cls(re.compile(settings.id_pattern), settings.id_format)

    @classmethod
    def none(cls) -> OrderIdFormat:
        """No order numbers at all (an assistant without orders): it never matches."""
        return cls(re.compile(r"(?!)()"), "{}")

    @property
    def placeholder(self) -> str:
        """One order number that stands for all (``LK-000000``): the digits carry no intent."""
        return self.canonical.format(PLACEHOLDER_ID)

    def find(self, text: str) -> tuple[str, ...]:
        """The order numbers in ``text`` in canonical form, in order of appearance, once each."""
        found = (self.canonical.format(part) for part in self.pattern.findall(text))
        return tuple(dict.fromkeys(found))

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in self.pattern.finditer(text)]

    def replace(self, text: str, replacement: str = " ") -> str:
        """``text`` with every order number replaced by ``replacement``."""
        return self.pattern.sub(lambda _: replacement, text)

    def mask(self, text: str) -> str:
        """``text`` with every order number replaced by the one placeholder."""
        return self.replace(text, self.placeholder)

    def remove(self, text: str) -> str:
        """``text`` without its order numbers (unchanged if it has none, or only them)."""
        if not self.pattern.search(text):
            return text
        return " ".join(self.replace(text).split()) or text
