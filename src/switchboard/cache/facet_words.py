"""The generic word tables of the false-hit rules (``false_hit``): negations, number words,
dates, currencies, groups of alternatives and units. A shop's own places, products, brands
and audiences come from its file (``shop_words``). Data only: what the rules do with them is
in ``false_hit``."""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


NEGATIONS = frozenset(
    _words(
        "not no non never none nothing nobody nowhere neither nor without except excluding "
        "cannot cant wont dont doesnt didnt isnt arent wasnt werent hasnt havent hadnt "
        "shouldnt wouldnt couldnt mustnt neednt aint unable"
    )
)

NUMBER_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "single": 1, "both": 2, "dozen": 12,
    "half": 0.5, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "twice": 2,
}  # fmt: skip
NUMBER_TENS = {
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
AMBIGUOUS_DATES = frozenset({"may", "sat", "sun", "wed", "mar", "jan"})
"""Also ordinary words: dates only when capitalised inside a sentence or next to a number."""

CURRENCIES: dict[str, str] = {
    "€": "eur", "eur": "eur", "euro": "eur", "euros": "eur",
    "$": "usd", "usd": "usd", "dollar": "usd", "dollars": "usd",
    "£": "gbp", "gbp": "gbp", "pound": "gbp", "pounds": "gbp", "quid": "gbp",
    "chf": "chf", "franc": "chf", "francs": "chf",
}  # fmt: skip

NOT_NAMES = frozenset(
    _words(
        "i i'm i've i'd i'll hi hello hey dear thanks thank please ok okay yes sorry "
        "help mr mrs ms dr sir madam a an the and or but if so then also just "
        "my your our me we you he she it they this that these those there here can "
        "could do does did is are was were will would should shall must may might have "
        "has had am be been what when where why who whom whose which how in on at to "
        "for of from with by about as id vat iban pdf faq"
    )
)
"""Capitalised but never a name."""


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

UNITS: dict[str, str] = {
    "minute": "minute", "min": "minute", "hour": "hour", "hr": "hour", "day": "day",
    "week": "week", "month": "month", "year": "year", "kg": "kg", "kilo": "kg",
    "percent": "percent", "cm": "cm", "mm": "mm", "time": "times",
}  # fmt: skip
"""Units a number may count; a number's unit is the word after it."""
