"""The tenants' customer-token secrets, kept in the gateway database: mint, verify, rotate.

Each tenant has one current secret (256 random bits), made on its first use, that signs
new tokens (``customer_tokens``). ``rotate`` makes a new current secret; the ones before
it stay valid *for verification only* for a grace period: by default the longest token
lifetime (``max_ttl_s``), so every token minted before the rotation lives out its own
expiry and no signed-in customer is cut off; a grace of 0 retires them at once (a secret
that leaked). Secrets are stored as they are, since verifying an HMAC needs the key:
whoever reads the gateway database could mint tokens, as whoever writes it could create
API keys. A verification is one SQLite point read, so a rotation on one replica holds on
every replica sharing the database at once.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from switchboard.gateway.customer_tokens import CustomerClaims, sign, verify
from switchboard.gateway.keys import open_gateway_db
from switchboard.names import check_name
from switchboard.sqlite_file import SQLiteFile
from switchboard.sqlite_tx import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS customer_token_secrets (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL,
    valid_until REAL,
    PRIMARY KEY (tenant, id)
)
"""
# valid_until: NULL for the tenant's current secret; a retired one verifies until then.


@dataclass(frozen=True)
class MintedToken:
    token: str
    customer_id: str
    tenant: str
    expires_at: int  # unix seconds


class CustomerSecrets:
    """Mints and verifies customer tokens with per-tenant secrets; thread-safe."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        default_ttl_s: int = 3600,
        max_ttl_s: int = 86_400,
        file: SQLiteFile | None = None,
    ) -> None:
        if not 1 <= default_ttl_s <= max_ttl_s:
            raise ValueError("customer tokens need 1 <= default_ttl_s <= max_ttl_s")
        self.file = file
        self.default_ttl_s = default_ttl_s
        self.max_ttl_s = max_ttl_s
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, path: Path, *, default_ttl_s: int = 3600, max_ttl_s: int = 86_400
    ) -> CustomerSecrets:
        """Open (creating the table if needed) the gateway database at ``path``; the key
        store, opened on the same file, checks its integrity."""
        conn, file = open_gateway_db(path, SCHEMA, check=False)
        return cls(conn, default_ttl_s=default_ttl_s, max_ttl_s=max_ttl_s, file=file)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def mint(
        self, tenant: str, customer_id: str, ttl_s: int | None = None, now: float | None = None
    ) -> MintedToken:
        """A token for ``customer_id`` of ``tenant``, valid ``ttl_s`` (default
        ``default_ttl_s``); ``ValueError`` for a bad tenant, customer id or ttl."""
        now = time.time() if now is None else now
        ttl_s = self.default_ttl_s if ttl_s is None else ttl_s
        if not 1 <= ttl_s <= self.max_ttl_s:
            raise ValueError(f"ttl must be between 1 and {self.max_ttl_s} seconds, got {ttl_s}")
        check_name("tenant", tenant)
        with self._lock, transaction(self._conn) as conn:
            secret_id, secret = self._current(conn, tenant, now)
        claims = CustomerClaims(customer_id, tenant, int(now + ttl_s), secret_id)
        return MintedToken(sign(claims, secret), customer_id, tenant, claims.expires_at)

    def verify(self, token: str, tenant: str, now: float | None = None) -> CustomerClaims:
        """The claims of a valid token of ``tenant``, else ``CustomerTokenError``."""
        now = time.time() if now is None else now
        return verify(token, tenant, lambda t, k: self._usable(t, k, now), now)

    def rotate(self, tenant: str, grace_s: float | None = None, now: float | None = None) -> str:
        """A new current secret for ``tenant`` (its id); the earlier ones verify for
        ``grace_s`` more (default ``max_ttl_s``: every token minted with them lives out)."""
        now = time.time() if now is None else now
        grace_s = self.max_ttl_s if grace_s is None else grace_s
        if not grace_s >= 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace_s}")
        check_name("tenant", tenant)
        until = now + grace_s
        with self._lock, transaction(self._conn) as conn:
            conn.execute(
                "UPDATE customer_token_secrets SET valid_until = ? "
                "WHERE tenant = ? AND (valid_until IS NULL OR valid_until > ?)",
                (until, tenant, until),
            )
            secret_id, _ = self._current(conn, tenant, now)
        return secret_id

    def _current(self, conn: sqlite3.Connection, tenant: str, now: float) -> tuple[str, bytes]:
        """The tenant's current secret, made now if it has none (inside a transaction)."""
        row = conn.execute(
            "SELECT id, secret FROM customer_token_secrets "
            "WHERE tenant = ? AND valid_until IS NULL",
            (tenant,),
        ).fetchone()
        if row is not None:
            return str(row[0]), bytes.fromhex(row[1])
        secret_id, secret = secrets.token_hex(4), secrets.token_bytes(32)
        conn.execute(
            "INSERT INTO customer_token_secrets VALUES (?, ?, ?, ?, NULL)",
            (tenant, secret_id, secret.hex(), now),
        )
        return secret_id, secret

    def _usable(self, tenant: str, secret_id: str, now: float) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT secret, valid_until FROM customer_token_secrets "
                "WHERE tenant = ? AND id = ?",
                (tenant, secret_id),
            ).fetchone()
        if row is None or (row[1] is not None and now >= row[1]):
            return None
        return bytes.fromhex(row[0])
