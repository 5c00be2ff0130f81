"""The JSON-schema subset that tool arguments are checked against: the part OpenAPI uses.

Checked: ``type`` (one or a list; ``integer`` excludes booleans), ``nullable`` (OpenAPI
3.0), ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties`` (a
boolean or a schema), ``items``, ``minItems``/``maxItems``, ``minLength``/``maxLength``,
``pattern``, ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` (numbers,
as in 3.1), ``anyOf``/``oneOf``/``allOf``. Annotations (``description``, ``format``,
``default``, ``x-*``...) are ignored. Any other keyword is refused when a tool is built
(``check_schema``), so a schema is never half-enforced.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "format",
        "default",
        "example",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "xml",
        "externalDocs",
        "discriminator",
        "$schema",
        "$id",
        "$comment",
    }
)
CHECKED = frozenset(
    {
        "type",
        "nullable",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "anyOf",
        "oneOf",
        "allOf",
    }
)
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}

Compare = Callable[[Any, Any], bool]
BOUNDS: list[tuple[str, Compare, str]] = [
    ("minimum", operator.ge, ">="),
    ("maximum", operator.le, "<="),
    ("exclusiveMinimum", operator.gt, ">"),
    ("exclusiveMaximum", operator.lt, "<"),
]
STRICT: dict[str, tuple[str, Compare, str]] = {
    "minimum": ("exclusiveMinimum", operator.gt, ">"),
    "maximum": ("exclusiveMaximum", operator.lt, "<"),
}


def check_schema(schema: Any, where: str = "parameters") -> None:
    """Raise ``ValueError`` naming the place of the first keyword this module cannot check."""
    if not isinstance(schema, dict):
        raise ValueError(f"{where} must be a JSON-schema object, not {type(schema).__name__}")
    for key, value in schema.items():
        if key.startswith("x-") or key in ANNOTATIONS:
            continue
        if key not in CHECKED:
            raise ValueError(f"{where}: unsupported JSON-schema keyword {key!r}")
        if key == "type":
            for name in value if isinstance(value, list) else [value]:
                if name not in TYPES:
                    raise ValueError(f"{where}: unknown type {name!r}")
        elif key == "pattern":
            try:
                re.compile(value)
            except (re.error, TypeError) as exc:
                raise ValueError(f"{where}: bad pattern {value!r}: {exc}") from None
        elif key == "properties":
            if not isinstance(value, dict):
                raise ValueError(f"{where}.properties must be an object")
            for name, sub in value.items():
                check_schema(sub, f"{where}.properties.{name}")
        elif key in ("items", "additionalProperties") and not isinstance(value, bool):
            check_schema(value, f"{where}.{key}")
        elif key in ("anyOf", "oneOf", "allOf"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"{where}.{key} must be a non-empty list of schemas")
            for number, sub in enumerate(value):
                check_schema(sub, f"{where}.{key}[{number}]")
        elif key == "required" and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"{where}.required must be a list of property names")


def schema_errors(schema: dict[str, Any], value: Any, where: str = "arguments") -> list[str]:
    """Every way ``value`` breaks ``schema``, one short line each (empty: it fits)."""
    if value is None and schema.get("nullable"):
        return []
    errors = _type_errors(schema, value, where)
    if errors:
        return errors
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where} must be one of {schema['enum']}, not {value!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where} must be {schema['const']!r}")
    errors += _combination_errors(schema, value, where)
    if isinstance(value, dict):
        errors += _object_errors(schema, value, where)
    elif isinstance(value, list):
        errors += _array_errors(schema, value, where)
    elif isinstance(value, str):
        errors += _string_errors(schema, value, where)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        errors += _number_errors(schema, value, where)
    return errors


def _type_errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    if "type" not in schema:
        return []
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if any(TYPES[name](value) for name in names):
        return []
    return [f"{where} must be {' or '.join(names)}, not {_kind(value)}"]


def _combination_errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    errors = []
    for sub in schema.get("allOf", []):
        errors += schema_errors(sub, value, where)
    if "anyOf" in schema and all(schema_errors(s, value, where) for s in schema["anyOf"]):
        errors.append(f"{where} matches none of the allowed forms")
    if "oneOf" in schema:
        fits = sum(not schema_errors(s, value, where) for s in schema["oneOf"])
        if fits != 1:
            errors.append(f"{where} must match exactly one allowed form, matches {fits}")
    return errors


def _object_errors(schema: dict[str, Any], value: dict[str, Any], where: str) -> list[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = schema.get("required", [])
    errors = [f"{where}.{name} is required" for name in required if name not in value]
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(properties[name], item, f"{where}.{name}")
        elif extra is False:
            errors.append(f"{where}.{name} is not a known argument")
        elif isinstance(extra, dict):
            errors += schema_errors(extra, item, f"{where}.{name}")
    return errors


def _array_errors(schema: dict[str, Any], value: list[Any], where: str) -> list[str]:
    errors = _bound_errors(schema, len(value), where, "minItems", "maxItems", "items")
    if isinstance(schema.get("items"), dict):
        for number, item in enumerate(value):
            errors += schema_errors(schema["items"], item, f"{where}[{number}]")
    return errors


def _string_errors(schema: dict[str, Any], value: str, where: str) -> list[str]:
    errors = _bound_errors(schema, len(value), where, "minLength", "maxLength", "characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where} must match {schema['pattern']!r}")
    return errors


def _number_errors(schema: dict[str, Any], value: float, where: str) -> list[str]:
    """Bounds as in 3.1 (numbers); a 3.0 ``exclusiveMinimum: true`` makes ``minimum`` strict."""
    errors = []
    for key, holds, sign in BOUNDS:
        bound = schema.get(key)
        if not TYPES["number"](bound):
            continue
        if key in STRICT and schema.get(STRICT[key][0]) is True:  # OpenAPI 3.0's boolean form
            _, holds, sign = STRICT[key]
        if not holds(value, bound):
            errors.append(f"{where} must be {sign} {bound}")
    return errors


def _bound_errors(
    schema: dict[str, Any], size: int, where: str, low: str, high: str, unit: str
) -> list[str]:
    errors = []
    if low in schema and size < schema[low]:
        errors.append(f"{where} needs at least {schema[low]} {unit}")
    if high in schema and size > schema[high]:
        errors.append(f"{where} allows at most {schema[high]} {unit}")
    return errors


def _kind(value: Any) -> str:
    for name, fits in TYPES.items():
        if name != "number" and fits(value):
            return name
    return "number" if TYPES["number"](value) else type(value).__name__
