"""HTTP tool declarations: the spec's validation, its OpenAI form, and the TOML loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from switchboard.demo import shop_tools_path
from switchboard.tools import HttpMethod, HttpToolSpec, load_tool_file, tool_specs

pytestmark = pytest.mark.unit

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"customer_id": {"type": "string"}, "order_id": {"type": "string"}},
    "required": ["customer_id", "order_id"],
}


def spec(**fields: Any) -> HttpToolSpec:
    base: dict[str, Any] = {
        "name": "get_order",
        "description": "One order.",
        "url": "http://orders.test/customers/{customer_id}/orders/{order_id}",
        "parameters": ORDER_SCHEMA,
        "end_user": "customer_id",
    }
    return HttpToolSpec.model_validate(base | fields)


def test_a_get_tool_is_a_read_with_retries_and_a_post_a_write_without() -> None:
    read = spec()
    write = spec(name="cancel_order", method="post")
    assert (read.method, read.write, read.retries) == (HttpMethod.GET, False, 2)
    assert (write.method, write.write, write.retries) == (HttpMethod.POST, True, 0)
    assert read.path_arguments == ("customer_id", "order_id")
    assert spec(method="POST", write=False).retries == 2  # a declared read over POST


def test_the_model_sees_no_end_user_argument() -> None:
    tool = spec().openai_tool()
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "get_order"
    assert set(function["parameters"]["properties"]) == {"order_id"}
    assert function["parameters"]["required"] == ["order_id"]
    assert set(spec().parameters["properties"]) == {"customer_id", "order_id"}  # unchanged


def test_body_defaults_to_the_non_path_arguments_of_a_post() -> None:
    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
    }
    post = spec(
        method="POST", url="http://o.test/orders/{order_id}", parameters=schema, end_user=None
    )
    assert post.body_arguments == ("reason",)
    assert post.model_copy(update={"method": HttpMethod.DELETE}).body_arguments == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "get-order"}, "should match pattern"),
        ({"name": "x" * 65}, "should match pattern"),
        ({"url": "ftp://o.test/a"}, "absolute http"),
        ({"url": "/customers/{customer_id}"}, "absolute http"),
        ({"url": "http://{host}/a"}, "only path segments"),
        ({"url": "http://o.test/orders/LK-{order_id}"}, "whole path segment"),
        ({"url": "http://o.test/a/{missing}"}, "not in parameters.properties"),
        ({"end_user": "who"}, "end_user 'who' is not in parameters.properties"),
        ({"method": "TRACE"}, "method"),
        ({"parameters": {"type": "array"}}, "type 'object'"),
        ({"parameters": {"type": "object", "required": ["x"]}}, "names no property"),
        ({"parameters": {"type": "object", "not": {}}}, "unsupported JSON-schema keyword 'not'"),
        ({"body": ["order_id"], "method": "POST"}, "path arguments"),
        ({"body": ["order_id"]}, "a GET request has no body"),
        ({"method": "POST", "retries": 2}, "never retried"),
        ({"secret_header": "Authorization"}, "go together"),
        ({"secret_header": "Authorization", "secret_env": "A-B"}, "environment variable"),
        ({"headers": {"bad header": "x"}}, "not a header name"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, "'X-A' cannot hold line breaks"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_declarations_are_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**fields)


def test_a_spec_is_frozen() -> None:
    with pytest.raises(ValidationError):
        spec().name = "other"  # type: ignore[misc]


def test_the_demo_shop_declares_its_order_tools() -> None:
    tools = load_tool_file(shop_tools_path(), base_url="http://127.0.0.1:8001")
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {"get_order", "list_orders", "cancel_order"}
    assert all(tool.end_user == "customer_id" for tool in tools)
    assert [t.name for t in tools if t.write] == ["cancel_order"]
    assert by_name["cancel_order"].url == (
        "http://127.0.0.1:8001/customers/{customer_id}/orders/{order_id}/cancel"
    )
    assert by_name["get_order"].secret_env == "SWITCHBOARD_ORDERS__SERVICE_TOKEN"


def test_a_path_without_a_base_url_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"tool get_order: a path needs a base_url"):
        load_tool_file(shop_tools_path())
    broken = tmp_path / "tools.toml"
    broken.write_text('[[tools]]\nname = "x"\n')
    with pytest.raises(ValueError, match=r"tools\.toml: tool x: description: Field required"):
        load_tool_file(broken, base_url="http://a.test")
    broken.write_text("[[tools]\n")
    with pytest.raises(ValueError, match="cannot read the tool declarations"):
        load_tool_file(broken)


def test_a_declarations_document_needs_tools_and_known_keys() -> None:
    with pytest.raises(ValueError, match="declares no"):
        tool_specs({"base_url": "http://a.test"})
    with pytest.raises(ValueError, match=r"unknown keys \['tool'\]"):
        tool_specs({"tool": []})
    with pytest.raises(ValueError, match="url or path, not both"):
        tool_specs({"tools": [{"name": "a", "url": "http://a.test", "path": "/b"}]})
