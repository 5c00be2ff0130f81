"""Commands of the gateway's API keys: keys create, keys list, keys revoke, keys budget."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from switchboard.cli.common import app, command_group, console, load_settings, one_line_errors
from switchboard.gateway.keys import ApiKey, KeyStore
from switchboard.gateway.types import Scope

keys_app = command_group("The gateway's API keys and tenant budgets.")
app.add_typer(keys_app, name="keys")

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``15m``, ``3600s`` or ``2w``, else ``ValueError``."""
    value, unit = text[:-1], text[-1:].lower()
    if unit not in DURATION_UNITS or not value.isdigit() or int(value) == 0:
        units = ", ".join(DURATION_UNITS)
        raise ValueError(f"invalid duration {text!r}: expected a positive number and {units}")
    return float(int(value) * DURATION_UNITS[unit])


def parse_scopes(text: str) -> frozenset[Scope]:
    """``chat,search`` as scopes, else ``ValueError`` naming the valid ones."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    valid = {scope.value for scope in Scope}
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise ValueError(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}: "
            f"choose from {', '.join(sorted(valid))}"
        )
    return frozenset(Scope(name) for name in names)


def key_fields(key: ApiKey, now: float) -> dict[str, Any]:
    """A key as JSON, never its secret."""
    return {
        "id": key.id,
        "display": key.display,
        "tenant": key.tenant,
        "name": key.name,
        "scopes": sorted(key.scopes),
        "rpm": key.rpm,
        "tpm": key.tpm,
        "budget_usd": key.budget_usd,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "active": key.active(now),
    }


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _status(key: ApiKey, now: float) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "active" if key.active(now) else "expired"


@contextmanager
def _store() -> Iterator[KeyStore]:
    store = KeyStore.open(load_settings().gateway_db, cache_ttl_s=0)
    try:
        yield store
    finally:
        store.close()


@keys_app.command("create")
@one_line_errors
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant the key acts for.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: chat,embeddings,search,...")],
    name: Annotated[str, typer.Option(help="A label for people.")] = "",
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="USD per budget period.")] = None,
    expires_in: Annotated[str | None, typer.Option(help="e.g. 30d, 12h, 3600s.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue a key and print its token (shown this once only)."""
    scope_set = parse_scopes(scopes)
    now = time.time()
    expires_at = None if expires_in is None else now + parse_duration(expires_in)
    with _store() as store:
        created = store.create(
            tenant=tenant,
            name=name,
            scopes=scope_set,
            rpm=rpm,
            tpm=tpm,
            budget_usd=budget_usd,
            expires_at=expires_at,
            now=now,
        )
    if as_json:
        typer.echo(json.dumps({**key_fields(created.key, now), "token": created.token}, indent=2))
        return
    typer.echo(created.token)
    typer.echo(
        f"key {created.key.id} for tenant {tenant}: store this token now, "
        "it will not be shown again.",
        err=True,
    )


@keys_app.command("list")
@one_line_errors
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List keys (never their secrets)."""
    with _store() as store:
        keys = store.list(tenant, include_revoked=show_all)
    now = time.time()
    if as_json:
        typer.echo(json.dumps([key_fields(key, now) for key in keys], indent=2))
        return
    headers = ("tenant", "name", "scopes", "rpm", "tpm", "budget $", "expires", "status")
    table = Table(Column("id", no_wrap=True), *headers)
    for key in keys:
        table.add_row(
            key.id,
            key.tenant,
            key.name,
            ",".join(sorted(key.scopes)),
            _or_dash(key.rpm),
            _or_dash(key.tpm),
            _or_dash(key.budget_usd),
            _when(key.expires_at),
            _status(key, now),
        )
    console.print(table)


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@keys_app.command("revoke")
@one_line_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The 12-hex key id.")]) -> None:
    """Revoke a key (running servers drop it within their cache TTL, 5 s)."""
    with _store() as store:
        key = store.revoke(key_id)
    typer.echo(f"revoked {key.display} of tenant {key.tenant}")


@keys_app.command("budget")
@one_line_errors
def keys_budget(
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    usd: Annotated[float | None, typer.Option(help="USD per budget period.")] = None,
    none: Annotated[bool, typer.Option("--none", help="Remove the budget.")] = False,
) -> None:
    """Show a tenant's budget, or set it with --usd, or remove it with --none."""
    if usd is not None and none:
        raise ValueError("give --usd or --none, not both")
    with _store() as store:
        if usd is not None or none:
            store.set_tenant_budget(tenant, usd)
        budget = store.tenant_budget(tenant)
    typer.echo(f"tenant {tenant}: " + ("no budget" if budget is None else f"${budget:g}"))
