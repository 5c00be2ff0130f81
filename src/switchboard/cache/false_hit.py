"""The guard against semantic false hits: two questions an encoder finds near-identical
that still want different answers.

Sentence encoders are weak exactly where a support answer turns: "Can I return it?" and
"Can I not return it?", "LK-100200" and "LK-100300", "shipping to Austria" and "shipping
to Germany" sit at cosine 0.9 and above. ``conflicts`` reads a few facets from each
question with rules (no model) and names those that differ; any difference means the
cached answer is not served, whatever the similarity:

- negation: whether the question is negated at all (not, no, never, n't, without, except...);
- numbers: digits and number words, as values ("five" = "5", "5,00" = "5");
- dates: weekdays, months, relative days and holidays ("tomorrow", "Christmas");
- order numbers: the shop's ``LK-123456``;
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

from switchboard.cache.verify import mismatches
from switchboard.order_ids import ORDER_ID


def _words(text: str) -> list[str]:
    return text.split()


_WORD = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9'\u2019]*|\d+(?:[.,]\d+)*|[€$£]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_SENTENCE_END = re.compile(r"[.!?;:]\s*$|^\s*$")

NEGATIONS = frozenset(
    _words(
        "not no non never none nothing nobody nowhere neither nor without except excluding "
        "cannot cant wont dont doesnt didnt isnt arent wasnt werent hasnt havent hadnt "
        "shouldnt wouldnt couldnt mustnt neednt aint unable"
    )
)

_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "single": 1, "both": 2, "dozen": 12,
    "half": 0.5, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "twice": 2,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
}  # fmt: skip

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = _words(
    "january february march april may june july august september october november december"
)
DATES: dict[str, str] = {
    **{d: d for d in _WEEKDAYS},
    **{d[:3]: d for d in _WEEKDAYS if d != "sunday"},
    **{m: m for m in _MONTHS},
    **{m[:3]: m for m in _MONTHS if m not in ("march", "may")},
    "sept": "september",
    "today": "today", "tonight": "today", "tomorrow": "tomorrow", "yesterday": "yesterday",
    "weekend": "weekend", "weekday": "weekday", "weekdays": "weekday",
    "christmas": "christmas", "xmas": "christmas", "easter": "easter",
    "halloween": "halloween", "holidays": "holidays", "holiday": "holidays",
}  # fmt: skip
_AMBIGUOUS_DATES = frozenset({"may", "sat", "sun", "wed", "mar", "jan"})
"""Also ordinary words: dates only when capitalised inside a sentence or next to a number."""

PLACES: dict[str, str] = {
    alias: canonical
    for canonical, aliases in {
        "germany": "germany,german,deutschland",
        "austria": "austria,austrian",
        "switzerland": "switzerland,swiss",
        "united kingdom": "uk,united kingdom,britain,great britain,british,england,english,"
        "scotland,scottish,wales,welsh,gb",
        "northern ireland": "northern ireland",
        "ireland": "ireland,irish",
        "united states": "usa,united states,america,american",
        "canada": "canada,canadian",
        "australia": "australia,australian",
        "france": "france,french",
        "italy": "italy,italian",
        "spain": "spain,spanish",
        "portugal": "portugal,portuguese",
        "netherlands": "netherlands,holland,dutch",
        "belgium": "belgium,belgian",
        "luxembourg": "luxembourg",
        "denmark": "denmark,danish",
        "sweden": "sweden,swedish",
        "norway": "norway,norwegian",
        "finland": "finland,finnish",
        "iceland": "iceland",
        "poland": "poland,polish",
        "czechia": "czechia,czech",
        "slovakia": "slovakia,slovak",
        "slovenia": "slovenia",
        "hungary": "hungary,hungarian",
        "romania": "romania",
        "bulgaria": "bulgaria",
        "croatia": "croatia",
        "greece": "greece,greek",
        "cyprus": "cyprus",
        "malta": "malta",
        "estonia": "estonia",
        "latvia": "latvia",
        "lithuania": "lithuania",
        "liechtenstein": "liechtenstein",
        "japan": "japan",
        "china": "china",
        "eu": "eu,europe,european",
        "channel islands": "jersey,guernsey",
        "canary islands": "canary,canaries",
        "azores": "azores",
        "madeira": "madeira",
        "corsica": "corsica",
        "balearic islands": "balearic,mallorca,majorca,ibiza",
        "hawaii": "hawaii",
        "alaska": "alaska",
        "puerto rico": "puerto rico",
        "berlin": "berlin",
        "hamburg": "hamburg",
        "munich": "munich",
        "kiel": "kiel",
        "vienna": "vienna",
        "zurich": "zurich,zürich",
        "geneva": "geneva",
        "london": "london",
        "paris": "paris",
        "new york": "new york,nyc",
    }.items()
    for alias in aliases.split(",")
}

PRODUCTS: dict[str, str] = {
    alias: canonical
    for canonical, aliases in {
        "jacket": "jacket,jackets,coat,coats,parka,parkas,anorak,raincoat,raincoats,shell",
        "boots": "boot,boots",
        "shoes": "shoe,shoes,sneakers,trainers,footwear",
        "sandals": "sandal,sandals",
        "fleece": "fleece,fleeces",
        "tent": "tent,tents",
        "backpack": "backpack,backpacks,rucksack,rucksacks,daypack",
        "sleeping bag": "sleeping",
        "sleeping mat": "mat,mats",
        "headlamp": "headlamp,headlamps,headtorch",
        "stove": "stove,stoves",
        "socks": "sock,socks",
        "gloves": "glove,gloves,mittens",
        "hat": "hat,hats,beanie,cap",
        "trousers": "trousers,pants",
        "shorts": "shorts",
        "shirt": "shirt,shirts,t-shirt,tee",
        "hoodie": "hoodie,hoodies,sweater,jumper",
        "gaiters": "gaiter,gaiters",
        "poles": "pole,poles",
        "knife": "knife,knives",
        "cookware": "cookware,pot,pots,pan",
        "bottle": "bottle,bottles,flask",
        "gift card": "gift card,gift cards,gift voucher,gift vouchers,voucher,vouchers,giftcard",
        "batteries": "battery,batteries",
    }.items()
    for alias in aliases.split(",")
}

CURRENCIES: dict[str, str] = {
    "€": "eur", "eur": "eur", "euro": "eur", "euros": "eur",
    "$": "usd", "usd": "usd", "dollar": "usd", "dollars": "usd",
    "£": "gbp", "gbp": "gbp", "pound": "gbp", "pounds": "gbp", "quid": "gbp",
    "chf": "chf", "franc": "chf", "francs": "chf",
}  # fmt: skip

NOT_NAMES = frozenset(
    _words(
        "i i'm i've i'd i'll hi hello hey dear thanks thank please ok okay yes sorry "
        "help mr mrs ms dr sir madam larkspur a an the and or but if so then also just "
        "my your our me we you he she it they this that these those there here can "
        "could do does did is are was were will would should shall must may might have "
        "has had am be been what when where why who whom whose which how in on at to "
        "for of from with by about as id vat iban pdf faq"
    )
)
"""Capitalised but never a name."""


BRANDS: dict[str, str] = {
    w: w
    for w in _words(
        "paypal klarna visa mastercard amex sepa dhl ups dpd gls hermes fedex usps "
        "packstation colissimo apple google"
    )
}
"""Names people type in lower case too: matched in any case."""


_ALIAS_WORDS = frozenset(
    w for table in (PLACES, PRODUCTS) for name in [*table, *table.values()] for w in name.split()
)
"""Words of place and product aliases ("United", "Kingdom"): read by their own facets."""

AUDIENCES: dict[str, str] = {
    alias: audience
    for audience, aliases in {
        "business": "company,companies,business,businesses,corporate,b2b,vat id,vat number,"
        "vat no,club,clubs,school,schools,bulk",
        "student": "student,students,apprentice,apprentices,university",
        "guest": "guest,guests",
    }.items()
    for alias in aliases.split(",")
}
"""Customers the help centre answers differently (companies, students, guests)."""

CONTRASTS: dict[str, dict[str, str]] = {
    group: {alias: member for member, aliases in members.items() for alias in aliases.split(",")}
    for group, members in {
        # Opposites of everyday English.
        "switch": {
            "on": "turn on,switch on,enable,enabled,activate,activated",
            "off": "turn off,switch off,disable,disabled,deactivate,deactivated",
        },
        "inclusion": {
            "include": "include,includes,including,included,inclusive,cover,covers,covered",
            "exclude": "exclude,excludes,excluding,excluded,exclusive",
        },
        "edit": {
            "add": "add,adding,added",
            "remove": "remove,removing,removed,take off",
        },
        "verdict": {
            "accept": "accept,accepted,accepts,approve,approved,allowed",
            "reject": "reject,rejected,refuse,refused,decline,declined,deny,denied",
            "pending": "pending,processing,on hold",
        },
        "stock": {"in": "in stock", "out": "sold out,out-of-stock"},
        "subscription": {
            "subscribe": "subscribe,subscribed,sign up,opt in",
            "unsubscribe": "unsubscribe,unsubscribed,opt out",
        },
        "timing": {
            "before": "before,prior,earlier",
            "after": "after,later",
            "within": "within",
        },
        "quantity": {
            "more": "more,over,above,exceeding,higher,greater",
            "less": "less,fewer,under,below,lower",
        },
        "order": {"first": "first", "last": "last"},
        "extent": {"full": "full,whole,entire", "partial": "partial,part"},
        "condition": {
            "new": "new,unused,unworn,unopened,sealed",
            "used": "used,worn,opened,second-hand",
        },
        # Alternatives of the shop's help centre, one answer each.
        "speed": {
            "standard": "standard,regular,economy",
            "express": "express,next-day,faster,quicker,priority",
        },
        "remedy": {
            "refund": "refund,refunds,refunded,reimburse,reimbursed,money back",
            "exchange": "exchange,exchanges,exchanged,swap,swapped",
            "repair": "repair,repairs,repaired,fix,fixed,mend",
            "replacement": "replacement,replace,replaced",
            "return": "return,returns,returned,returning,returnable,send back",
        },
        "problem": {
            "damaged": "damaged,damage,damages,broken,broke,crushed,dented,torn,ripped,"
            "defective,faulty,cracked",
            "lost": "lost,missing,disappeared,lose,loses,losing,loss",
            "delayed": "delayed,delay,late,stuck",
            "wrong": "wrong,incorrect",
            "unwanted": "unwanted,changed my,change of",
        },
        "address": {
            "billing": "billing address,invoice address",
            "delivery": "delivery address,shipping address,postal address",
            "email": "email address,e-mail address",
        },
        "credential": {"password": "password,passcode", "email": "email,e-mail"},
        "money": {
            "charge": "charge,charged,charges,pay,paid,paying,payment,debit,debited",
            "refund": "refund,refunds,refunded,money back,reimburse,reimbursed",
        },
        "leg": {
            "return": "return,returns,returned,returning,returnable,send back",
            "outbound": "delivery,deliver,delivered,shipping,ship,shipped,postage,dispatch",
        },
    }.items()
}
"""Groups of alternatives: two questions that both name a member of one group must name a
common one ("refund" vs "exchange" conflict; "refund" vs nothing does not)."""

_SEND_BACK = re.compile(
    r"\b(?:send|sending|sent|give|giving|bring|post|mail)\b(?:\s+\S+){0,3}?\s+back\b"
)
_LEG_FIRST = "return"
"""A question about sending something back is about returns even where it says
"shipping": "return shipping cost" is not "delivery cost"."""
_OUT_OF_STOCK = re.compile(r"\bout of stock\b")
_NOT_A_NUMBER = re.compile(r"\b(?:two|2)[- ]?(?:factor|step|fa)\b", re.IGNORECASE)
"""Names with a number in them: "2FA" is "two-factor", no amount of anything."""
UNITS: dict[str, str] = {
    "minute": "minute", "min": "minute", "hour": "hour", "hr": "hour", "day": "day",
    "week": "week", "month": "month", "year": "year", "kg": "kg", "kilo": "kg",
    "percent": "percent", "cm": "cm", "mm": "mm", "time": "times",
}  # fmt: skip
"""Units a number may count; a number's unit is the word after it."""
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


def conflicts(cached: str, query: str) -> tuple[str, ...]:
    """Why ``cached``'s answer must not be served for ``query``: the facets on which they
    differ, then the verifier's mismatches (empty: a hit may be served)."""
    found = facet_conflicts(cached, query)
    return found if found else mismatches(cached, query)


def facet_conflicts(cached: str, query: str) -> tuple[str, ...]:
    """The facets on which ``cached`` and ``query`` differ: the rules alone."""
    (a, words_a), (b, words_b) = _read(cached), _read(query)
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


def is_false_hit(cached: str, query: str) -> bool:
    """The guard ``ResponseCache`` uses by default: rules, then the verifier."""
    return bool(conflicts(cached, query))


def facets(text: str) -> Facets:
    return _read(text)[0]


@functools.lru_cache(maxsize=4096)
def _read(text: str) -> tuple[Facets, tuple[str, ...]]:
    """The facets of ``text`` and its words (lower case, order numbers removed); memoised,
    as a lookup checks one query against several cached ones."""
    order_ids = frozenset(f"LK-{d}" for d in ORDER_ID.findall(text))
    tokens = _tokens(_NOT_A_NUMBER.sub("twofactor", ORDER_ID.sub(" ", text)))
    words = [_word(t) for t, _ in tokens]
    places = _lookup(words, PLACES)
    products = _lookup(words, PRODUCTS)
    found = Facets(
        negated=any(_is_negation(w) for w in words),
        numbers=frozenset(_numbers(words)),
        dates=frozenset(_dates(tokens)),
        order_ids=order_ids,
        places=places,
        names=frozenset(_names(tokens)),
        products=products,
        currencies=frozenset(CURRENCIES[w] for w in words if w in CURRENCIES),
        audiences=_lookup(words, AUDIENCES),
        contrasts=frozenset(_contrasts(words)),
        quantities=tuple(_quantities(words)),
    )
    return found, tuple(words)


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
        width = 2 if words[i] in _TENS and i + 1 < len(words) and words[i + 1] in _UNITS else 1
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
        elif word in _UNITS:
            value = float(_UNITS[word])
        if pending_tens and value is not None and value < 10 and not digits:
            yield pending_tens + value  # "twenty five"
            pending_tens, value = 0.0, None
        elif pending_tens:
            yield pending_tens
            pending_tens = 0.0
        if word in _TENS:
            pending_tens = float(_TENS[word])
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
        if word in _AMBIGUOUS_DATES:
            near = [t for t, _ in tokens[max(i - 1, 0) : i + 2] if _NUMBER.fullmatch(t)]
            if not near and not (token[0].isupper() and not starts):
                continue
        yield DATES[word]


def _names(tokens: list[tuple[str, bool]]) -> Iterable[str]:
    """Capitalised words inside a sentence that no other facet explains."""
    for token, starts in tokens:
        word = _word(token)
        if word in BRANDS:
            yield BRANDS[word]
            continue
        if starts or not token[0].isupper() or word in NOT_NAMES:
            continue
        if word in _ALIAS_WORDS or word in DATES or word.removesuffix("s") in DATES:
            continue
        if word in CURRENCIES:
            continue
        if word in NEGATIONS or word in _UNITS or word in _TENS:
            continue
        yield word
