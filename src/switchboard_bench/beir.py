"""Load a retrieval test set laid out the way BEIR publishes them.

A BEIR folder holds::

    corpus.jsonl      {"_id": ..., "title": ..., "text": ..., "metadata": {...}}   one a line
    queries.jsonl     {"_id": ..., "text": ...}                                     one a line
    qrels/<split>.tsv query-id <TAB> corpus-id <TAB> score

The qrels file may start with the header row ``query-id<TAB>corpus-id<TAB>score`` or not: a
first line of three or four columns that are all words (letters, ``-``, ``_``) is the header.
TREC-style lines ``qid 0 docid rel`` (whitespace-separated, four columns) are accepted too.
Blank lines are skipped everywhere; ``metadata`` and any other corpus field is ignored.

Only queries that have qrels are kept, as BEIR's own loader does. Every problem (a missing
file, bad JSON, a missing field, a duplicate id, a malformed qrels line, a qrels query absent
from ``queries.jsonl``) raises a one-line ``ValueError`` naming the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

_HEADER_WORD = re.compile(r"^[A-Za-z][A-Za-z_-]*$")


class BeirDoc(NamedTuple):
    title: str
    text: str


@dataclass(frozen=True)
class BeirDataset:
    """A corpus, the queries that have judgments, and the judgments (qid → docid → relevance)."""

    corpus: dict[str, BeirDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` under ``folder``."""
    root = Path(folder)
    qrels = load_qrels(_qrels_path(root, split))
    if not qrels:
        raise ValueError(f"qrels/{split}.tsv has no judgments")
    queries = load_queries(_require(root / "queries.jsonl"))
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise ValueError(
            f"qrels/{split}.tsv names {len(missing)} queries absent from queries.jsonl "
            f"(first: {missing[0]!r})"
        )
    corpus = load_corpus(_require(root / "corpus.jsonl"))
    return BeirDataset(corpus=corpus, queries={q: queries[q] for q in qrels}, qrels=qrels)


def load_corpus(path: Path) -> dict[str, BeirDoc]:
    corpus: dict[str, BeirDoc] = {}
    for where, row in _json_lines(path):
        doc_id = _id(row, where, corpus)
        corpus[doc_id] = BeirDoc(
            title=_text(row, "title", where, default=""), text=_text(row, "text", where)
        )
    return corpus


def load_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for where, row in _json_lines(path):
        queries[_id(row, where, queries)] = _text(row, "text", where)
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for index, (number, line) in enumerate(_lines(path)):
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if index == 0 and _is_header(fields):
            continue
        query_id, doc_id, relevance = _qrel(fields, f"{path}:{number}")
        judged = qrels.setdefault(query_id, {})
        if doc_id in judged:
            raise ValueError(f"{path}:{number}: duplicate judgment of {query_id!r}/{doc_id!r}")
        judged[doc_id] = relevance
    return qrels


def _is_header(fields: list[str]) -> bool:
    """``query-id  corpus-id  score`` or the like: three or four words, no digits."""
    return len(fields) in (3, 4) and all(_HEADER_WORD.match(f) for f in fields)


def _qrels_path(root: Path, split: str) -> Path:
    path = root / "qrels" / f"{split}.tsv"
    if path.is_file():
        return path
    found = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
    raise ValueError(f"missing file {path} (qrels splits present: {found or 'none'})")


def _require(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"missing file {path}")
    return path


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of ``path`` with their 1-based line numbers."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line.rstrip("\r\n")


def _json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in _lines(path):
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
        yield where, row


def _id(row: dict[str, Any], where: str, seen: dict[str, Any]) -> str:
    value = row.get("_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: missing or non-string '_id'")
    if value in seen:
        raise ValueError(f"{where}: duplicate _id {value!r}")
    return value


def _text(row: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = row.get(key, default)
    if value is None and default is not None:
        value = default
    if not isinstance(value, str):
        raise ValueError(f"{where}: missing or non-string {key!r}")
    return value


def _qrel(fields: list[str], where: str) -> tuple[str, str, int]:
    if len(fields) == 3:
        query_id, doc_id, relevance = fields
    elif len(fields) == 4:
        query_id, _iteration, doc_id, relevance = fields
    else:
        raise ValueError(
            f"{where}: expected 'query-id<TAB>corpus-id<TAB>score' or 'qid 0 docid rel', "
            f"got {len(fields)} columns"
        )
    if not query_id or not doc_id:
        raise ValueError(f"{where}: empty query or corpus id")
    try:
        return query_id, doc_id, int(relevance)
    except ValueError:
        raise ValueError(f"{where}: relevance {relevance!r} is not an integer") from None
