"""A definition's tools and write proposals, validated when it is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.assistant.definition import DefinitionError, load_definition
from switchboard.demo import shop_tools_path

pytestmark = pytest.mark.unit

BASE = """
title = "Shop"
collection = "shop"
end_user = "customer"
order_lookup = true
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


def write(tmp_path: Path, tools: str = "", proposes: str = "", tool: str = "cancel_order") -> Path:
    (tmp_path / "api_tools.toml").write_text(shop_tools_path().read_text())
    path = tmp_path / "shop.toml"
    text = BASE.format(tools=tools, proposes=proposes.replace("{tool}", tool))
    path.write_text(text)
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
        ("", PROPOSES, "cancel_order", "which None does not declare"),
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


def test_a_proposal_needs_order_lookup(tmp_path: Path) -> None:
    path = write(tmp_path, 'tools = "api_tools.toml"', PROPOSES)
    path.write_text(path.read_text().replace("order_lookup = true", "order_lookup = false"))
    with pytest.raises(DefinitionError, match="needs order_lookup = true"):
        load_definition(path)
