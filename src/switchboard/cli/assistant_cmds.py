"""``switchboard assistant token`` and ``rotate-secret``: customer tokens for the assistant.

A shop's backend runs ``token`` (or calls ``POST /v1/admin/customer-tokens``) for a
logged-in customer and hands the token to the page with the chat widget; the token is the
command's last line on stdout, so ``$(switchboard assistant token C1002 | tail -n1)`` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer

from switchboard.cli.common import app, command_group, load_settings, one_line_errors
from switchboard.cli.keys_cmds import parse_duration
from switchboard.config import Settings
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.keys import KeyStore

assistant_app = command_group("The support assistant's verified customers.")
app.add_typer(assistant_app, name="assistant")


def parse_seconds(text: str) -> int:
    """Whole seconds of ``3600`` or ``30m``/``12h``/``1d``, else ``ValueError``."""
    if text.isdigit() and int(text) > 0:
        return int(text)
    try:
        return int(parse_duration(text))
    except ValueError:
        raise ValueError(f"invalid ttl {text!r}: expected seconds (3600) or 30m, 12h, 1d") from None


def check_tenant(settings: Settings, keys: KeyStore, tenant: str) -> None:
    """``ValueError`` unless ``tenant`` is the default one or has a key or a budget."""
    if tenant == settings.knowledge.default_tenant:
        return
    if keys.list(tenant, include_revoked=True) or keys.tenant_budget(tenant) is not None:
        return
    raise ValueError(f"unknown tenant {tenant!r}: no API key was ever issued for it")


@contextmanager
def _stores(settings: Settings) -> Iterator[tuple[KeyStore, CustomerSecrets]]:
    tokens = settings.gateway.customer_tokens
    keys = KeyStore.open(settings.gateway_db, cache_ttl_s=0)
    try:
        secrets = CustomerSecrets.open(
            settings.gateway_db, default_ttl_s=tokens.default_ttl_s, max_ttl_s=tokens.max_ttl_s
        )
        try:
            yield keys, secrets
        finally:
            secrets.close()
    finally:
        keys.close()


@assistant_app.command("token")
@one_line_errors
def token(
    customer_id: Annotated[str, typer.Argument(help="The customer the assistant may act for.")],
    tenant: Annotated[str | None, typer.Option(help="Default: knowledge.default_tenant.")] = None,
    ttl: Annotated[
        str | None,
        typer.Option(
            help="Lifetime in seconds (or 30m, 12h); default customer_tokens.default_ttl_s."
        ),
    ] = None,
) -> None:
    """Mint a customer token; the chat sends it as the x-customer-token header."""
    settings = load_settings()
    tenant = tenant or settings.knowledge.default_tenant
    ttl_s = None if ttl is None else parse_seconds(ttl)
    with _stores(settings) as (keys, secrets):
        check_tenant(settings, keys, tenant)
        minted = secrets.mint(tenant, customer_id, ttl_s)
    expires = datetime.fromtimestamp(minted.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    typer.echo(f"customer {customer_id} of tenant {tenant}, valid until {expires}", err=True)
    typer.echo(minted.token)


@assistant_app.command("rotate-secret")
@one_line_errors
def rotate_secret(
    tenant: Annotated[str | None, typer.Option(help="Default: knowledge.default_tenant.")] = None,
    grace: Annotated[
        str | None,
        typer.Option(
            help="How long tokens signed with the old secret still verify (seconds or 1h; "
            "0: at once, for a leaked secret). Default: customer_tokens.max_ttl_s."
        ),
    ] = None,
) -> None:
    """Sign new customer tokens with a new secret."""
    settings = load_settings()
    tenant = tenant or settings.knowledge.default_tenant
    grace_s = None if grace is None else (0 if grace == "0" else parse_seconds(grace))
    with _stores(settings) as (keys, secrets):
        check_tenant(settings, keys, tenant)
        secret_id = secrets.rotate(tenant, grace_s)
    typer.echo(f"tenant {tenant}: new customer-token secret {secret_id}")
