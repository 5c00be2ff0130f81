"""The knowledge-base store: one ``Store`` protocol, two backends behind it.

- ``SQLiteStore``: embedded, the default; one file, FTS5 BM25, vector search exact in memory
  below ``ann_min_chunks`` chunks per collection and HNSW (re-scored exactly) from there.
- ``PostgresStore`` (``switchboard.rag.store.postgres``, needs the ``postgres`` extra):
  pgvector HNSW and PostgreSQL full-text search, for several processes or machines.

``open_store`` picks one from a URL or a path::

    open_store("data/kb.sqlite3")               # a plain path: SQLite
    open_store("sqlite:///data/kb.sqlite3")     # SQLite, relative path (SQLAlchemy's form)
    open_store("sqlite:////var/kb.sqlite3")     # SQLite, absolute path
    open_store("postgresql://user@host/db")     # PostgreSQL (also postgres://, +psycopg)
"""

from __future__ import annotations

import re
from pathlib import Path

from switchboard.rag.store.base import Store, Vectors
from switchboard.rag.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "Vectors", "open_store"]

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9.+-]*)://(?P<rest>.*)$", re.DOTALL)


def open_store(url_or_path: str | Path) -> Store:
    """The store a settings value names; ``ValueError`` for a scheme no backend serves."""
    if isinstance(url_or_path, Path):
        return SQLiteStore(url_or_path)
    match = _SCHEME.match(url_or_path)
    if match is None:
        return SQLiteStore(Path(url_or_path))
    scheme, _, driver = match["scheme"].lower().partition("+")
    if scheme == "sqlite" and not driver:
        return SQLiteStore(_sqlite_path(match["rest"]))
    if scheme in ("postgresql", "postgres") and driver in ("", "psycopg"):
        from switchboard.rag.store.postgres import PostgresStore

        return PostgresStore(f"postgresql://{match['rest']}")
    raise ValueError(f"unsupported store URL scheme {match['scheme']!r}: use sqlite or postgresql")


def _sqlite_path(rest: str) -> Path:
    """``sqlite:///rel`` names ``rel``; ``sqlite:////abs`` names ``/abs`` (SQLAlchemy's rule)."""
    path = rest.removeprefix("/")
    if not rest.startswith("/") or not path or path == ":memory:":
        raise ValueError("a SQLite store URL is sqlite:///relative/path or sqlite:////abs/path")
    return Path(path)
