"""A definition's tools and write proposals, validated when it is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.assistant.definition import DefinitionError, load_definition, load_definitions
from switchboard.demo import shop_tools_path

pytestmark = pytest.mark.unit

BASE = """
title = "Shop"
collection = "shop"
end_user = "customer"
{tools}

[prompts]
grounded = "Answer from the sources."
small_talk = "Be brief."

[replies]
out_of_scope = "Only the shop."
not_sure = "Not sure."
ticket_created = "Ticket {{ticket_id}}."

[[intents]]
name = "cancellation"
action = "answer"
examples = ["cancel my order", "please cancel LK-100214", "stop my order"]
{proposes}
"""
PROPOSES = """[intents.proposes]
tool = "{tool}"
ask = "Cancel {order_id}? Reply yes."
done = "Cancelled {order_id}."
failed = "Not cancelled {order_id}: {reason}"
"""


LOOKUP = """
[lookup]
id_pattern = 'LK-(\\d{6})'
id_format = "LK-{}"
tool = "get_order"
argument = "order_id"
found = "Order {{ order_id }}: {{ status }}."
missing = "No order {{ order_id }}."
unavailable = "The order system is down."
"""


def write(
    tmp_path: Path,
    tools: str = "",
    proposes: str = "",
    tool: str = "cancel_order",
    lookup: str = LOOKUP,
) -> Path:
    (tmp_path / "api_tools.toml").write_text(shop_tools_path().read_text())
    path = tmp_path / "shop.toml"
    text = BASE.format(tools=tools, proposes=proposes.replace("{tool}", tool))
    path.write_text(text + lookup)
    return path


def test_the_tools_file_is_found_next_to_the_definition(tmp_path: Path) -> None:
    path = write(tmp_path, 'tools = "api_tools.toml"', PROPOSES)
    definition = load_definition(path)
    assert definition.tools == tmp_path / "api_tools.toml"
    specs = definition.tool_specs("http://127.0.0.1:9")
    assert [s.url for s in specs if s.write] == [
        "http://127.0.0.1:9/customers/{customer_id}/orders/{order_id}/cancel"
    ]
    proposal = definition.proposal("cancellation")
    assert proposal is not None
    assert proposal.say(proposal.failed, "LK-1", "shipped.") == "Not cancelled LK-1: shipped."


@pytest.mark.parametrize(
    ("tools", "proposes", "tool", "problem"),
    [
        ('tools = "missing.toml"', "", "cancel_order", "missing.toml"),
        ("", PROPOSES, "cancel_order", "call tools: set tools"),
        ('tools = "api_tools.toml"', PROPOSES, "delete_order", "'delete_order', which"),
        ('tools = "api_tools.toml"', PROPOSES, "get_order", "no write tool"),
        (
            'tools = "api_tools.toml"',
            PROPOSES.replace("Cancelled {order_id}.", "Cancelled."),
            "cancel_order",
            "done must contain {order_id}",
        ),
    ],
)
def test_broken_tools_are_named(
    tmp_path: Path, tools: str, proposes: str, tool: str, problem: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(write(tmp_path, tools, proposes, tool))
    assert str(caught.value).startswith(str(tmp_path / "shop.toml"))
    assert problem in str(caught.value)


def test_a_proposal_needs_a_lookup(tmp_path: Path) -> None:
    path = write(tmp_path, 'tools = "api_tools.toml"', PROPOSES, lookup="")
    with pytest.raises(DefinitionError, match=r"needs a \[lookup\]"):
        load_definition(path)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('tool = "get_order"', 'tool = "cancel_order"'), "'cancel_order' is not one of its read"),
        (('tool = "get_order"', 'tool = "find_order"'), "'find_order' is not one of its read"),
        (('argument = "order_id"', 'argument = "number"'), "get_order has no argument 'number'"),
        (("LK-(\\d{6})", "LK-\\d{6}"), "needs exactly one capture group"),
        (('found = "Order {{ order_id }}', 'found = "Order {{ order_id '), "template error"),
        (('end_user = "customer"', 'end_user = "none"'), "act for the end user"),
    ],
)
def test_a_broken_lookup_is_named(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    path = write(tmp_path, 'tools = "api_tools.toml"')
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert problem in str(caught.value)


def test_a_tools_file_in_the_definitions_folder_is_named_as_such(tmp_path: Path) -> None:
    write(tmp_path, 'tools = "api_tools.toml"')
    with pytest.raises(DefinitionError) as caught:
        load_definitions([tmp_path])
    assert str(caught.value).startswith(str(tmp_path / "api_tools.toml"))
    assert "a tools file, not an assistant" in str(caught.value)
