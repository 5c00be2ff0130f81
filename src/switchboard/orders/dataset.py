"""The demo shop's deterministic dataset: 25 customers, 80 orders of outdoor gear.

Everything derives from ``random.Random(7)`` and hand-written constants, and every date
is relative to ``REFERENCE_TIME`` (never "now"), so two generations on any machine are
equal. Every customer has at least one order and every status occurs at least twice.
Order ids look like ``LK-100214``; ``ORDER_ID_PATTERN`` finds them in free text.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from switchboard.orders.types import (
    Customer,
    Dataset,
    Event,
    Item,
    Order,
    OrderStatus,
    Shipment,
)

ORDER_ID_PATTERN = re.compile(r"\bLK-\d{6}\b")
REFERENCE_TIME = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
SEED = 7
NUM_ORDERS = 80
MIN_ORDERS_PER_STATUS = 2
WAREHOUSE = "Kiel, DE"
HANDLING = timedelta(hours=20)  # order placed → parcel handed to the carrier

CUSTOMERS: tuple[tuple[str, str, str], ...] = (  # name, city, country
    ("Anna Becker", "Berlin", "DE"),
    ("Jonas Müller", "Hamburg", "DE"),
    ("Lena Schmidt", "Munich", "DE"),
    ("Felix Wagner", "Cologne", "DE"),
    ("Sophie Hoffmann", "Frankfurt", "DE"),
    ("Lukas Fischer", "Stuttgart", "DE"),
    ("Marie Weber", "Dresden", "DE"),
    ("Camille Martin", "Paris", "FR"),
    ("Louis Bernard", "Lyon", "FR"),
    ("Chloé Dubois", "Grenoble", "FR"),
    ("Hugo Laurent", "Annecy", "FR"),
    ("Daan de Vries", "Amsterdam", "NL"),
    ("Sanne Jansen", "Utrecht", "NL"),
    ("Bram Visser", "Rotterdam", "NL"),
    ("Katharina Gruber", "Vienna", "AT"),
    ("Maximilian Huber", "Innsbruck", "AT"),
    ("Laura Pichler", "Salzburg", "AT"),
    ("Oliver Smith", "London", "UK"),
    ("Emily Jones", "Manchester", "UK"),
    ("Harry Taylor", "Edinburgh", "UK"),
    ("Nina Keller", "Zurich", "CH"),
    ("Luca Meier", "Bern", "CH"),
    ("Emma Johnson", "Denver", "US"),
    ("Noah Williams", "Seattle", "US"),
    ("Ava Brown", "Boston", "US"),
)

PRODUCTS: tuple[tuple[str, str, float], ...] = (  # sku, name, unit price EUR
    ("TNT-2P-ALP", "Alpine 2-person tent", 289.00),
    ("TNT-1P-ULT", "Ultralight 1-person tent", 349.00),
    ("SLB-DWN-M5", "Down sleeping bag, -5 °C", 229.00),
    ("SLB-SYN-P5", "Synthetic sleeping bag, +5 °C", 99.90),
    ("MAT-INF-RG", "Inflatable sleeping mat, regular", 119.00),
    ("BPK-45L-TR", "Trekking backpack 45 L", 179.00),
    ("BPK-28L-DY", "Daypack 28 L", 89.95),
    ("JKT-HSH-W", "Hardshell rain jacket (women)", 249.00),
    ("JKT-HSH-M", "Hardshell rain jacket (men)", 249.00),
    ("FLC-MID-U", "Midweight fleece pullover", 69.90),
    ("BTS-HIK-MD", "Mid-cut hiking boots", 189.00),
    ("SCK-MRN-2P", "Merino hiking socks, 2-pack", 24.90),
    ("POL-CRB-PR", "Carbon trekking poles, pair", 139.00),
    ("STV-GAS-CP", "Compact gas stove", 54.90),
    ("GAS-230-IB", "Gas cartridge 230 g", 6.50),
    ("PAN-TI-900", "Titanium pot 900 ml", 44.90),
    ("LMP-HDL-400", "Headlamp 400 lm", 49.95),
    ("BTL-STL-1L", "Insulated steel bottle 1 L", 34.90),
    ("FLT-WTR-SQ", "Squeeze water filter", 39.90),
    ("CMP-CHR-LT", "Lightweight camp chair", 79.00),
)

CARRIERS_BY_COUNTRY: dict[str, tuple[str, ...]] = {
    "DE": ("DHL", "DPD", "UPS"),
    "FR": ("DHL", "DPD", "UPS"),
    "NL": ("DHL", "DPD", "UPS"),
    "AT": ("DHL", "DPD", "UPS"),
    "CH": ("DHL", "UPS"),
    "UK": ("Royal Mail", "DPD", "DHL"),
    "US": ("USPS", "UPS", "DHL"),
}

STATUS_WEIGHTS: dict[OrderStatus, int] = {
    OrderStatus.PROCESSING: 2,
    OrderStatus.SHIPPED: 2,
    OrderStatus.IN_TRANSIT: 3,
    OrderStatus.OUT_FOR_DELIVERY: 1,
    OrderStatus.DELIVERED: 10,
    OrderStatus.DELAYED: 1,
    OrderStatus.LOST: 1,
    OrderStatus.RETURNED: 1,
    OrderStatus.CANCELLED: 1,
}


@dataclass(frozen=True)
class Step:
    """One tracking event, ``offset`` after the parcel was handed to the carrier."""

    offset: timedelta
    place: str  # "warehouse", "hub", "destination", "carrier"
    text: str


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


LABEL = Step(_h(0), "warehouse", "Shipment information received by {carrier}")
PICKED_UP = Step(_h(4), "warehouse", "Picked up by {carrier}")
LEFT_HUB = Step(_h(14), "hub", "Departed {carrier} sorting hub")
AT_DESTINATION = Step(_h(34), "destination_hub", "Arrived at destination hub")
OUT_FOR_DELIVERY = Step(_h(52), "destination", "Out for delivery")
DELIVERED = Step(_h(58), "destination", "Delivered")
HELD = Step(_h(40), "hub", "Delayed: held at sorting hub due to high parcel volumes")
INVESTIGATION = Step(
    _h(14 * 24), "carrier", "Carrier investigation closed: the parcel could not be located"
)
RETURN_RECEIVED = Step(_h(8 * 24), "warehouse", "Return received at the shop's warehouse")

TIMELINES: dict[OrderStatus, tuple[Step, ...]] = {
    OrderStatus.SHIPPED: (LABEL, PICKED_UP),
    OrderStatus.IN_TRANSIT: (LABEL, PICKED_UP, LEFT_HUB),
    OrderStatus.OUT_FOR_DELIVERY: (LABEL, PICKED_UP, LEFT_HUB, AT_DESTINATION, OUT_FOR_DELIVERY),
    OrderStatus.DELIVERED: (
        LABEL,
        PICKED_UP,
        LEFT_HUB,
        AT_DESTINATION,
        OUT_FOR_DELIVERY,
        DELIVERED,
    ),
    OrderStatus.DELAYED: (LABEL, PICKED_UP, LEFT_HUB, HELD),
    OrderStatus.LOST: (LABEL, PICKED_UP, LEFT_HUB, INVESTIGATION),
    OrderStatus.RETURNED: (
        LABEL,
        PICKED_UP,
        LEFT_HUB,
        AT_DESTINATION,
        OUT_FOR_DELIVERY,
        DELIVERED,
        RETURN_RECEIVED,
    ),
}

# Hours between the status's last event (or the order, if unshipped) and REFERENCE_TIME;
# short enough that the next event of the timeline is not yet due.
SLACK_HOURS: dict[OrderStatus, tuple[int, int]] = {
    OrderStatus.PROCESSING: (2, 40),
    OrderStatus.SHIPPED: (1, 9),
    OrderStatus.IN_TRANSIT: (1, 19),
    OrderStatus.OUT_FOR_DELIVERY: (1, 5),
    OrderStatus.DELIVERED: (6, 50 * 24),
    OrderStatus.DELAYED: (48, 5 * 24),
    OrderStatus.LOST: (24, 20 * 24),
    OrderStatus.RETURNED: (1, 40 * 24),
    OrderStatus.CANCELLED: (24, 60 * 24),
}


def generate_dataset() -> Dataset:
    """The demo dataset; the same on every call and every machine."""
    rng = random.Random(SEED)
    customers = tuple(_customer(i, *row) for i, row in enumerate(CUSTOMERS))
    statuses = _statuses(rng)
    owners = _owners(rng, customers)
    drafts = [_order(rng, owner, status) for owner, status in zip(owners, statuses, strict=True)]
    return Dataset(customers=customers, orders=_number(rng, drafts))


def _customer(index: int, name: str, city: str, country: str) -> Customer:
    local = name.lower().replace(" ", ".").replace("ü", "ue").replace("é", "e")
    return Customer(f"C{1001 + index}", name, f"{local}@example.com", city, country)


def _statuses(rng: random.Random) -> list[OrderStatus]:
    """Every status twice, the rest drawn by weight, shuffled."""
    statuses = [status for status in OrderStatus for _ in range(MIN_ORDERS_PER_STATUS)]
    rest = NUM_ORDERS - len(statuses)
    statuses += rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()), k=rest)
    rng.shuffle(statuses)
    return statuses


def _owners(rng: random.Random, customers: tuple[Customer, ...]) -> list[Customer]:
    """Every customer once, the rest drawn at random, shuffled."""
    owners = list(customers) + rng.choices(customers, k=NUM_ORDERS - len(customers))
    rng.shuffle(owners)
    return owners


def _order(rng: random.Random, customer: Customer, status: OrderStatus) -> Order:
    timeline = TIMELINES.get(status, ())
    low, high = SLACK_HOURS[status]
    age = _h(rng.randint(low, high))
    if timeline:
        age += HANDLING + timeline[-1].offset
    placed_at = REFERENCE_TIME - age
    shipment = _shipment(rng, customer, placed_at + HANDLING, timeline) if timeline else None
    return Order("", customer.customer_id, placed_at, status, _items(rng), shipment)


def _items(rng: random.Random) -> tuple[Item, ...]:
    products = rng.sample(PRODUCTS, k=rng.choice((1, 1, 2, 2, 3)))
    return tuple(Item(sku, name, rng.choice((1, 1, 1, 2)), price) for sku, name, price in products)


def _shipment(
    rng: random.Random, customer: Customer, shipped_at: datetime, timeline: tuple[Step, ...]
) -> Shipment:
    carrier = rng.choice(CARRIERS_BY_COUNTRY[customer.country])
    events = tuple(
        Event(
            at=shipped_at + step.offset + timedelta(minutes=rng.randint(0, 50)),
            location=_location(step.place, carrier, customer),
            description=step.text.format(carrier=carrier),
        )
        for step in timeline
    )
    return Shipment(
        carrier=carrier,
        tracking_number=_tracking_number(rng, carrier),
        shipped_at=shipped_at,
        estimated_delivery=(shipped_at + timedelta(days=3)).date(),
        events=events,
    )


def _location(place: str, carrier: str, customer: Customer) -> str:
    where = {
        "warehouse": WAREHOUSE,
        "hub": "Leipzig Hub, DE",
        "destination_hub": f"{customer.city} Hub, {customer.country}",
        "destination": f"{customer.city}, {customer.country}",
        "carrier": f"{carrier} customer service",
    }
    return where[place]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _tracking_number(rng: random.Random, carrier: str) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    formats = {
        "DHL": lambda: "JJD" + _digits(rng, 18),
        "DPD": lambda: "0" + _digits(rng, 13),
        "UPS": lambda: "1Z" + "".join(rng.choice(letters) for _ in range(6)) + _digits(rng, 10),
        "Royal Mail": lambda: rng.choice(letters) + rng.choice(letters) + _digits(rng, 9) + "GB",
        "USPS": lambda: "9400" + _digits(rng, 18),
    }
    return formats[carrier]()


def _number(rng: random.Random, drafts: list[Order]) -> tuple[Order, ...]:
    """Order ids ascend with the order date, with gaps (other shops' orders)."""
    orders = []
    number = 100_000
    for draft in sorted(drafts, key=lambda order: order.placed_at):
        number += rng.randint(1, 37)
        orders.append(replace(draft, order_id=f"LK-{number}"))
    return tuple(orders)
