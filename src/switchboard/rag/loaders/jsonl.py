"""JSON Lines: one document per line, e.g. a BEIR ``corpus.jsonl``.

A record is an object with an id (``_id`` or ``id``, string or integer), a text (``text``
or ``content``), an optional ``title``, and optional metadata: the ``metadata`` object's
fields, plus any other top-level scalar (or list of scalars) fields; the loader's own
``format`` and ``line`` keys win over a record's. The file is read line by line, so a
corpus may be larger than memory allows for its raw bytes; ``max_bytes`` limits each line.
A bad line is reported with its line number and the other records still load. The file
must be UTF-8 (RFC 8259); a UTF-8 BOM is skipped.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from switchboard.rag.loaders.base import FailureKind, LoadError, LoadFailure, LoadResult
from switchboard.rag.loaders.text import bom_encoding, normalize_text, sha256_hex
from switchboard.rag.types import Document

_ID_KEYS = ("_id", "id")
_TEXT_KEYS = ("text", "content")
_RESERVED = frozenset({*_ID_KEYS, *_TEXT_KEYS, "title", "metadata"})
_SCALARS = (str, int, float, bool)


def load_jsonl(path: Path, *, max_bytes: int) -> LoadResult:
    """Every record of ``path``; raises ``LoadError`` only if the file itself is unusable."""
    documents: list[Document] = []
    errors: list[LoadFailure] = []
    seen: set[str] = set()
    try:
        with path.open("rb") as file:
            for number, line in _lines(file, max_bytes):
                try:
                    if line is None:
                        raise LoadError(FailureKind.TOO_LARGE, f"line over {max_bytes} bytes")
                    document = parse_record(line, source=str(path), number=number)
                except LoadError as exc:
                    errors.append(LoadFailure(str(path), exc.kind, exc.reason, number))
                    continue
                if document is None:
                    continue
                if document.id in seen:
                    reason = f"duplicate id {document.id!r}"
                    errors.append(LoadFailure(str(path), FailureKind.DUPLICATE, reason, number))
                    continue
                seen.add(document.id)
                documents.append(document)
    except OSError as exc:
        raise LoadError(FailureKind.UNREADABLE, f"cannot read: {exc.strerror or exc}") from exc
    if not documents and not errors:
        raise LoadError(FailureKind.EMPTY, "no records")
    return LoadResult(documents, errors)


def _lines(file: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)``; ``None`` for a line over ``max_bytes`` (skipped)."""
    head = file.read(4)
    encoding = bom_encoding(head)
    if encoding not in (None, "utf-8-sig"):
        raise LoadError(FailureKind.UNDECODABLE, f"JSON Lines must be UTF-8, not {encoding}")
    file.seek(len(codecs.BOM_UTF8) if encoding else 0)
    number = 0
    while line := file.readline(max_bytes + 1):
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while (rest := file.readline(max_bytes)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, line


def parse_record(raw: bytes, *, source: str, number: int) -> Document | None:
    """The document on one line (``number`` is 1-based); None for a blank line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            FailureKind.UNDECODABLE, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        ) from None
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LoadError(
            FailureKind.BAD_RECORD, f"invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    if not isinstance(record, dict):
        raise LoadError(FailureKind.BAD_RECORD, "a record must be a JSON object")
    doc_id = _record_id(record)
    text = normalize_text(_clean(_record_text(record)))
    if not text:
        raise LoadError(FailureKind.EMPTY, f"record {doc_id!r} has no text")
    title = record.get("title")
    return Document(
        id=doc_id,
        title=_clean(title).strip() if isinstance(title, str) else "",
        source=source,
        text=text,
        content_hash=sha256_hex(_canonical(record)),
        metadata=_record_metadata(record, number),
    )


def _record_id(record: dict[str, Any]) -> str:
    value = next((record[key] for key in _ID_KEYS if key in record), None)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise LoadError(FailureKind.BAD_RECORD, "no '_id' or 'id' (a string or an integer)")
    return str(value)


def _record_text(record: dict[str, Any]) -> str:
    key = next((key for key in _TEXT_KEYS if key in record), None)
    if key is None:
        raise LoadError(FailureKind.BAD_RECORD, "no 'text' or 'content' field")
    if not isinstance(record[key], str):
        raise LoadError(FailureKind.BAD_RECORD, f"{key!r} must be a string")
    return str(record[key])


def _record_metadata(record: dict[str, Any], number: int) -> dict[str, Any]:
    found = {k: v for k, v in record.items() if k not in _RESERVED and _is_flat(v)}
    nested = record.get("metadata")
    if isinstance(nested, dict):
        found |= {k: v for k, v in nested.items() if v is not None}
    return {**found, "format": "jsonl", "line": number}


def _is_flat(value: Any) -> bool:
    """A scalar, or a list of scalars."""
    items = value if isinstance(value, list) else [value]
    return all(isinstance(item, _SCALARS) for item in items)


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode("ascii")


def _clean(text: str) -> str:
    """``text`` with lone surrogates (from JSON escapes such as ``\\ud800``) replaced, so it
    encodes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
