"""Lists of names the PII recognizers look words up in, from pinned packages' data.

- countries: ``phonenumbers``' English region names plus common short forms ("UK", "the
  States" is not one: only names);
- regions: the states, provinces, Länder, cantons, prefectures... of ``pycountry``'s ISO
  3166-2 data for the countries in ``REGION_TYPES`` (names of four letters or more, with
  and without accents), and the codes customers write after a town ("OR", "QLD", "ON");
- first names: ``gender-guesser``'s list of ~48,000 given names from Europe, the
  Americas, Asia and Africa, less the stop words of English, German, French, Spanish and
  Italian ("will", "le", "sie" are names there too).

Each list is built once, on first use (~0.1 s each), and is lower-cased.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

import pycountry
from phonenumbers.geodata.locale import LOCALE_DATA
from spacy.lang.de.stop_words import STOP_WORDS as DE
from spacy.lang.en.stop_words import STOP_WORDS as EN
from spacy.lang.es.stop_words import STOP_WORDS as ES
from spacy.lang.fr.stop_words import STOP_WORDS as FR
from spacy.lang.it.stop_words import STOP_WORDS as IT

# Common ways of naming countries and regions that phonenumbers' English names miss.
_COUNTRY_ALIASES = (
    "uk|u.k.|britain|great britain|england|scotland|wales|northern ireland|us|u.s.|usa|"
    "u.s.a.|america|united states of america|holland|czechia|eu|europe|european union|"
    "scandinavia|canary islands|mainland europe"
)
COUNTRY_ALIASES = frozenset(_COUNTRY_ALIASES.split("|"))
# Subdivision types that are regions a customer names, per country (ISO 3166-2).
REGION_TYPES = {
    "US": ("State", "District", "Outlying area"),
    "CA": ("Province", "Territory"),
    "AU": ("State", "Territory"),
    "GB": ("Country", "Two-tier county"),
    "DE": ("Land",),
    "AT": ("State",),
    "CH": ("Canton",),
    "IT": ("Region",),
    "ES": ("Autonomous community",),
    "FR": ("Metropolitan region",),
    "NL": ("Province",),
    "JP": ("Prefecture",),
    "MX": ("State",),
    "BR": ("State",),
    "IN": ("State",),
    "NZ": ("Region",),
    "PL": ("Voivodship",),
}
# Codes written after a town: US states, Canadian provinces, Australian states, and
# Italian provinces ("Dubino, SO").
REGION_CODE_COUNTRIES = {"US": None, "CA": None, "AU": None, "IT": ("Province",)}
MIN_REGION_NAME = 4  # "Zug", "Uri" are words as much as cantons


def stop_words() -> frozenset[str]:
    """Stop words of English, German, French, Spanish and Italian, lower-cased."""
    return _stop_words()


@functools.cache
def _stop_words() -> frozenset[str]:
    return frozenset(word for words in (EN, DE, FR, ES, IT) for word in words)


def fold(text: str) -> str:
    """Lower case without accents: "Zürich" and "Zurich" are one name."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.cache
def country_names() -> frozenset[str]:
    """Lower-cased English names of every country and territory, plus common aliases."""
    names = {
        entry["aa"].lower()
        for entry in LOCALE_DATA.values()
        if "aa" in entry and not entry["aa"].startswith("*")
    }
    return frozenset(names.union(COUNTRY_ALIASES))


def is_country(name: str) -> bool:
    folded = " ".join(name.lower().split())
    return folded.removeprefix("the ") in country_names()


_BRACKETED = re.compile(r"\s*\[.*?\]|,.*$")  # "Flintshire [Sir y Fflint]", "Asturias, P. de"


@functools.cache
def region_names() -> frozenset[str]:
    """Folded names of the regions of ``REGION_TYPES``."""
    names = set()
    for country, types in REGION_TYPES.items():
        for region in pycountry.subdivisions.get(country_code=country) or ():
            if region.type in types:
                name = fold(_BRACKETED.sub("", region.name))
                if len(name) >= MIN_REGION_NAME:
                    names.add(name)
    return frozenset(names)


@functools.cache
def region_codes() -> frozenset[str]:
    """Upper-case codes of the regions of ``REGION_CODE_COUNTRIES`` ("OR", "QLD")."""
    codes = set()
    for country, types in REGION_CODE_COUNTRIES.items():
        for region in pycountry.subdivisions.get(country_code=country) or ():
            if types is None or region.type in types:
                codes.add(region.code.split("-", 1)[1])
    return frozenset(code for code in codes if code.isalpha() and len(code) >= 2)


@functools.cache
def first_names() -> frozenset[str]:
    """Folded given names, less the stop words of the five languages."""
    data = resources.files("gender_guesser") / "data" / "nam_dict.txt"
    names = set()
    with data.open(encoding="utf-8") as lines:
        for line in lines:
            if line[:1] not in "#=" and len(fields := line.split()) > 1:
                names.add(fold(fields[1].replace("+", " ")))
    return frozenset(names - {fold(word) for word in stop_words()})
