"""Typed records of the demo shop: customers, orders, items, shipments, events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    PROCESSING = "processing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    LOST = "lost"
    RETURNED = "returned"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    email: str
    city: str
    country: str


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    qty: int
    unit_price_eur: float


@dataclass(frozen=True)
class Event:
    at: datetime
    location: str
    description: str


@dataclass(frozen=True)
class Shipment:
    carrier: str
    tracking_number: str
    shipped_at: datetime
    estimated_delivery: date
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    placed_at: datetime
    status: OrderStatus
    items: tuple[Item, ...]
    shipment: Shipment | None

    @property
    def total_eur(self) -> float:
        return round(sum(item.qty * item.unit_price_eur for item in self.items), 2)


@dataclass(frozen=True)
class Dataset:
    customers: tuple[Customer, ...]
    orders: tuple[Order, ...]
