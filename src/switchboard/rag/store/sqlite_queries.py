"""The SQLite store's search SQL: BM25 over a collection's FTS5 table, and metadata filters.

Filters become ``AND (...)`` conditions on ``d.metadata`` (the ``documents`` row joined as
``d``) with bound parameters, shared by keyword search and filtered vector search. Matching
is typed, as JSON: ``true`` never equals ``1`` and ``"1"`` never equals ``1``.
"""

from __future__ import annotations

from typing import Any

from switchboard.rag.store.inputs import FilterClause
from switchboard.rag.types import MetadataValue


def bm25_sql(fts: str) -> str:
    """Top ``k`` by BM25 then row id, picked by FTS5 alone before the join to ``chunks``."""
    return f"""SELECT c.doc_id, c.idx, top.score
               FROM (SELECT rowid AS id, bm25({fts}) AS score FROM {fts}
                     WHERE {fts} MATCH ? ORDER BY score, rowid LIMIT ?) AS top
               CROSS JOIN chunks c ON c.id = top.id
               ORDER BY top.score, top.id"""


def filtered_bm25_sql(fts: str, where: str) -> str:
    """Top ``k`` by BM25 then row id among the matches that pass the filter conditions."""
    return f"""SELECT c.doc_id, c.idx, bm25({fts}) AS score
               FROM {fts}
               JOIN chunks c ON c.id = {fts}.rowid
               JOIN documents d ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id
               WHERE {fts} MATCH ? {where}
               ORDER BY score, c.id LIMIT ?"""


def filter_sql(clauses: list[FilterClause]) -> tuple[str, list[Any]]:
    """``AND (...)`` conditions on ``d.metadata`` and their parameters; keys are checked."""
    sql, params = "", []
    for clause in clauses:
        path = f"$.{clause.key}"
        options = []
        for value in clause.values:
            option, option_params = _json_equals(path, value)
            options.append(option)
            params += option_params
        sql += " AND (" + " OR ".join(options) + ")"
    return sql, params


def _json_equals(path: str, value: MetadataValue) -> tuple[str, list[Any]]:
    """A typed equality test: ``true`` never equals ``1`` and ``"1"`` never equals ``1``."""
    if isinstance(value, bool):
        return "json_type(d.metadata, ?) = ?", [path, "true" if value else "false"]
    types = "'text'" if isinstance(value, str) else "'integer', 'real'"
    sql = f"(json_type(d.metadata, ?) IN ({types}) AND json_extract(d.metadata, ?) = ?)"
    return sql, [path, path, value]
