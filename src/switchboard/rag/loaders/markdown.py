"""Markdown and plain text: decoding, front matter, title.

Front matter is the YAML-ish block between ``---`` fences at the very top. Only simple
``key: value`` lines are read (scalars, ``[a, b]`` inline lists, ``- item`` block lists,
``#`` comments; nested mappings are skipped); a block with any other line is not front
matter and stays in the text.
Values become str, int, float, bool or lists of them; dates stay strings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from switchboard.rag.loaders.base import Extracted
from switchboard.rag.loaders.text import decode_text, normalize_text

Scalar = str | int | float | bool | None

_FRONT_MATTER = re.compile(r"\A---\n(.*?)^(?:---|\.\.\.)$\n?", re.DOTALL | re.MULTILINE)
_FIELD = re.compile(r"([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]+(.*))?")
_ITEM = re.compile(r"[ \t]*-[ \t]+(.*)")
_COMMENT = re.compile(r"[ \t]+#.*$")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?")
_KEYWORDS: dict[str, Scalar] = {"true": True, "false": False, "null": None, "~": None}
_H1 = re.compile(r" {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r" {0,3}(?:```|~~~)")


def extract_text(raw: bytes, path: Path) -> Extracted:
    return Extracted(normalize_text(decode_text(raw)), path.stem, {"format": "text"})


def extract_markdown(raw: bytes, path: Path) -> Extracted:
    fields, body = split_front_matter(normalize_text(decode_text(raw)))
    title = fields.pop("title", None)
    title = str(title).strip() if title is not None else ""
    return Extracted(body, title or first_h1(body) or path.stem, {**fields, "format": "markdown"})


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """``(fields, text without the block)``, or ``({}, text)`` if there is no front matter."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    fields = _parse_fields(match[1])
    if fields is None:
        return {}, text
    return fields, text[match.end() :].strip()


def first_h1(text: str) -> str | None:
    """The title of the first ``# `` heading outside fenced code blocks."""
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _H1.fullmatch(line)):
            return match[1].strip()
    return None


def _parse_fields(block: str) -> dict[str, Any] | None:
    fields: dict[str, Any] = {}
    list_key: str | None = None
    for line in block.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if list_key is not None and (item := _ITEM.fullmatch(line)):
            fields[list_key].append(parse_scalar(item[1]))
            continue
        if line[0] in " \t":  # nested mappings are not read; the key is dropped
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            return None
        key, value = match[1], (match[2] or "").strip()
        fields[key] = parse_value(value) if value else []
        list_key = None if value else key
    return {k: v for k, v in fields.items() if v is not None and v != []}


def parse_value(value: str) -> Scalar | list[Scalar]:
    """A scalar, or an inline ``[a, b]`` list (split on commas, quotes not honoured)."""
    if value.startswith("[") and value.endswith("]"):
        return [parse_scalar(item) for item in value[1:-1].split(",") if item.strip()]
    return parse_scalar(value)


def parse_scalar(value: str) -> Scalar:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    value = _COMMENT.sub("", value)
    if value.lower() in _KEYWORDS:
        return _KEYWORDS[value.lower()]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value
