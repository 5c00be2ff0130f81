"""The Order API over a temporary SQLite database, and the invariants of its dataset."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from switchboard.orders import (
    ORDER_ID_PATTERN,
    REFERENCE_TIME,
    OrderDB,
    OrderStatus,
    generate_dataset,
)
from switchboard.orders.service import create_order_app

pytestmark = pytest.mark.unit

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DATASET = generate_dataset()


@pytest.fixture
def db(tmp_path: Path) -> OrderDB:
    db = OrderDB(tmp_path / "orders.sqlite3")
    db.seed(DATASET)
    return db


@pytest.fixture
def client(db: OrderDB) -> TestClient:
    return TestClient(create_order_app(db, TOKEN))


def shipped_order_of(customer_id: str | None = None) -> tuple[str, str]:
    order = next(
        o for o in DATASET.orders if o.shipment is not None and customer_id in (None, o.customer_id)
    )
    return order.customer_id, order.order_id


def test_lists_a_customers_orders(client: TestClient) -> None:
    customer_id = DATASET.customers[0].customer_id
    response = client.get(f"/customers/{customer_id}/orders", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    expected = {o.order_id for o in DATASET.orders if o.customer_id == customer_id}
    assert body["customer_id"] == customer_id
    assert {o["order_id"] for o in body["orders"]} == expected
    assert set(body["orders"][0]) >= {"order_id", "status", "placed_at", "total_eur"}


def test_one_order_has_items_shipment_and_events(client: TestClient) -> None:
    customer_id, order_id = shipped_order_of()
    response = client.get(f"/customers/{customer_id}/orders/{order_id}", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    order = next(o for o in DATASET.orders if o.order_id == order_id)
    assert order.shipment is not None
    assert body["status"] == order.status.value
    assert body["total_eur"] == order.total_eur
    assert body["items"][0]["sku"] == order.items[0].sku
    assert body["shipment"]["tracking_number"] == order.shipment.tracking_number
    events = body["shipment"]["events"]
    assert [e["description"] for e in events] == [e.description for e in order.shipment.events]
    assert set(events[0]) == {"at", "location", "description"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_callers_without_the_service_token_get_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    customer_id, order_id = shipped_order_of()
    for path in (f"/customers/{customer_id}/orders", f"/customers/{customer_id}/orders/{order_id}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["www-authenticate"] == "Bearer"


def test_another_customers_order_is_404_like_a_missing_one(client: TestClient) -> None:
    owner, order_id = shipped_order_of()
    other = next(c.customer_id for c in DATASET.customers if c.customer_id != owner)
    probe = client.get(f"/customers/{other}/orders/{order_id}", headers=AUTH)
    missing = client.get(f"/customers/{other}/orders/LK-999999", headers=AUTH)
    assert probe.status_code == missing.status_code == 404
    assert probe.json()["error"]["code"] == "order_not_found"
    assert probe.json()["error"]["message"].replace(order_id, "X") == missing.json()["error"][
        "message"
    ].replace("LK-999999", "X")
    assert set(probe.json()["error"]) == {"message", "type", "code"}


def test_unknown_customer_is_404(client: TestClient) -> None:
    response = client.get("/customers/C9999/orders", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "customer_not_found"


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_seed_is_idempotent_and_round_trips(db: OrderDB) -> None:
    db.seed(DATASET)
    assert db.customers() == list(DATASET.customers)
    stored = [o for c in DATASET.customers for o in db.orders_for(c.customer_id)]
    assert sorted(stored, key=lambda o: o.order_id) == sorted(
        DATASET.orders, key=lambda o: o.order_id
    )


def test_order_of_another_customer_is_none(db: OrderDB) -> None:
    owner, order_id = shipped_order_of()
    other = next(c.customer_id for c in DATASET.customers if c.customer_id != owner)
    assert db.order(owner, order_id) is not None
    assert db.order(other, order_id) is None
    assert db.order(owner, "LK-000000") is None


def test_dataset_is_deterministic() -> None:
    assert generate_dataset() == generate_dataset()


def test_dataset_covers_every_status_and_customer() -> None:
    counts = Counter(o.status for o in DATASET.orders)
    assert all(counts[status] >= 2 for status in OrderStatus)
    assert {o.customer_id for o in DATASET.orders} == {c.customer_id for c in DATASET.customers}
    assert {c.country for c in DATASET.customers} == {"DE", "FR", "NL", "AT", "UK", "CH", "US"}


def test_dataset_ids_and_dates_are_well_formed() -> None:
    order_ids = [o.order_id for o in DATASET.orders]
    assert len(set(order_ids)) == len(order_ids)
    assert all(ORDER_ID_PATTERN.fullmatch(order_id) for order_id in order_ids)
    assert ORDER_ID_PATTERN.findall(f"where is {order_ids[0]}?") == [order_ids[0]]
    for order in DATASET.orders:
        assert order.placed_at <= REFERENCE_TIME
        assert (order.shipment is None) == (
            order.status in (OrderStatus.PROCESSING, OrderStatus.CANCELLED)
        )
        if order.shipment is not None:
            times = [e.at for e in order.shipment.events]
            assert times == sorted(times)
            assert order.placed_at < order.shipment.shipped_at <= times[0]
            assert times[-1] <= REFERENCE_TIME


def order_with(status: OrderStatus) -> tuple[str, str]:
    order = next(o for o in DATASET.orders if o.status is status)
    return order.customer_id, order.order_id


def test_cancelling_an_unshipped_order_persists_and_repeats_harmlessly(
    client: TestClient, db: OrderDB
) -> None:
    customer_id, order_id = order_with(OrderStatus.PROCESSING)
    path = f"/customers/{customer_id}/orders/{order_id}/cancel"
    first = client.post(path, headers=AUTH)
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert first.json()["order_id"] == order_id
    stored = db.order(customer_id, order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    again = client.post(path, headers=AUTH)
    assert again.status_code == 200
    assert again.json() == first.json()


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED])
def test_a_shipped_order_cannot_be_cancelled(
    client: TestClient, db: OrderDB, status: OrderStatus
) -> None:
    customer_id, order_id = order_with(status)
    response = client.post(f"/customers/{customer_id}/orders/{order_id}/cancel", headers=AUTH)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "order_not_cancellable"
    assert error["type"] == "invalid_request_error"
    assert order_id in error["message"]
    stored = db.order(customer_id, order_id)
    assert stored is not None
    assert stored.status is status


def test_another_customers_order_cannot_be_cancelled(client: TestClient, db: OrderDB) -> None:
    owner, order_id = order_with(OrderStatus.PROCESSING)
    other = next(c.customer_id for c in DATASET.customers if c.customer_id != owner)
    response = client.post(f"/customers/{other}/orders/{order_id}/cancel", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"
    stored = db.order(owner, order_id)
    assert stored is not None
    assert stored.status is OrderStatus.PROCESSING
    unauthenticated = client.post(f"/customers/{owner}/orders/{order_id}/cancel")
    assert unauthenticated.status_code == 401


def test_every_route_has_an_operation_id(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert sorted(ids) == ["cancel_order", "get_order", "health", "list_customers", "list_orders"]


def test_the_cancel_route_documents_its_refusals(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    cancel = document["paths"]["/customers/{customer_id}/orders/{order_id}/cancel"]["post"]
    assert {"200", "404", "409"} <= set(cancel["responses"])
