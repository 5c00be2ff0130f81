"""The Order API's SQLite database: schema, idempotent seeding, per-customer queries, and
its one write: cancelling an order that has not shipped.

A connection is opened per call, so one ``OrderDB`` serves FastAPI's worker threads. The
file is opened through ``SQLiteFile``: ``quick_check`` at open, errors that name it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from switchboard.errors import OrderNotCancellableError
from switchboard.orders.types import (
    Customer,
    Dataset,
    Event,
    Item,
    Order,
    OrderStatus,
    Shipment,
)
from switchboard.sqlite_file import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    placed_at TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders(customer_id, placed_at);
CREATE TABLE IF NOT EXISTS items (
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    line INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    qty INTEGER NOT NULL,
    unit_price_eur REAL NOT NULL,
    PRIMARY KEY (order_id, line)
);
CREATE TABLE IF NOT EXISTS shipments (
    order_id TEXT PRIMARY KEY REFERENCES orders(order_id),
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL UNIQUE,
    shipped_at TEXT NOT NULL,
    estimated_delivery TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    order_id TEXT NOT NULL REFERENCES shipments(order_id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    location TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
);
"""

CANCELLABLE = (OrderStatus.PROCESSING,)  # not packed or dispatched yet
TABLES = ("events", "shipments", "items", "orders", "customers")  # children first
RECOVERY = "move it away and restart the Order API: the demo orders are seeded again"


class OrderDB:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = SQLiteFile(path, "orders", RECOVERY)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.file.opening(), self._connect() as conn:
            conn.executescript(SCHEMA)
            self.file.quick_check(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = self.file.connect(timeout_s=5.0, isolation_level="DEFERRED")
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:  # one transaction: commit on success, roll back on error
                yield conn
        finally:
            conn.close()

    def is_empty(self) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM customers LIMIT 1").fetchone() is None

    def seed(self, dataset: Dataset) -> None:
        """Replace the contents with ``dataset`` in one transaction (so: idempotent)."""
        with self._connect() as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
                [(c.customer_id, c.name, c.email, c.city, c.country) for c in dataset.customers],
            )
            for order in dataset.orders:
                _insert_order(conn, order)

    def customers(self) -> list[Customer]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT customer_id, name, email, city, country FROM customers ORDER BY customer_id"
            ).fetchall()
        return [Customer(*row) for row in rows]

    def customer(self, customer_id: str) -> Customer | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT customer_id, name, email, city, country FROM customers "
                "WHERE customer_id = ?",
                (customer_id,),
            ).fetchone()
        return None if row is None else Customer(*row)

    def orders_for(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first (empty for an unknown customer)."""
        with self._connect() as conn:
            ids = conn.execute(
                "SELECT order_id FROM orders WHERE customer_id = ? ORDER BY placed_at DESC",
                (customer_id,),
            ).fetchall()
            return [_load_order(conn, order_id) for (order_id,) in ids]

    def order(self, customer_id: str, order_id: str) -> Order | None:
        """The order, or None if it does not exist or belongs to another customer."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM orders WHERE order_id = ? AND customer_id = ?",
                (order_id, customer_id),
            ).fetchone()
            return None if row is None else _load_order(conn, order_id)

    def cancel(self, customer_id: str, order_id: str) -> Order | None:
        """Cancel the order if it has not shipped, in one transaction, and return it; an
        order cancelled already is returned as it is. None if it does not exist or belongs
        to another customer; ``OrderNotCancellableError`` once it has shipped."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT status FROM orders WHERE order_id = ? AND customer_id = ?",
                (order_id, customer_id),
            ).fetchone()
            if row is None:
                return None
            status = OrderStatus(row[0])
            if status in CANCELLABLE:
                conn.execute(
                    "UPDATE orders SET status = ? WHERE order_id = ?",
                    (OrderStatus.CANCELLED.value, order_id),
                )
            elif status is not OrderStatus.CANCELLED:
                raise OrderNotCancellableError(order_id, status.value)
            return _load_order(conn, order_id)


def _insert_order(conn: sqlite3.Connection, order: Order) -> None:
    conn.execute(
        "INSERT INTO orders VALUES (?, ?, ?, ?)",
        (order.order_id, order.customer_id, order.placed_at.isoformat(), order.status.value),
    )
    conn.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
        [
            (order.order_id, line, i.sku, i.name, i.qty, i.unit_price_eur)
            for line, i in enumerate(order.items)
        ],
    )
    shipment = order.shipment
    if shipment is None:
        return
    conn.execute(
        "INSERT INTO shipments VALUES (?, ?, ?, ?, ?)",
        (
            order.order_id,
            shipment.carrier,
            shipment.tracking_number,
            shipment.shipped_at.isoformat(),
            shipment.estimated_delivery.isoformat(),
        ),
    )
    conn.executemany(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
        [
            (order.order_id, seq, e.at.isoformat(), e.location, e.description)
            for seq, e in enumerate(shipment.events)
        ],
    )


def _load_order(conn: sqlite3.Connection, order_id: str) -> Order:
    customer_id, placed_at, status = conn.execute(
        "SELECT customer_id, placed_at, status FROM orders WHERE order_id = ?", (order_id,)
    ).fetchone()
    items = conn.execute(
        "SELECT sku, name, qty, unit_price_eur FROM items WHERE order_id = ? ORDER BY line",
        (order_id,),
    ).fetchall()
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        placed_at=datetime.fromisoformat(placed_at),
        status=OrderStatus(status),
        items=tuple(Item(*row) for row in items),
        shipment=_load_shipment(conn, order_id),
    )


def _load_shipment(conn: sqlite3.Connection, order_id: str) -> Shipment | None:
    row = conn.execute(
        "SELECT carrier, tracking_number, shipped_at, estimated_delivery FROM shipments "
        "WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    if row is None:
        return None
    events = conn.execute(
        "SELECT at, location, description FROM events WHERE order_id = ? ORDER BY seq",
        (order_id,),
    ).fetchall()
    carrier, tracking_number, shipped_at, estimated_delivery = row
    return Shipment(
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=datetime.fromisoformat(shipped_at),
        estimated_delivery=date.fromisoformat(estimated_delivery),
        events=tuple(Event(datetime.fromisoformat(at), loc, text) for at, loc, text in events),
    )
