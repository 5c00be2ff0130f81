"""The guard against semantic false hits: two questions an encoder finds near-identical
that still want different answers.

Sentence encoders are weak exactly where a support answer turns: "Can I return it?" and
"Can I not return it?", "LK-100200" and "LK-100300", "shipping to Austria" and "shipping
to Germany" sit at cosine 0.9 and above. ``conflicts`` reads a few facets from each
question with rules (no model) and names those that differ; any difference means the
cached answer is not served, whatever the similarity. The rules are ``FalseHitRules``,
built from the shop's own words (``shop_words``) and its order-number format:

- negation: whether the question is negated at all (not, no, never, n't, without, except...);
- numbers: digits and number words, as values ("five" = "5", "5,00" = "5");
- dates: weekdays, months, relative days and holidays ("tomorrow", "Christmas");
- order numbers: in the shop's format (``OrderIdFormat``: the demo's ``LK-123456``);
- places: countries, regions and cities (with their aliases: "UK" = "Britain");
- names: other capitalised words inside a sentence (brands, carriers, payment methods);
- products: the shop's product words, with synonyms ("rucksack" = "backpack");
- currencies, and audiences (companies, students, guests: the help centre answers them
  apart).

A facet present in one question and absent in the other also counts: the cached answer to
"How long does delivery take?" is not the answer to "How long does delivery to Malta
take?". The guard trades hit rate for safety: a paraphrase that drops a detail misses.

Two more checks compare the questions with each other:

- contrasts: groups of alternatives (everyday opposites such as include/exclude, turn
  on/off, before/after; the help centre's alternatives such as refund/exchange/repair,
  damaged/lost/delayed, return/outbound shipping, billing/delivery address). They conflict
  only when both questions name members of one group and share none, so a paraphrase that
  leaves the group out still passes;
- opposites by prefix: "available" in one and "unavailable" in the other.

What these rules cannot see is a change of action or subject in otherwise equal wording
("wash" vs "dry" a jacket, "use" vs "buy" a gift card, a refund "for" vs "to" a gift
card). ``conflicts`` therefore adds the second stage, ``verify.mismatches``: the domain
concepts each question names must align. ``facet_conflicts`` is the first stage alone (for
measuring what the second buys).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

from switchboard.cache.facet_words import (
    AMBIGUOUS_DATES,
    CONTRASTS,
    CURRENCIES,
    DATES,
    NEGATIONS,
    NOT_NAMES,
    NUMBER_TENS,
    NUMBER_UNITS,
    UNITS,
)
from switchboard.cache.shop_words import ShopWords, load_shop_words
from switchboard.cache.verify import mismatches
from switchboard.config import CacheSettings
from switchboard.demo import shop_words_path
from switchboard.order_ids import OrderIdFormat

_WORD = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9'\u2019]*|\d+(?:[.,]\d+)*|[€$£]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_SENTENCE_END = re.compile(r"[.!?;:]\s*$|^\s*$")

_SEND_BACK = re.compile(
    r"\b(?:send|sending|sent|give|giving|bring|post|mail)\b(?:\s+\S+){0,3}?\s+back\b"
)
_LEG_FIRST = "return"
"""A question about sending something back is about returns even where it says
"shipping": "return shipping cost" is not "delivery cost"."""
_OUT_OF_STOCK = re.compile(r"\bout of stock\b")
_NOT_A_NUMBER = re.compile(r"\b(?:two|2)[- ]?(?:factor|step|fa)\b", re.IGNORECASE)
"""Names with a number in them: "2FA" is "two-factor", no amount of anything."""
_COMPARED_APART = frozenset({"contrasts", "quantities"})
"""Facets compared by their own rules, not by equality."""
_OPPOSITE_PREFIXES = {"un": 3, "dis": 3, "non": 3, "in": 5, "im": 5, "il": 5, "ir": 5}
"""Negating prefixes and the shortest stem they negate: "in" + "form" is no opposite."""


@dataclass(frozen=True, slots=True)
class Facets:
    """What a question says that an encoder blurs; compared field by field."""

    negated: bool
    numbers: frozenset[float]
    dates: frozenset[str]
    order_ids: frozenset[str]
    places: frozenset[str]
    names: frozenset[str]
    products: frozenset[str]
    currencies: frozenset[str]
    audiences: frozenset[str]
    contrasts: frozenset[tuple[str, str]]  # (group, member)
    quantities: tuple[tuple[float, str], ...]  # (number, unit or ""), in order


class FalseHitRules:
    """The rules of one shop: its ``words`` and its ``order_ids`` format. ``is_false_hit``
    is the guard ``open_cache`` gives ``ResponseCache``."""

    def __init__(self, words: ShopWords, order_ids: OrderIdFormat) -> None:
        self.words = words
        self.order_ids = order_ids
        self._alias_words = words.alias_words
        # Memoised per question: a lookup checks one query against several cached ones.
        self._read = functools.lru_cache(maxsize=4096)(self._read_text)

    @classmethod
    def from_settings(cls, settings: CacheSettings, order_ids: OrderIdFormat) -> FalseHitRules:
        """The rules of the words file ``settings`` name (default: the demo shop's)."""
        return cls(load_shop_words(settings.shop_words or shop_words_path()), order_ids)

    def conflicts(self, cached: str, query: str) -> tuple[str, ...]:
        """Why ``cached``'s answer must not be served for ``query``: the facets on which
        they differ, then the verifier's mismatches (empty: a hit may be served)."""
        found = self.facet_conflicts(cached, query)
        return found if found else mismatches(cached, query)

    def facet_conflicts(self, cached: str, query: str) -> tuple[str, ...]:
        """The facets on which ``cached`` and ``query`` differ: the rules alone."""
        (a, words_a), (b, words_b) = self._read(cached), self._read(query)
        found = [
            f.name
            for f in fields(Facets)
            if f.name not in _COMPARED_APART and getattr(a, f.name) != getattr(b, f.name)
        ]
        found.extend(_contrasting(a.contrasts, b.contrasts))
        if not found and a.quantities != b.quantities and a.numbers and b.numbers:
            found.append("quantities")
        if _prefix_opposites(words_a, words_b):
            found.append("opposites")
        return tuple(found)

    def is_false_hit(self, cached: str, query: str) -> bool:
        """Rules, then the verifier."""
        return bool(self.conflicts(cached, query))

    def facets(self, text: str) -> Facets:
        return self._read(text)[0]

    def _read_text(self, text: str) -> tuple[Facets, tuple[str, ...]]:
        """The facets of ``text`` and its words (lower case, order numbers removed)."""
        shop = self.words
        tokens = _tokens(_NOT_A_NUMBER.sub("twofactor", self.order_ids.replace(text)))
        words = [_word(t) for t, _ in tokens]
        found = Facets(
            negated=any(_is_negation(w) for w in words),
            numbers=frozenset(_numbers(words)),
            dates=frozenset(_dates(tokens)),
            order_ids=frozenset(self.order_ids.find(text)),
            places=_lookup(words, shop.places),
            names=frozenset(self._names(tokens)),
            products=_lookup(words, shop.products),
            currencies=frozenset(CURRENCIES[w] for w in words if w in CURRENCIES),
            audiences=_lookup(words, shop.audiences),
            contrasts=frozenset(_contrasts(words)),
            quantities=tuple(_quantities(words)),
        )
        return found, tuple(words)

    def _names(self, tokens: list[tuple[str, bool]]) -> Iterable[str]:
        """Capitalised words inside a sentence that no other facet explains."""
        for token, starts in tokens:
            word = _word(token)
            if word in self.words.brands:
                yield self.words.brands[word]
                continue
            if starts or not token[0].isupper() or word in NOT_NAMES:
                continue
            if word in self.words.own_names or word in self._alias_words:
                continue
            if word in DATES or word.removesuffix("s") in DATES or word in CURRENCIES:
                continue
            if word in NEGATIONS or word in NUMBER_UNITS or word in NUMBER_TENS:
                continue
            yield word


def _contrasts(words: list[str]) -> Iterable[tuple[str, str]]:
    joined = " ".join(words)
    for group, table in CONTRASTS.items():
        members = _lookup(words, table)
        if group in ("leg", "remedy") and _SEND_BACK.search(joined):
            members |= {_LEG_FIRST}
        if group == "leg" and _LEG_FIRST in members:
            members = frozenset({_LEG_FIRST})
        if group == "stock" and _OUT_OF_STOCK.search(joined):
            members = frozenset({"out"})
        if group == "money" and "refund" in members:
            members = frozenset({"refund"})  # a refund pays money back: not a charge
        for member in members:
            yield group, member


def _quantities(words: list[str]) -> Iterable[tuple[float, str]]:
    """Each number with the unit after it, in order: "3 days" is not "3 weeks", and "30
    instead of 40" is not "40 instead of 30"."""
    i = 0
    while i < len(words):
        width = (
            2
            if words[i] in NUMBER_TENS and i + 1 < len(words) and words[i + 1] in NUMBER_UNITS
            else 1
        )
        values = list(_numbers(words[i : i + width]))  # "twenty five" is one number
        i += width
        if len(values) == 1:
            following = words[i] if i < len(words) else ""
            unit = UNITS.get(following, UNITS.get(following.removesuffix("s"), ""))
            yield values[0], "times" if words[i - 1] == "twice" else unit


def _contrasting(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> list[str]:
    """Groups both name, with no member in common."""
    out = []
    for group in sorted({g for g, _ in a} & {g for g, _ in b}):
        if not {m for g, m in a if g == group} & {m for g, m in b if g == group}:
            out.append(group)
    return out


def _prefix_opposites(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """ "available" vs "unavailable", "tracked" vs "untracked", "able" vs "unable"."""
    return bool(_negated_stems(a) & set(b) or _negated_stems(b) & set(a))


@functools.lru_cache(maxsize=4096)
def _negated_stems(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        word[len(prefix) :]
        for word in words
        for prefix, shortest in _OPPOSITE_PREFIXES.items()
        if word.startswith(prefix) and len(word) - len(prefix) >= shortest
    )


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Words and numbers, each with whether it starts a sentence."""
    out: list[tuple[str, bool]] = []
    for match in _WORD.finditer(text):
        starts = bool(_SENTENCE_END.search(text[: match.start()]))
        out.append((match.group(), starts))
    return out


def _word(token: str) -> str:
    """Lower case, straight apostrophe; "US" (not "us") is the country."""
    return "usa" if token == "US" else token.lower().replace("\u2019", "'")


def _is_negation(word: str) -> bool:
    return word.endswith("n't") or word.replace("'", "") in NEGATIONS


def _lookup(words: list[str], table: dict[str, str]) -> frozenset[str]:
    """Two-word aliases first ("united states"), then single words not already used."""
    found: set[str] = set()
    i = 0
    while i < len(words):
        pair = " ".join(words[i : i + 2])
        if pair in table:
            found.add(table[pair])
            i += 2
            continue
        if words[i] in table:
            found.add(table[words[i]])
        i += 1
    return frozenset(found)


def _numbers(words: list[str]) -> Iterable[float]:
    pending_tens = 0.0
    for word in [*words, ""]:
        value: float | None = None
        digits = bool(_NUMBER.fullmatch(word))
        if digits:
            value = _digits(word)
        elif word in NUMBER_UNITS:
            value = float(NUMBER_UNITS[word])
        if pending_tens and value is not None and value < 10 and not digits:
            yield pending_tens + value  # "twenty five"
            pending_tens, value = 0.0, None
        elif pending_tens:
            yield pending_tens
            pending_tens = 0.0
        if word in NUMBER_TENS:
            pending_tens = float(NUMBER_TENS[word])
        elif value is not None:
            yield value


def _digits(word: str) -> float:
    """ "1,000" is a thousand, "5,95" and "5.95" are the same amount."""
    if _THOUSANDS.fullmatch(word):
        return float(word.replace(",", ""))
    head, _, tail = word.replace(",", ".").partition(".")
    return float(f"{head}.{tail.replace('.', '')}" if tail else head)


def _dates(tokens: list[tuple[str, bool]]) -> Iterable[str]:
    for i, (token, starts) in enumerate(tokens):
        word = token.lower()
        if word not in DATES and word.endswith("s"):
            word = word[:-1]  # "Saturdays", "weekends"
        if word not in DATES:
            continue
        if word in AMBIGUOUS_DATES:
            near = [t for t, _ in tokens[max(i - 1, 0) : i + 2] if _NUMBER.fullmatch(t)]
            if not near and not (token[0].isupper() and not starts):
                continue
        yield DATES[word]
