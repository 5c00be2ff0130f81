"""Assistant definitions: what loads, what is refused (one line naming the file and the
field), the settings a definition runs with, the starter ``assistants new`` writes, and the
demo's two definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.assistant.definition import (
    DefinitionError,
    assistant_named,
    load_definition,
    load_definitions,
)
from switchboard.assistant.starter import starter
from switchboard.assistant.types import Action
from switchboard.config import AssistantSettings
from tests.unit.demo_shop import HELPDESK, SHOP

pytestmark = pytest.mark.unit

MINIMAL = """
title = "Docs"
collection = "docs"
[prompts]
grounded = "Answer from the sources, citing [1]."
small_talk = "Be brief."
[replies]
out_of_scope = "Only questions about the docs."
not_sure = "I'm not sure."
ticket_created = "Ticket {ticket_id}."
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_definition_loads_with_its_file_name_and_defaults(tmp_path: Path) -> None:
    definition = load_definition(write(tmp_path, "docs", MINIMAL))
    assert (definition.name, definition.collection, definition.end_user) == ("docs", "docs", "none")
    assert definition.intents == []
    assert definition.handoff
    assert definition.guard
    assert definition.replies.ticket("T-9") == "Ticket T-9."
    assert definition.system_prompts == (
        "Answer from the sources, citing [1].",
        "Be brief.",
    )


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('colour = "red"\n', "colour: Extra inputs are not permitted"),
        ('end_user = "robot"\n', "end_user: Input should be 'none' or 'customer'"),
        ('[widget]\naccent = "green"\n', "widget.accent"),
        (
            '[[intents]]\nname = "hi"\naction = "small_talk"\nexamples = ["a", "b", "c"]\n'
            '[[intents]]\nname = "hi"\naction = "refuse"\nexamples = ["d", "e", "f"]\n',
            "intents declared twice: ['hi']",
        ),
        (
            '[[intents]]\nname = "hi"\naction = "dance"\nexamples = ["a", "b", "c"]\n',
            "intents.0.action",
        ),
        ('[[intents]]\nname = "hi"\naction = "refuse"\nexamples = ["a"]\n', "intents.0.examples"),
        (
            'handoff = false\n[[intents]]\nname = "human"\naction = "handoff"\n'
            'examples = ["a", "b", "c"]\n',
            "an intent hands off, but handoff = false",
        ),
        ("[retrieval]\ntop_k = 0\n", "retrieval.top_k"),
    ],
)
def test_a_bad_definition_is_refused_naming_file_and_field(
    tmp_path: Path, extra: str, problem: str
) -> None:
    head, tables = MINIMAL.split("[prompts]")
    text = MINIMAL + extra if extra.startswith("[") else head + extra + "[prompts]" + tables
    with pytest.raises(DefinitionError) as error:
        load_definition(write(tmp_path, "docs", text))
    assert str(error.value).startswith(f"{tmp_path / 'docs.toml'}: ")
    assert problem in str(error.value)


def test_a_ticket_reply_must_name_the_ticket(tmp_path: Path) -> None:
    text = MINIMAL.replace("Ticket {ticket_id}.", "A colleague will write.")
    with pytest.raises(DefinitionError, match=r"replies\.ticket_created: must contain"):
        load_definition(write(tmp_path, "docs", text))


def test_unknown_other_languages_and_a_name_unlike_the_file_are_refused(tmp_path: Path) -> None:
    text = MINIMAL + '[replies.other_language]\nxx = "?"\n'
    with pytest.raises(DefinitionError, match="unknown languages \\['xx'\\]"):
        load_definition(write(tmp_path, "docs", text))
    with pytest.raises(DefinitionError, match="differs from the file's stem"):
        load_definition(write(tmp_path, "other", 'name = "docs"\n' + MINIMAL))


def test_broken_toml_and_a_missing_file_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="not valid TOML"):
        load_definition(write(tmp_path, "docs", "title = \n"))
    with pytest.raises(DefinitionError, match="cannot read it"):
        load_definition(tmp_path / "absent.toml")


def test_the_definition_overrides_the_servers_settings(tmp_path: Path) -> None:
    text = (
        MINIMAL + '[retrieval]\nanswer_mode = "generate"\ntop_k = 6\n[model]\ntemperature = 0.3\n'
    )
    definition = load_definition(write(tmp_path, "docs", text))
    base = AssistantSettings(answer_mode="quote", top_k=4, relevance_floor=0.3)
    settings = definition.settings(base)
    assert (settings.answer_mode, settings.top_k, settings.temperature) == ("generate", 6, 0.3)
    assert settings.relevance_floor == 0.3  # not overridden: the server's
    assert settings.language_handoff is False  # it offers no other language
    assert SHOP.settings(base).language_handoff is True


def test_definitions_load_from_folders_and_a_name_twice_is_an_error(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    write(first, "docs", MINIMAL)
    write(second, "more", MINIMAL)
    assert sorted(load_definitions([first, second, tmp_path / "absent"])) == ["docs", "more"]
    write(second, "docs", MINIMAL)
    with pytest.raises(DefinitionError, match="is also defined in"):
        load_definitions([first, second])


def test_the_starter_is_a_working_definition(tmp_path: Path) -> None:
    path = write(tmp_path, "team-wiki", starter("team-wiki", "wiki", 'The "Team" wiki'))
    definition = load_definition(path)
    assert (definition.collection, definition.title) == ("wiki", 'The "Team" wiki')
    assert not definition.handoff
    assert "{ticket_id}" in definition.replies.ticket_created
    with pytest.raises(DefinitionError, match="not an assistant name"):
        starter("Team Wiki", "wiki")


def test_the_demo_definitions_hold_the_shop_and_the_helpdesk() -> None:
    actions = {intent.name: intent.action for intent in SHOP.intents}
    assert actions["order_status"] is Action.LOOKUP
    assert actions["human_handoff"] is Action.HANDOFF
    assert all(len(intent.examples) >= 20 for intent in SHOP.intents)
    assert SHOP.end_user == "customer"
    assert SHOP.lookup is not None
    assert SHOP.lookup.tool_names == ("get_order", "list_orders")
    assert (HELPDESK.end_user, HELPDESK.lookup, HELPDESK.collection) == ("none", None, "helpdesk")
    assert "Larkspur" not in " ".join([*HELPDESK.system_prompts, HELPDESK.replies.not_sure])


def test_a_chat_completion_names_an_assistant_by_its_prefix() -> None:
    assert assistant_named("assistant:helpdesk") == "helpdesk"
    assert assistant_named("smollm2-135m:q8_0") is None
