"""The Order API over HTTP, for trusted services only.

The caller is a service (the orchestrator), authenticated by ``Authorization: Bearer
<service_token>``; the customer is named in the path by that caller, who has logged the
customer in. A customer never sees another customer's order: it answers 404 with the
same body as an order that does not exist. Its one write cancels an order that has not
shipped (409 once it has). Errors are ``{"error": {"message", "type", "code"}}``. Every
route has an ``operationId``, so ``/openapi.json`` imports as tools (``switchboard.tools``).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from switchboard.errors import (
    AuthenticationError,
    CustomerNotFoundError,
    OrderNotFoundError,
    RequestError,
)
from switchboard.orders.db import OrderDB
from switchboard.orders.types import Order

log = logging.getLogger(__name__)


def create_order_app(db: OrderDB, service_token: str) -> FastAPI:
    if not service_token:
        raise ValueError("the Order API needs a non-empty service token")
    app = FastAPI(title="Switchboard demo shop: Order API")
    app.include_router(_customer_routes(db, service_token))

    @app.get(
        "/customers",
        operation_id="list_customers",
        dependencies=[Depends(_authenticator(service_token))],
    )
    def list_customers() -> dict[str, Any]:
        """The demo directory: who can be picked in the chat widget, and their orders."""
        return {"customers": customer_directory(db)}

    @app.get("/health", operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    _install_error_handlers(app)
    return app


def _authenticator(service_token: str) -> Callable[[str | None], None]:
    def authenticate(authorization: Annotated[str | None, Header()] = None) -> None:
        check_bearer(authorization, service_token)

    return authenticate


def _customer_routes(db: OrderDB, service_token: str) -> APIRouter:
    router = APIRouter(
        prefix="/customers/{customer_id}", dependencies=[Depends(_authenticator(service_token))]
    )

    @router.get("/orders", operation_id="list_orders", summary="The customer's orders")
    def list_orders(customer_id: str) -> dict[str, Any]:
        """The customer's orders, newest first, each with its status and shipment."""
        _require_customer(db, customer_id)
        orders = db.orders_for(customer_id)
        return {"customer_id": customer_id, "orders": [order_summary(o) for o in orders]}

    @router.get("/orders/{order_id}", operation_id="get_order", summary="One order")
    def get_order(customer_id: str, order_id: str) -> dict[str, Any]:
        """Status, items, shipment and tracking events of one of the customer's orders."""
        _require_customer(db, customer_id)
        order = db.order(customer_id, order_id)
        if order is None:  # missing, or another customer's: the same answer
            raise OrderNotFoundError(order_id)
        return order_detail(order)

    @router.post(
        "/orders/{order_id}/cancel",
        operation_id="cancel_order",
        summary="Cancel an order",
        responses={
            404: {"description": "No such order of this customer"},
            409: {"description": "The order has shipped: too late to cancel it"},
        },
    )
    def cancel_order(customer_id: str, order_id: str) -> dict[str, Any]:
        """Cancel one of the customer's orders that has not shipped yet (409 once it has)."""
        _require_customer(db, customer_id)
        order = db.cancel(customer_id, order_id)
        if order is None:
            raise OrderNotFoundError(order_id)
        return order_detail(order)

    return router


def check_bearer(authorization: str | None, service_token: str) -> None:
    """Raise ``AuthenticationError`` unless the header is ``Bearer <service_token>``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("missing bearer token: send 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(token.strip().encode(), service_token.encode()):
        raise AuthenticationError("invalid service token")


def _require_customer(db: OrderDB, customer_id: str) -> None:
    if db.customer(customer_id) is None:
        raise CustomerNotFoundError(customer_id)


def customer_directory(db: OrderDB) -> list[dict[str, Any]]:
    """``[{"customer_id", "name", "orders": [{"order_id", "status"}]}]``, orders newest first."""
    return [
        {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "orders": [
                {"order_id": o.order_id, "status": o.status.value}
                for o in db.orders_for(customer.customer_id)
            ],
        }
        for customer in db.customers()
    ]


def order_summary(order: Order) -> dict[str, Any]:
    shipment = order.shipment
    return jsonable_encoder(
        {
            "order_id": order.order_id,
            "placed_at": order.placed_at,
            "status": order.status,
            "total_eur": order.total_eur,
            "item_count": sum(item.qty for item in order.items),
            "carrier": shipment and shipment.carrier,
            "tracking_number": shipment and shipment.tracking_number,
            "estimated_delivery": shipment and shipment.estimated_delivery,
        }
    )


def order_detail(order: Order) -> dict[str, Any]:
    """The whole order: items, shipment and its tracking events, and the total."""
    body: dict[str, Any] = jsonable_encoder(asdict(order))
    body["total_eur"] = order.total_eur
    return body


def _error(status_code: int, message: str, error_type: str, code: str | None) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "code": code}}
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _handle_request_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestError):
        raise exc
    return _error(exc.status_code, exc.message, exc.error_type, exc.code)


async def _handle_http_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        raise exc
    code = "not_found" if exc.status_code == 404 else None
    return _error(exc.status_code, str(exc.detail), "invalid_request_error", code)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal server error", "server_error", "internal_error")


def _install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestError, _handle_request_error)
    app.add_exception_handler(HTTPException, _handle_http_error)
    app.add_exception_handler(Exception, _handle_unexpected)
