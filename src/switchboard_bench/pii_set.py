"""A seeded synthetic set of support messages with exact PII spans, for ``pii_eval``.

Each case is a support-domain template whose slots are filled with generated values; the
expected spans are recorded while filling, never re-detected. Values are valid by the
same rules real ones obey (Luhn for cards, ISO 7064 mod-97 for IBANs, ``phonenumbers``
validity for phones, issued ranges for SSNs), so a detector that validates is not
penalised for validating.

What counts as PII here, and what does not (the hard negatives):

- ``LOCATION`` is a town or city a customer names (where they live, ship to, write from),
  and a country (without "the": "the UK" is expected as "UK"); both are recorded and
  passed on by the guard.
- ``STREET_ADDRESS`` is a street line in a US, UK, German, Italian, French or Spanish
  format, with a flat or unit where one is written on it.
- ``PERSON`` is a full name or a first name in a self-introduction or a recipient.
- ``CARD_EXPIRY`` and ``CARD_CVV`` are a card's expiry and security code written as card
  data (after "exp", "cvv"..., or pasted after the card number); the hard negatives put
  card words next to dates, month/day dates shaped like an expiry, prices and quantities.
- Never PII: the shop's order numbers (``LK-123456``), prices, dates, quantities, product
  names, carrier tracking numbers, postcodes on their own, discount codes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import phonenumbers

from switchboard.orders.dataset import PRODUCTS as CATALOGUE


class ExpectedSpan(NamedTuple):
    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PiiCase:
    text: str
    spans: list[ExpectedSpan]

    @property
    def is_negative(self) -> bool:
        """A hard negative: support text with no PII at all."""
        return not self.spans


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _items(text: str) -> tuple[str, ...]:
    """``"a b | c"`` gives ``("a b", "c")``; line breaks count as spaces."""
    return tuple(" ".join(item.split()) for item in text.split("|"))


# ---- value lists (diverse origins) -------------------------------------------------------

FIRST_NAMES = _words(
    """
    Maria James Aiko Oluwaseun Priya Mateo Fatima Liam Chen Ingrid Kwame Sofia Dmitri Amara
    Hiroshi Lucía Noah Zainab Björn Anjali Tomasz Yusuf Emma Thandiwe Rafael Mei Siobhan
    Arjun Chloé Kofi Elena Hamza Astrid Diego Nadia Olga Samuel Leilani Mohammed Hannah
    """
)
LAST_NAMES = _words(
    """
    Gonzalez Smith Tanaka Adeyemi Sharma Rossi Haddad O'Brien Wang Johansson Mensah Novak
    Petrov Okafor Nakamura Fernández Müller Khan Lindqvist Patel Kowalski Yilmaz Schneider
    Dlamini Silva Nguyen Murphy Iyer Dubois Boateng Popescu Rahman Andersen Moreno Hassan
    Ivanova Cohen Kealoha Al-Farsi Weber
    """
)
CITIES = _words(
    """
    Hamburg Munich Leipzig Cologne Dresden Bremen Nuremberg Lyon Marseille Toulouse Bordeaux
    Milan Turin Naples Bologna Seville Valencia Bilbao Porto Lisbon Utrecht Antwerp Ghent
    Zurich Geneva Basel Lausanne Graz Salzburg Innsbruck Copenhagen Oslo Gothenburg Helsinki
    Krakow Warsaw Prague Budapest Leeds Bristol Glasgow Cardiff Belfast Dublin Boston
    Chicago Austin Portland Atlanta Toronto Nairobi Lagos Mumbai Osaka Melbourne
    """
)
EMAIL_DOMAINS = _words(
    """
    gmail.com outlook.com yahoo.co.uk web.de gmx.net icloud.com proton.me orange.fr
    libero.it hotmail.es bluewin.ch t-online.de mail.com posteo.de example-company.co.uk
    """
)
COUNTRIES = _items(
    """
    Germany | France | Italy | Spain | Austria | Switzerland | the Netherlands | Belgium |
    Poland | Sweden | the UK | the US | Ireland | Denmark | Portugal
    """
)
STREET_NAMES = _words(
    """
    Maple Oak Harbour Station Church Mill Chestnut Willow Linden Meadow Orchard Garfield
    Lincoln Hawthorne Kingfisher Rosen Birken Garibaldi Mazzini Roma Tanneurs Lilas
    Alcala Mayor Prado Cedar Ridge Lakeview Victoria Albert Bridge Castle Park
    """
)
_STREET_TYPES = ("Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Drive", "Way", "Court")
_UNITS = ("Apt", "Flat", "Unit", "Suite")
# the demo shop's catalogue: real product names the assistant talks about
PRODUCTS = tuple(name for _sku, name, _price in CATALOGUE)

# ---- value generators ---------------------------------------------------------------------

Gen = Callable[[random.Random], str]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def first_name(rng: random.Random) -> str:
    return rng.choice(FIRST_NAMES)


def city(rng: random.Random) -> str:
    return rng.choice(CITIES)


def street(rng: random.Random) -> str:
    """A street line in one of the formats customers write."""
    number, name = rng.randint(1, 2999), rng.choice(STREET_NAMES)
    unit = f"{rng.choice(_UNITS)} {rng.randint(1, 40)}"
    return rng.choice(
        (
            f"{number} {name} {rng.choice(_STREET_TYPES)}",
            f"{number} {rng.choice('NSEW')} {name} {rng.choice(_STREET_TYPES)}",
            f"{number} {name} {rng.choice(_STREET_TYPES)}, {unit}",
            f"{unit}, {number} {name} {rng.choice(_STREET_TYPES)}",
            f"{name}straße {number % 200 + 1}",
            f"Via {name} {number % 300 + 1}",
            f"{number % 120 + 1} rue des {name}",
            f"Calle {name} {number % 200 + 1}",
        )
    )


def _ascii(name: str) -> str:
    table = str.maketrans("áéíóúüöäøåçñ", "aeiouuoaoacn")
    return re.sub(r"[^a-z]", "", name.lower().translate(table))


def email(rng: random.Random) -> str:
    first, last = _ascii(rng.choice(FIRST_NAMES)), _ascii(rng.choice(LAST_NAMES))
    local = rng.choice(
        (
            f"{first}.{last}",
            f"{first}{rng.randint(1, 99)}",
            f"{first[0]}{last}",
            f"{first}_{last}",
            f"{last}.{first}+shop",
        )
    )
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


# (region, digits of the national significant number) - several national formats
_PHONE_REGIONS = (
    ("US", 10),
    ("GB", 10),
    ("DE", 11),
    ("FR", 9),
    ("CH", 9),
    ("IN", 10),
    ("CA", 10),
    ("NL", 9),
    ("ES", 9),
    ("IT", 10),
)
_PHONE_FORMATS = (
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
)


def phone(rng: random.Random) -> str:
    """A number ``phonenumbers`` deems valid, written in a random one of three formats."""
    region, length = rng.choice(_PHONE_REGIONS)
    code = phonenumbers.country_code_for_region(region)
    while True:
        digits = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
        number = phonenumbers.parse(f"+{code}{digits}")
        if phonenumbers.is_valid_number(number):
            kind = phonenumbers.number_type(number)
            if kind in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            ):
                return phonenumbers.format_number(number, rng.choice(_PHONE_FORMATS))


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the check digit will sit to the right of these
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return luhn_check_digit(digits[:-1]) == digits[-1]


# (prefix, length, grouping)
_CARD_BRANDS = (
    ("4", 16, (4, 4, 4, 4)),  # Visa
    ("51", 16, (4, 4, 4, 4)),  # Mastercard
    ("55", 16, (4, 4, 4, 4)),
    ("34", 15, (4, 6, 5)),  # American Express
    ("37", 15, (4, 6, 5)),
    ("6011", 16, (4, 4, 4, 4)),  # Discover
)


def credit_card(rng: random.Random) -> str:
    prefix, length, groups = rng.choice(_CARD_BRANDS)
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    digits = body + luhn_check_digit(body)
    sep = rng.choice((" ", "-", ""))
    parts, pos = [], 0
    for size in groups:
        parts.append(digits[pos : pos + size])
        pos += size
    return sep.join(parts)


def card_expiry(rng: random.Random) -> str:
    """A card's expiry as cards print it and customers copy it: 04/27, 4/27, 04/2027, 04-27."""
    month, year = rng.randint(1, 12), rng.randint(25, 34)
    return rng.choice(
        (f"{month:02d}/{year}", f"{month}/{year}", f"{month:02d}/20{year}", f"{month:02d}-{year}")
    )


def card_cvv(rng: random.Random) -> str:
    """Three digits, or four (American Express's CID)."""
    return "".join(rng.choice("0123456789") for _ in range(rng.choice((3, 3, 3, 4))))


# country: BBAN as a sequence of (kind, count), "n" digits, "a" upper-case letters
_IBAN_BBAN = {
    "DE": (("n", 18),),
    "GB": (("a", 4), ("n", 14)),
    "FR": (("n", 23),),
    "NL": (("a", 4), ("n", 10)),
    "ES": (("n", 20),),
    "IT": (("a", 1), ("n", 22)),
    "CH": (("n", 17),),
    "AT": (("n", 16),),
    "BE": (("n", 12),),
}


def iban_mod97(iban: str) -> int:
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97


def iban(rng: random.Random) -> str:
    country = rng.choice(sorted(_IBAN_BBAN))
    bban = "".join(
        "".join(
            rng.choice("0123456789") if kind == "n" else rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            for _ in range(count)
        )
        for kind, count in _IBAN_BBAN[country]
    )
    check = 98 - iban_mod97(f"{country}00{bban}")
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ".".join(
            str(n)
            for n in (
                rng.randint(11, 223),
                rng.randint(0, 255),
                rng.randint(0, 255),
                rng.randint(1, 254),
            )
        )
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return ":".join(groups)
    return f"{groups[0]}:{groups[1]}::{groups[6]}:{groups[7]}"


def ssn(rng: random.Random) -> str:
    """An SSN in the issued ranges: area 001-899 except 666, group 01-99, serial 0001-9999."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


# ---- non-PII values -------------------------------------------------------------------------


def order_number(rng: random.Random) -> str:
    return f"LK-{rng.randint(100000, 999999)}"


def price(rng: random.Random) -> str:
    amount = f"{rng.randint(5, 499)}.{rng.choice(('00', '50', '95', '99'))}"
    return rng.choice((f"€{amount}", f"{amount} EUR", f"£{amount}", f"${amount}", f"CHF {amount}"))


def date(rng: random.Random) -> str:
    month = rng.choice(("January", "March", "May", "June", "September", "December"))
    day = rng.randint(1, 28)
    return rng.choice(
        (
            f"{day} {month}",
            f"{month} {day}",
            f"{day:02d}/{rng.randint(1, 12):02d}/2025",
            f"2025-{rng.randint(1, 12):02d}-{day:02d}",
        )
    )


def short_date(rng: random.Random) -> str:
    """A date as US customers write it, month/day: shaped like a card's expiry."""
    return f"{rng.randint(1, 12)}/{rng.randint(10, 28)}"


def quantity(rng: random.Random) -> str:
    return str(rng.randint(2, 12))


def product(rng: random.Random) -> str:
    return rng.choice(PRODUCTS)


def tracking(rng: random.Random) -> str:
    """A tracking number in one of the formats the demo's carriers use (DHL, DPD, UPS,
    Royal Mail, USPS), as ``orders.dataset`` generates them."""

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return rng.choice(
        (
            "JJD" + digits(18),
            "0" + digits(13),
            "1Z" + "".join(rng.choice(letters) for _ in range(6)) + digits(10),
            rng.choice(letters) + rng.choice(letters) + digits(9) + "GB",
            "9400" + digits(18),
        )
    )


def postcode(rng: random.Random) -> str:
    return rng.choice(
        (
            f"{rng.randint(10000, 99999)}",
            f"SW{rng.randint(1, 9)}A {rng.randint(1, 9)}AA",
            f"{rng.randint(1000, 9999)}",
        )
    )


def country(rng: random.Random) -> str:
    return rng.choice(COUNTRIES)


def discount_code(rng: random.Random) -> str:
    return rng.choice(("WELCOME10", "SPRING25", "STUDENT15", "OUTDOOR20"))


PII_VALUES: dict[str, Gen] = {
    "PERSON": person,
    "FIRST_NAME": first_name,  # recorded as PERSON
    "LOCATION": city,
    "COUNTRY": country,  # recorded as LOCATION
    "STREET_ADDRESS": street,
    "EMAIL_ADDRESS": email,
    "PHONE_NUMBER": phone,
    "CREDIT_CARD": credit_card,
    "CARD_EXPIRY": card_expiry,
    "CARD_CVV": card_cvv,
    "IBAN_CODE": iban,
    "IP_ADDRESS": ip_address,
    "US_SSN": ssn,
}
SLOT_TYPE = {"FIRST_NAME": "PERSON", "COUNTRY": "LOCATION"}
OTHER_VALUES: dict[str, Gen] = {
    "ORDER": order_number,
    "PRICE": price,
    "DATE": date,
    "SHORT_DATE": short_date,
    "QTY": quantity,
    "PRODUCT": product,
    "TRACKING": tracking,
    "POSTCODE": postcode,
    "CODE": discount_code,
}

# ---- templates ------------------------------------------------------------------------------

# Templates keyed by the PII type they are chosen for; each may carry other slots too.
PII_TEMPLATES: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "Hi, this is {PERSON}. My order {ORDER} hasn't arrived yet.",
        "My name is {PERSON} and I'd like to return the {PRODUCT} I bought on {DATE}.",
        "Please send the replacement to {PERSON}, she's my sister.",
        "Hello, {PERSON} here - the {PRODUCT} arrived damaged, what now?",
        "Can you put the invoice for {ORDER} in the name of {PERSON}?",
        "I spoke to your colleague yesterday and {PERSON} told me the refund of {PRICE} was "
        "approved.",
        "Hi, I'm {FIRST_NAME}. Where is my parcel {TRACKING}?",
        "Thanks {FIRST_NAME}, that solved it!",
        "Kind regards, {PERSON}",
        "The parcel should be left with my neighbour {PERSON} if I'm not home.",
    ),
    "LOCATION": (
        "I live in {LOCATION} - how long does delivery take?",
        "Do you deliver to {LOCATION}, {COUNTRY}?",
        "I'm writing from {LOCATION} and my {PRODUCT} still hasn't shipped.",
        "Could you ship order {ORDER} to my office in {LOCATION} instead?",
        "We moved from {LOCATION} to {LOCATION} last month, please update my address.",
        "Is there a pickup point near {LOCATION}?",
        "Do you ship to {COUNTRY}, and what does express delivery cost?",
        "How much is shipping to {COUNTRY} for a parcel worth {PRICE}?",
    ),
    "STREET_ADDRESS": (
        "Please send the replacement to {STREET_ADDRESS}, {LOCATION}.",
        "My new address is {STREET_ADDRESS}, {POSTCODE} {LOCATION}.",
        "Deliver order {ORDER} to {STREET_ADDRESS} - the blue door at the back.",
        "I moved to {STREET_ADDRESS}, can you update my account?",
        "The parcel went to {STREET_ADDRESS} instead of my flat.",
    ),
    "EMAIL_ADDRESS": (
        "Please send the invoice to {EMAIL_ADDRESS}.",
        "My email is {EMAIL_ADDRESS}, I never got the confirmation for {ORDER}.",
        "Can you change my account email to {EMAIL_ADDRESS}?",
        "Reply to {EMAIL_ADDRESS} please, I can't log in.",
    ),
    "PHONE_NUMBER": (
        "You can call me on {PHONE_NUMBER} any time after 5pm.",
        "My phone number is {PHONE_NUMBER}.",
        "The courier should ring {PHONE_NUMBER} before delivering {ORDER}.",
        "Please text me at {PHONE_NUMBER} when the {PRODUCT} is back in stock.",
        "Mobile: {PHONE_NUMBER}",
    ),
    "CREDIT_CARD": (
        "I paid with my card {CREDIT_CARD} but was charged twice.",
        "Card number {CREDIT_CARD}, can you check why the payment of {PRICE} failed?",
        "Please refund to the card ending in the same digits as {CREDIT_CARD}.",
        "My Visa {CREDIT_CARD} was declined for order {ORDER}.",
    ),
    "CARD_EXPIRY": (
        "My card {CREDIT_CARD} exp {CARD_EXPIRY} was declined for order {ORDER}.",
        "The Visa I used expires {CARD_EXPIRY}, is that why the payment of {PRICE} failed?",
        "Card details: {CREDIT_CARD}, valid thru {CARD_EXPIRY}.",
        "{CREDIT_CARD} {CARD_EXPIRY} {CARD_CVV}",
        "I got a new debit card, the expiry date is {CARD_EXPIRY} - can you update it?",
    ),
    "CARD_CVV": (
        "The CVV is {CARD_CVV}, please take the payment for {ORDER} again.",
        "Mastercard, exp {CARD_EXPIRY}, security code {CARD_CVV}.",
        "the 3 digits on the back are {CARD_CVV} if you need them",
        "Do you need the CVC? It's {CARD_CVV}.",
        "My credit card {CREDIT_CARD}, expires {CARD_EXPIRY}, cvv2: {CARD_CVV}",
    ),
    "IBAN_CODE": (
        "Please refund the {PRICE} to my IBAN {IBAN_CODE}.",
        "My bank account is {IBAN_CODE} - can you transfer the refund there?",
        "IBAN: {IBAN_CODE}, account holder {PERSON}.",
        "Could you send the money back to {IBAN_CODE} instead of my card?",
    ),
    "IP_ADDRESS": (
        "Your site blocks my IP {IP_ADDRESS} when I try to check out.",
        "The login page says my address {IP_ADDRESS} is not allowed.",
        "I get an error from {IP_ADDRESS} every time I open the returns portal.",
    ),
    "US_SSN": (
        "Why do you need my SSN? It's {US_SSN} if you really need it.",
        "My social security number is {US_SSN}, please verify my account.",
        "For the warranty claim: SSN {US_SSN}, order {ORDER}.",
    ),
}
NEGATIVE_TEMPLATES = (
    "Where is my order {ORDER}? It was due on {DATE}.",
    "I was charged {PRICE} for {QTY} items but the {PRODUCT} was on sale.",
    "Can I return the {PRODUCT} from order {ORDER}? I bought it on {DATE}.",
    "My tracking number is {TRACKING} and it hasn't moved since {DATE}.",
    "Is the {PRODUCT} still available in size 42? It says {PRICE} on the website.",
    "The discount code {CODE} didn't work on order {ORDER}.",
    "My postcode is {POSTCODE} - which delivery options do I have?",
    "I ordered {QTY} of the {PRODUCT} on {DATE} and only got one.",
    "Order {ORDER} and order {ORDER} should have been shipped together.",
    "Parcel {TRACKING} shows delivered but nothing arrived.",
    "My card was charged {PRICE} on {SHORT_DATE} for {QTY} items.",
    "I paid by Visa on {SHORT_DATE}, order {ORDER}, but the {PRODUCT} never came.",
    "Can I still pay by credit card? The offer on the {PRODUCT} expires {DATE}.",
    "My debit card was declined twice on {DATE}; order {ORDER} is {PRICE}.",
)

_SLOT = re.compile(r"\{([A-Z_]+)\}")
NEGATIVE_SHARE = 0.25


def fill(template: str, rng: random.Random) -> PiiCase:
    """Fill ``template``'s slots left to right, recording each PII value's span."""
    parts: list[str] = []
    spans: list[ExpectedSpan] = []
    length = 0
    pos = 0
    for match in _SLOT.finditer(template):
        literal = template[pos : match.start()]
        parts.append(literal)
        length += len(literal)
        slot = match.group(1)
        if slot in PII_VALUES:
            value = PII_VALUES[slot](rng)
            skip = len(value) - len(value.removeprefix("the "))  # "the UK" is expected as "UK"
            kind = SLOT_TYPE.get(slot, slot)
            spans.append(ExpectedSpan(kind, length + skip, length + len(value)))
        elif slot in OTHER_VALUES:
            value = OTHER_VALUES[slot](rng)
        else:
            raise ValueError(f"unknown slot {{{slot}}} in template {template!r}")
        parts.append(value)
        length += len(value)
        pos = match.end()
    parts.append(template[pos:])
    return PiiCase(text="".join(parts), spans=spans)


def generate(n: int, seed: int) -> list[PiiCase]:
    """``n`` cases: a quarter hard negatives, the rest cycling through the PII types of
    ``PII_TEMPLATES`` so each type is represented evenly. Same seed, same cases."""
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    types = list(PII_TEMPLATES)
    cases: list[PiiCase] = []
    for i in range(n):
        if rng.random() < NEGATIVE_SHARE:
            template = rng.choice(NEGATIVE_TEMPLATES)
        else:
            template = rng.choice(PII_TEMPLATES[types[i % len(types)]])
        cases.append(fill(template, rng))
    return cases
