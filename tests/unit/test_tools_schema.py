"""The JSON-schema subset tool arguments are checked against."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.tools import check_schema, schema_errors

pytestmark = pytest.mark.unit

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": r"^LK-\d{6}$"},
        "qty": {"type": "integer", "minimum": 1, "maximum": 10},
        "reason": {"type": "string", "enum": ["late", "wrong"], "nullable": True},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2},
        "note": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
        "price": {"type": "number", "exclusiveMinimum": 0},
        "gift": {"type": "boolean"},
    },
    "required": ["order_id"],
    "additionalProperties": False,
}


def test_fitting_arguments_have_no_errors() -> None:
    arguments = {
        "order_id": "LK-123456",
        "qty": 3,
        "reason": None,
        "tags": ["a", "bc"],
        "note": None,
        "price": 2.5,
        "gift": True,
    }
    assert schema_errors(SCHEMA, arguments) == []


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, "arguments.order_id is required"),
        ({"order_id": 123456}, "arguments.order_id must be string, not integer"),
        ({"order_id": "123456"}, "arguments.order_id must match"),
        ({"order_id": "LK-123456", "qty": 0}, "arguments.qty must be >= 1"),
        ({"order_id": "LK-123456", "qty": 11}, "arguments.qty must be <= 10"),
        ({"order_id": "LK-123456", "qty": True}, "arguments.qty must be integer, not boolean"),
        ({"order_id": "LK-123456", "qty": 1.5}, "arguments.qty must be integer, not number"),
        ({"order_id": "LK-123456", "reason": "bored"}, "must be one of ['late', 'wrong']"),
        ({"order_id": "LK-123456", "tags": ["abcd"]}, "arguments.tags[0] allows at most 3"),
        ({"order_id": "LK-123456", "tags": ["a", "b", "c"]}, "arguments.tags allows at most 2"),
        ({"order_id": "LK-123456", "note": ""}, "arguments.note matches none"),
        ({"order_id": "LK-123456", "price": 0}, "arguments.price must be > 0"),
        ({"order_id": "LK-123456", "sneaky": 1}, "arguments.sneaky is not a known argument"),
    ],
)
def test_each_breach_is_named(arguments: dict[str, Any], error: str) -> None:
    errors = schema_errors(SCHEMA, arguments)
    assert len(errors) == 1
    assert error in errors[0]


def test_one_of_needs_exactly_one_match_and_all_of_every_one() -> None:
    one_of = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
    assert schema_errors(one_of, "x") != []
    assert "matches 2" in schema_errors(one_of, 3)[0]
    assert schema_errors(one_of, 2.5) == []
    all_of = {"allOf": [{"type": "string"}, {"minLength": 2}]}
    assert schema_errors(all_of, "ab") == []
    assert schema_errors(all_of, "a") == ["arguments needs at least 2 characters"]


def test_a_type_list_allows_each_type() -> None:
    assert schema_errors({"type": ["string", "null"]}, None) == []
    assert schema_errors({"type": ["string", "null"]}, 1) == [
        "arguments must be string or null, not integer"
    ]


def test_the_schema_itself_is_checked() -> None:
    check_schema(SCHEMA)
    check_schema({"type": "string", "format": "date", "x-internal": True, "example": "x"})
    with pytest.raises(ValueError, match=r"parameters\.properties\.a: unsupported .*'not'"):
        check_schema({"type": "object", "properties": {"a": {"not": {"type": "string"}}}})
    with pytest.raises(ValueError, match="unknown type 'text'"):
        check_schema({"type": "text"})
    with pytest.raises(ValueError, match="bad pattern"):
        check_schema({"type": "string", "pattern": "("})
    with pytest.raises(ValueError, match=r"anyOf must be a non-empty list"):
        check_schema({"anyOf": []})


def test_openapi_3_0_boolean_exclusive_bounds_make_the_bound_strict() -> None:
    low = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    high = {"type": "number", "maximum": 10, "exclusiveMaximum": True}
    assert schema_errors(low, 0) == ["arguments must be > 0"]
    assert schema_errors(low, 0.5) == []
    assert schema_errors(high, 10) == ["arguments must be < 10"]
    assert schema_errors({"type": "number", "minimum": 0, "exclusiveMinimum": False}, 0) == []
