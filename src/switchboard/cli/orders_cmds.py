"""Commands of the demo shop's Order API: orders serve, orders customers."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer
from rich.table import Table

from switchboard.cli.common import app, command_group, console, load_settings, one_line_errors
from switchboard.cli.ports import check_port_free
from switchboard.config import Settings
from switchboard.orders import OrderDB, generate_dataset

orders_app = command_group("The demo shop's Order API.")
app.add_typer(orders_app, name="orders")


def _open(settings: Settings) -> OrderDB:
    """The Order API's database, seeded with the demo dataset if empty."""
    db = OrderDB(settings.orders_db)
    if db.is_empty():
        db.seed(generate_dataset())
    return db


@orders_app.command("serve")
@one_line_errors
def orders_serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (0: a free one, printed).")] = None,
    fd: Annotated[
        int | None,
        typer.Option(help="Serve on this inherited listening socket (how `serve` starts it)."),
    ] = None,
) -> None:
    """Serve the Order API (seeding its database with the demo dataset if empty)."""
    import socket

    import uvicorn

    from switchboard.orders.process import listen, url_of
    from switchboard.orders.service import create_order_app

    settings = load_settings()
    if fd is not None:
        sock = socket.socket(fileno=fd)
    else:  # before the database opens: a taken port is one line, at once
        host = host or settings.orders.host
        port = port if port is not None else settings.orders.port
        check_port_free(host, port, "switchboard orders serve")
        sock = listen(host, port)
        console.print(f"Order API: {url_of(sock)}", highlight=False)
    app_ = create_order_app(_open(settings), settings.orders.service_token)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.Server(uvicorn.Config(app_)).run(sockets=[sock])


@orders_app.command("customers")
@one_line_errors
def orders_customers(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the demo customers and their orders (ids and statuses)."""
    from switchboard.orders.service import customer_directory

    rows = customer_directory(_open(load_settings()))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("customer", "name", "orders")
    for row in rows:
        summary = ", ".join(f"{o['order_id']} ({o['status']})" for o in row["orders"])
        table.add_row(row["customer_id"], row["name"], summary)
    console.print(table)
