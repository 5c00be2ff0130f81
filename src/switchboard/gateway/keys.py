"""API keys and tenants: issue, list, revoke and authenticate keys, kept in the gateway DB.

A token is ``sb-<id>-<secret>``: the 12-hex ``id`` is the lookup key (safe to show, it
names the key in logs and admin listings); the secret is ``secrets.token_urlsafe(32)``,
256 random bits. Only ``sha256(secret)`` is stored. A slow password hash (bcrypt, argon2)
defends guessable, low-entropy secrets against offline brute force; a 256-bit random
secret cannot be brute-forced whatever the hash, so one fast SHA-256 is enough and keeps
authentication cheap on the request path. Digests are compared with
``hmac.compare_digest``.

Authentication caches verified principals in memory, keyed by ``sha256(token)``, for
``cache_ttl_s`` (5 s by default) so most requests do no SQLite read. ``revoke`` and
``set_tenant_budget`` drop the affected entries of *this* process at once; another
replica sharing the database sees a revocation or a budget change within the TTL.

Tokens and secrets never appear in any message or log line; only the key id does.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.errors import InvalidAPIKeyError, KeyNotFoundError
from switchboard.gateway.types import Principal, Scope
from switchboard.names import check_name
from switchboard.observability.log_store import gateway_file
from switchboard.sqlite_file import SQLiteFile
from switchboard.sqlite_tx import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    rpm INTEGER,
    tpm INTEGER,
    budget_usd REAL,
    secret_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys(tenant, created_at);
CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY,
    budget_usd REAL
);
"""

_KEY_COLUMNS = "id, tenant, name, scopes, rpm, tpm, budget_usd, created_at, expires_at, revoked_at"
#: Every Switchboard key starts with this.
TOKEN_PREFIX = "sb-"
_TOKEN = re.compile(r"sb-([0-9a-f]{12})-([A-Za-z0-9_-]{43})")
_KEY_ID = re.compile(r"[0-9a-f]{12}")
MAX_NAME_CHARS = 200

MALFORMED = "Malformed API key provided: expected 'sb-<id>-<secret>'."
INCORRECT = "Incorrect API key provided."  # unknown id and wrong secret alike: no probing


@dataclass(frozen=True)
class ApiKey:
    """One issued key, without its secret. ``None`` limits mean unlimited."""

    id: str
    tenant: str
    name: str
    scopes: frozenset[Scope]
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    created_at: float  # unix seconds
    expires_at: float | None
    revoked_at: float | None

    @property
    def display(self) -> str:
        """How the key is shown: its id, never its secret."""
        return f"sb-{self.id}-…"

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its token: the only time the token exists outside the caller's hands."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class _Cached:
    principal: Principal
    expires_at: float | None  # the key's own expiry (unix seconds)
    fresh_until: float  # on the store's monotonic clock


def parse_token(token: str) -> tuple[str, str]:
    """``(key_id, secret)`` of a well-formed token, else ``InvalidAPIKeyError``."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidAPIKeyError(MALFORMED)
    return match.group(1), match.group(2)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_key_id(key_id: str) -> str:
    """``key_id`` if it has the shape of one (12 lowercase hex), else ``KeyNotFoundError``."""
    if not _KEY_ID.fullmatch(key_id):
        raise KeyNotFoundError(key_id)
    return key_id


def check_limits(rpm: int | None, tpm: int | None, budget_usd: float | None) -> None:
    """``ValueError`` unless every limit given is positive (a budget may be 0)."""
    for label, limit in (("rpm", rpm), ("tpm", tpm)):
        if limit is not None and limit < 1:
            raise ValueError(f"{label} must be a positive integer, got {limit}")
    check_budget(budget_usd)


def check_budget(budget_usd: float | None) -> None:
    if budget_usd is not None and not budget_usd >= 0:  # also refuses NaN
        raise ValueError(f"budget_usd must be >= 0, got {budget_usd}")


def open_gateway_db(
    path: Path, schema: str, *, check: bool = True
) -> tuple[sqlite3.Connection, SQLiteFile]:
    """A connection to the gateway database at ``path`` (made if needed) in WAL mode, with
    the tables of ``schema``; ``check`` runs ``quick_check`` (once per start is enough)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file = gateway_file(path)
    conn = file.connect(timeout_s=5.0)
    try:
        with file.opening():
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            with transaction(conn):
                for statement in schema.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if check:
                file.quick_check(conn)
    except BaseException:
        conn.close()
        raise
    return conn, file


def principal_for(
    key: ApiKey,
    tenant_budget_usd: float | None,
    default_rpm: int | None = None,
    default_tpm: int | None = None,
) -> Principal:
    """The caller a key stands for; keys without their own rate limits get the defaults."""
    return Principal(
        key_id=key.id,
        tenant=key.tenant,
        scopes=key.scopes,
        rpm=key.rpm if key.rpm is not None else default_rpm,
        tpm=key.tpm if key.tpm is not None else default_tpm,
        budget_usd=key.budget_usd,
        tenant_budget_usd=tenant_budget_usd,
        expires_at=key.expires_at,
    )


def _encode_scopes(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(Scope(s).value for s in scopes))


def _key_from_row(row: Sequence[Any]) -> ApiKey:
    id_, tenant, name, scopes, rpm, tpm, budget, created, expires, revoked = row
    return ApiKey(
        id=id_,
        tenant=tenant,
        name=name,
        scopes=frozenset(Scope(s) for s in scopes.split(",") if s),
        rpm=rpm,
        tpm=tpm,
        budget_usd=_float_or_none(budget),
        created_at=float(created),
        expires_at=_float_or_none(expires),
        revoked_at=_float_or_none(revoked),
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


class KeyStore:
    """Keys and tenant budgets in one SQLite file, safe to share between threads."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        cache_ttl_s: float = 5.0,
        cache_size: int = 10_000,
        default_rpm: int | None = None,
        default_tpm: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        file: SQLiteFile | None = None,
    ) -> None:
        """``file``: where ``conn`` came from, for /health."""
        if cache_ttl_s < 0 or cache_size < 1:
            raise ValueError("cache_ttl_s must be >= 0 and cache_size >= 1")
        check_limits(default_rpm, default_tpm, None)
        self.file = file
        self._conn = conn
        self._lock = threading.Lock()
        self._cache: dict[bytes, _Cached] = {}
        self._cache_ttl_s = cache_ttl_s
        self._cache_size = cache_size
        self._default_rpm = default_rpm
        self._default_tpm = default_tpm
        self._clock = clock

    @property
    def default_limits(self) -> tuple[int | None, int | None]:
        """``(rpm, tpm)`` of keys created without their own."""
        return self._default_rpm, self._default_tpm

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        cache_ttl_s: float = 5.0,
        default_rpm: int | None = None,
        default_tpm: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> KeyStore:
        """Open (creating if needed) the gateway database at ``path``."""
        conn, file = open_gateway_db(path, SCHEMA)
        return cls(
            conn,
            cache_ttl_s=cache_ttl_s,
            default_rpm=default_rpm,
            default_tpm=default_tpm,
            clock=clock,
            file=file,
        )

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
            self._conn.close()

    # -- keys ------------------------------------------------------------------------------

    def create(
        self,
        *,
        tenant: str,
        scopes: Iterable[Scope],
        name: str = "",
        rpm: int | None = None,
        tpm: int | None = None,
        budget_usd: float | None = None,
        expires_at: float | None = None,
        now: float | None = None,
    ) -> CreatedKey:
        """Issue a key; the returned token is never stored and cannot be shown again."""
        now = time.time() if now is None else now
        check_name("tenant", tenant)
        scope_set = frozenset(Scope(s) for s in scopes)
        if not scope_set:
            raise ValueError("a key needs at least one scope")
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"key name longer than {MAX_NAME_CHARS} characters")
        check_limits(rpm, tpm, budget_usd)
        if expires_at is not None and not expires_at > now:
            raise ValueError("expires_at must be in the future")
        key = ApiKey(
            id=secrets.token_hex(6),
            tenant=tenant,
            name=name,
            scopes=scope_set,
            rpm=rpm,
            tpm=tpm,
            budget_usd=budget_usd,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
        )
        secret = secrets.token_urlsafe(32)
        with self._lock, transaction(self._conn) as conn:
            conn.execute(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}, secret_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.tenant,
                    key.name,
                    _encode_scopes(key.scopes),
                    key.rpm,
                    key.tpm,
                    key.budget_usd,
                    key.created_at,
                    key.expires_at,
                    None,
                    hash_secret(secret),
                ),
            )
        return CreatedKey(key=key, token=f"sb-{key.id}-{secret}")

    def list(
        self, tenant: str | None = None, include_revoked: bool = False
    ) -> builtins.list[ApiKey]:
        """Keys oldest first, of one tenant or all; revoked ones only when asked."""
        where, params = [], []
        if tenant is not None:
            where.append("tenant = ?")
            params.append(tenant)
        if not include_revoked:
            where.append("revoked_at IS NULL")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys {clause} ORDER BY created_at, id", params
            ).fetchall()
        return [_key_from_row(row) for row in rows]

    def get(self, key_id: str) -> ApiKey:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (check_key_id(key_id),)
            ).fetchone()
        if row is None:
            raise KeyNotFoundError(key_id)
        return _key_from_row(row)

    def revoke(self, key_id: str, now: float | None = None) -> ApiKey:
        """Revoke a key (a second revoke keeps the first time); this process forgets it now."""
        now = time.time() if now is None else now
        check_key_id(key_id)
        with self._lock:
            with transaction(self._conn) as conn:
                conn.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (now, key_id),
                )
            self._forget(lambda cached: cached.principal.key_id == key_id)
        return self.get(key_id)

    # -- tenants ---------------------------------------------------------------------------

    def set_tenant_budget(self, tenant: str, budget_usd: float | None) -> None:
        """Set (or with ``None`` remove) a tenant's budget per budget period."""
        check_name("tenant", tenant)
        check_budget(budget_usd)
        with self._lock:
            with transaction(self._conn) as conn:
                conn.execute(
                    "INSERT INTO tenants (name, budget_usd) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET budget_usd = excluded.budget_usd",
                    (tenant, budget_usd),
                )
            self._forget(lambda cached: cached.principal.tenant == tenant)

    def tenant_budget(self, tenant: str) -> float | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT budget_usd FROM tenants WHERE name = ?", (tenant,)
            ).fetchone()
        return None if row is None else _float_or_none(row[0])

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, token: str, now: float | None = None) -> Principal:
        """The principal of a valid token, else ``InvalidAPIKeyError`` (never naming it)."""
        now = time.time() if now is None else now
        key_id, secret = parse_token(token)
        cache_key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None and self._clock() < cached.fresh_until:
                if cached.expires_at is not None and now >= cached.expires_at:
                    del self._cache[cache_key]
                    raise InvalidAPIKeyError(_expired(key_id))
                return cached.principal
            principal, expires_at = self._verify(key_id, secret, now)
            self._remember(
                cache_key, _Cached(principal, expires_at, self._clock() + self._cache_ttl_s)
            )
        return principal

    def _verify(self, key_id: str, secret: str, now: float) -> tuple[Principal, float | None]:
        """Check a token against the database (the caller holds the lock)."""
        row = self._conn.execute(
            f"SELECT {', '.join('k.' + c for c in _KEY_COLUMNS.split(', '))}, "
            "k.secret_hash, t.budget_usd "
            "FROM api_keys k LEFT JOIN tenants t ON t.name = k.tenant WHERE k.id = ?",
            (key_id,),
        ).fetchone()
        if row is None or not hmac.compare_digest(str(row[10]), hash_secret(secret)):
            raise InvalidAPIKeyError(INCORRECT)
        key = _key_from_row(row[:10])
        if key.revoked_at is not None:
            raise InvalidAPIKeyError(f"The API key {key.display} has been revoked.")
        if key.expires_at is not None and now >= key.expires_at:
            raise InvalidAPIKeyError(_expired(key_id))
        principal = principal_for(
            key, _float_or_none(row[11]), self._default_rpm, self._default_tpm
        )
        return principal, key.expires_at

    def _remember(self, cache_key: bytes, entry: _Cached) -> None:
        if self._cache_ttl_s <= 0:
            return
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache)))  # the oldest entry
        self._cache[cache_key] = entry

    def _forget(self, matches: Callable[[_Cached], bool]) -> None:
        for cache_key in [k for k, cached in self._cache.items() if matches(cached)]:
            del self._cache[cache_key]


def _expired(key_id: str) -> str:
    return f"The API key sb-{key_id}-… has expired."
