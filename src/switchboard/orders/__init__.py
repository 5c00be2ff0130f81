"""The demo shop's Order API: a separate service with its own SQLite database.

``dataset`` generates the deterministic demo data, ``db`` stores and queries it,
``service`` exposes it over HTTP to trusted services, ``process`` runs it beside
``switchboard serve``. Shared types live in ``types``.
"""

from switchboard.orders.dataset import ORDER_ID_PATTERN, REFERENCE_TIME, generate_dataset
from switchboard.orders.db import OrderDB
from switchboard.orders.types import (
    Customer,
    Dataset,
    Event,
    Item,
    Order,
    OrderStatus,
    Shipment,
)

__all__ = [
    "ORDER_ID_PATTERN",
    "REFERENCE_TIME",
    "Customer",
    "Dataset",
    "Event",
    "Item",
    "Order",
    "OrderDB",
    "OrderStatus",
    "Shipment",
    "generate_dataset",
]
