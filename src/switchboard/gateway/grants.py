"""What a key may hand on: an admin key creates keys no wider than itself.

A new key's scopes must be a subset of the creator's own, and each limit the creator has
(requests and tokens per minute, budget, expiry) must bind the new key at least as
tightly: a limited key may not create an unlimited one. The operator (the anonymous
principal, the CLI) is not checked here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from switchboard.gateway.types import Principal, Scope


@dataclass(frozen=True)
class Grant:
    """The key to be created, with its effective limits (``None``: unlimited)."""

    scopes: Collection[Scope]
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    expires_at: float | None


def _looser(own: float | None, given: float | None) -> bool:
    return own is not None and (given is None or given > own)


def wider_than(creator: Principal, grant: Grant) -> list[tuple[str, str]]:
    """``(param, reason)`` for each way ``grant`` is wider than ``creator``; empty if none."""
    wider: list[tuple[str, str]] = []
    extra = sorted(set(grant.scopes) - creator.scopes)
    if extra:
        held = ", ".join(sorted(creator.scopes))
        wider.append(("scopes", f"scopes {', '.join(extra)} beyond its own ({held})"))
    limits: tuple[tuple[str, float | None, float | None], ...] = (
        ("rpm", creator.rpm, grant.rpm),
        ("tpm", creator.tpm, grant.tpm),
        ("budget_usd", creator.budget_usd, grant.budget_usd),
    )
    for param, own, given in limits:
        if own is not None and _looser(own, given):
            shown = "unlimited" if given is None else f"{given:g}"
            wider.append((param, f"{param} {shown} over its own {own:g}"))
    expires = creator.expires_at
    if expires is not None and _looser(expires, grant.expires_at):
        wider.append(("expires_in_s", f"an expiry later than its own ({expires:.0f})"))
    return wider
