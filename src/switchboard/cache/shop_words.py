"""A shop's own words for the false-hit guard (``false_hit``): its places, products,
brands, audiences and its own name, read once from a TOML file (``cache.shop_words``;
the demo shop's is ``switchboard/demo/shop_words.toml``) and passed to ``FalseHitRules``.

The file's tables map a canonical word to the aliases a customer may type::

    own_names = ["larkspur"]
    brands = ["paypal", "dhl"]

    [places]
    "united kingdom" = ["uk", "united kingdom", "britain"]

    [products]
    backpack = ["backpack", "rucksack"]

    [audiences]
    student = ["student", "students"]

The generic tables (negations, numbers, dates, currencies, units) stay in ``facet_words``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLES = ("places", "products", "audiences")
LISTS = ("own_names", "brands")


@dataclass(frozen=True, slots=True)
class ShopWords:
    """Alias -> canonical word, per facet; ``brands`` map each name to itself."""

    places: dict[str, str]
    products: dict[str, str]
    audiences: dict[str, str]
    brands: dict[str, str]
    own_names: frozenset[str]
    """Capitalised but never a name: the shop's own."""

    @property
    def alias_words(self) -> frozenset[str]:
        """Words of place and product aliases ("United", "Kingdom"): read by their own
        facets, never as names."""
        return frozenset(
            word
            for table in (self.places, self.products)
            for name in [*table, *table.values()]
            for word in name.split()
        )


def load_shop_words(path: Path) -> ShopWords:
    """The words of the TOML file at ``path``; a missing or malformed file is a
    ``ValueError`` that names it and what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cache.shop_words: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"cache.shop_words: {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {*TABLES, *LISTS})
    if unknown:
        raise ValueError(f"cache.shop_words: {path}: unknown keys {unknown}")
    tables = {name: _aliases(path, name, data.get(name, {})) for name in TABLES}
    lists = {name: _words(path, name, data.get(name, [])) for name in LISTS}
    return ShopWords(
        places=tables["places"],
        products=tables["products"],
        audiences=tables["audiences"],
        brands={word: word for word in lists["brands"]},
        own_names=frozenset(lists["own_names"]),
    )


def _aliases(path: Path, name: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ValueError(f"cache.shop_words: {path}: [{name}] must be a table")
    return {
        alias: canonical.lower()
        for canonical, aliases in table.items()
        for alias in _words(path, f"{name}.{canonical}", aliases)
    }


def _words(path: Path, name: str, words: Any) -> list[str]:
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ValueError(f"cache.shop_words: {path}: {name} must be a list of words")
    return [" ".join(word.lower().split()) for word in words]
