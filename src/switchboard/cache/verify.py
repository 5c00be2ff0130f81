"""The second stage of the false-hit guard: the two questions must ask about the same
things, word for word, up to synonyms.

``false_hit`` reads facets an encoder blurs (negation, numbers, places...). What it cannot
see is a change of action or subject in otherwise equal wording: "use" vs "buy a gift
card", "wash" vs "dry a down jacket", "cancel" vs "change my order", a "complaint" vs a
"warranty claim". The encoder rates such pairs at 0.7 to 0.9, as high as paraphrases.

This module maps the content words of each question onto the concepts of the shop's
support domain (``LEXICON``: a few hundred words and phrases, synonyms grouped: "return" =
"send back", "refund" = "money back", "wash" = "clean"; related concepts such as "ship"
and "dispatch" align too). Words outside the lexicon are not evidence either way: the
lexicon is the verifier's reach, and a swap of two words it does not know ("cancel" vs
"pause my order") passes. Two questions mismatch when each names a concept the other
lacks (a substitution: "use" for "buy"); a concept named on one side only is an addition
("How do I return it?" vs "How do I return it by post?") and passes, since paraphrases
often elaborate. Only like may substitute for like (``COMPARED``): an action or subject
for either, goods for a subject, a question of time for one of price, never a question
for an action ("when will my refund arrive" asks what "how long does a refund take"
asks). A last check compares the preposition before a subject both name: a refund "for"
a gift card is not one "to" a gift card (actions are left out: "to return" and "for
sending back" are the same request).

Pure functions of two strings, memoised per question: a lookup checks one query against
several cached ones; no model, microseconds per pair.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


ACTIONS = {
    "buy": "buy,bought,purchase,purchasing,sell,sold,paid for",
    "use": "use,using,redeem,apply,spend,enter,put in,type in",
    "return": "return,returns,returned,returning,returnable,send back,send it back",
    "exchange": "exchange,swap",
    "refund": "refund,money back,reimburse,reimbursement",
    "cancel": "cancel,cancellation,withdraw",
    "change": "change,modify,update,edit,amend,correct,alter",
    "track": "track,tracking,trace,status,where is,where are",
    "wash": "wash,clean,launder,washing machine",
    "dry": "dry,dryer,tumble",
    "storage": "store,storage,keep",
    "reproof": "reproof,waterproofing,repellency,reactivate,restore,renew",
    "repair": "repair,fix,mend,workshop",
    "reset": "reset,forgot,forget,recover",
    "delete": "delete,deletion,erase",
    "login": "log in,login,sign in,logging in",
    "logout": "log out,logout,sign out",
    "measure": "measure,measurement",
    "download": "download,copy",
    "escalate": "escalate,escalation,ombudsman",
    "contact": "contact,reach,call,phone,talk,speak,customer service,support,hotline",
    "complaint": "complaint,complain",
    "claim": "claim",
    "ship": "ship,shipping,shipped,send,sent,postage,post,transit",
    "dispatch": "dispatch,dispatched,send out,sent out,leave the warehouse",
    "deliver": "deliver,delivery,delivered,deliveries,arrive,arrival,receive,received",
    "pay": "pay,paid,paying,payment,charge,charged,debit,debited",
    "collect": "collect,pick up,pickup,pick-up,click and collect,pickup point,pick-up point,"
    "parcel shop,parcel locker,packstation",
}
"""What the customer wants done, or what happened."""

SUBJECTS = {
    "password": "password,passcode",
    "email": "email,e-mail,emails",
    "account": "account,profile",
    "newsletter": "newsletter,marketing,mailing",
    "invoice": "invoice,receipt,bill",
    "discount": "discount,promo,coupon,discount code,promo code",
    "warranty": "warranty,guarantee",
    "customs": "customs,duty,duties,import,tariff",
    "vat": "vat,tax,taxes",
    "size": "size,sizes,sizing,fit,fits",
    "two-factor": "two-factor,2fa,2-step,verification code,authenticator",
    "carrier": "carrier,courier,delivery company",
    "stock": "stock,restock,sold out",
    "label": "label",
    "gift card": "gift card,gift voucher,voucher,giftcard",
    "balance": "balance,credit left,how much is left",
    "date": "date",
    "method": "method,methods",
    "foot": "foot,feet",
    "chest": "chest,bust",
    "waist": "waist",
    "hips": "hip,hips",
    "inseam": "inseam,inside leg,leg length",
}
"""What the question is about."""

GOODS = {
    "goods": "parcel,package,item,product,goods,shipment,my order,an order,the order,"
    "your order,this order,that order",
}
"""What was bought, in the many words for it; only a subject replaces it ("cancel my
newsletter" vs "cancel my order"), as actions name what happens to it ("status of my
order" = "where is my order")."""

ASKS = {
    "time": "how long,how many days,how many weeks,how quickly,time limit,period,window,"
    "deadline,cut-off,cutoff",
    "price": "cost,costs,price,prices,fee,fees,surcharge,expensive,cheap,cheaper,how much",
}
"""What kind of answer is wanted: a duration, an amount."""

RELATED = frozenset(
    frozenset(pair)
    for pair in (
        ("pay", "price"),
        ("buy", "price"),
        ("use", "pay"),
        ("ship", "dispatch"),
        ("ship", "deliver"),
        ("newsletter", "email"),
    )
)
"""Concepts that stand in for each other in a paraphrase ("do I pay customs" = "are there
import fees", "use a gift card" = "pay with a gift card", "ship" = "dispatch" or
"deliver"; "dispatch" and "deliver" are not the same): one on each side is no
substitution."""

COMPARED: dict[str, frozenset[str]] = {
    "action": frozenset({"content"}),
    "subject": frozenset({"content", "noun"}),
    "goods": frozenset({"noun"}),
    "ask": frozenset({"ask"}),
}
"""Kinds whose concepts may substitute for each other (those sharing a group): an action
or a subject for either ("redeem" vs "check the balance", "import duties" vs "shipping
costs"), goods for a subject ("cancel my newsletter" vs "cancel my order"), a question of
time for one of price; never a question for an action ("how long does a refund take" asks
what "when will my refund arrive" asks)."""

CONFLICTING_ROLES = (frozenset({"for", "to"}), frozenset({"for", "with"}))
"""A refund "for" vs "to" a gift card, paying "with" vs "for" one; other pairs ("access
to" vs "a phone with" an authenticator) say the same thing in other words."""

IGNORED = "apply to,applies to"
"""Phrases that contain a concept's word but are no use of it ("applies to" a gift)."""

LEXICON: dict[str, tuple[str, str]] = {
    alias: (kind, concept)
    for kind, table in (
        ("action", ACTIONS),
        ("subject", SUBJECTS),
        ("goods", GOODS),
        ("ask", ASKS),
    )
    for concept, aliases in table.items()
    for alias in aliases.split(",")
} | {alias: ("", "") for alias in IGNORED.split(",")}
"""Alias (lower case, before stemming) -> (kind, concept)."""

ROLES: dict[str, str] = {
    "for": "for",
    "to": "to",
    "into": "to",
    "onto": "to",
    "with": "with",
    "from": "from",
}
"""Prepositions that change what a shared concept is to the question."""

_WORD = re.compile(r"[a-z0-9][a-z0-9\-']*")
_SEND_BACK = re.compile(r"\b(?:send|sending|sent|give|bring|post|mail)\b(?:\s+\S+){0,3}?\s+back\b")
_MAX_ALIAS_WORDS = 4
DETERMINERS = frozenset(
    _words("a an the my your our their his her its this that these those some any one")
)
"""The only words allowed between a preposition and the concept it ties ("to a gift
card"); anything else ("to get free delivery") makes "to" something other than a
preposition of that concept."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The domain concepts a question names, and the preposition before each."""

    concepts: frozenset[tuple[str, str]]  # (kind, concept)
    roles: frozenset[tuple[str, str]]  # (concept, role)


def mismatches(cached: str, query: str) -> tuple[str, ...]:
    """How the two questions differ in what they ask about (empty: they may share an
    answer): ``substitution`` and/or ``relation``."""
    a, b = read(cached), read(query)
    found = []
    only_a = _unaligned(a.concepts - b.concepts, b.concepts)
    only_b = _unaligned(b.concepts - a.concepts, a.concepts)
    if _groups(only_a) & _groups(only_b):
        found.append("substitution")
    if _relation_differs(a, b):
        found.append("relation")
    return tuple(found)


def is_mismatch(cached: str, query: str) -> bool:
    return bool(mismatches(cached, query))


@functools.lru_cache(maxsize=4096)
def read(text: str) -> Reading:
    lowered = text.lower().replace("\u2019", "'")
    words = [_stem(w) for w in _WORD.findall(_SEND_BACK.sub(" return ", lowered))]
    concepts: set[tuple[str, str]] = set()
    roles: set[tuple[str, str]] = set()
    role: str | None = None
    i = 0
    while i < len(words):
        if words[i] in ROLES:
            role = ROLES[words[i]]
            i += 1
            continue
        concept, width = _concept_at(words, i)
        if concept is None:
            if words[i] not in DETERMINERS:
                role = None
            i += 1
            continue
        if concept[0]:
            concepts.add(concept)
            if role is not None and concept[0] == "subject":
                roles.add((concept[1], role))
        role = None
        i += width
    return Reading(frozenset(concepts), frozenset(roles))


def _concept_at(words: list[str], i: int) -> tuple[tuple[str, str] | None, int]:
    for width in range(_MAX_ALIAS_WORDS, 0, -1):
        phrase = " ".join(words[i : i + width])
        if len(words) - i >= width and phrase in _STEMMED:
            return _STEMMED[phrase], width
    return None, 1


def _groups(concepts: set[tuple[str, str]]) -> frozenset[str]:
    return frozenset(group for kind, _ in concepts for group in COMPARED[kind])


def _unaligned(
    own: frozenset[tuple[str, str]], other: frozenset[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Concepts of one question with no equal or related concept in the other."""
    names = {concept for _, concept in other}
    return {
        (kind, concept)
        for kind, concept in own
        if not any(frozenset((concept, name)) in RELATED for name in names)
    }


def _relation_differs(a: Reading, b: Reading) -> bool:
    """A concept both name, each with a preposition, and no preposition in common."""
    for _, concept in a.concepts & b.concepts:
        ra = {r for c, r in a.roles if c == concept}
        rb = {r for c, r in b.roles if c == concept}
        if ra and rb and not ra & rb and any({x, y} in CONFLICTING_ROLES for x in ra for y in rb):
            return True
    return False


def _stem(word: str) -> str:
    """A light suffix stripper: enough to equate "refunds", "refunded", "refunding"."""
    word = word.removesuffix("'s")
    if word in ROLES:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word.removesuffix("e") if len(word) > 3 else word


def _stem_phrase(phrase: str) -> str:
    return " ".join(_stem(w) for w in phrase.split())


_STEMMED: dict[str, tuple[str, str]] = {_stem_phrase(a): c for a, c in LEXICON.items()}
