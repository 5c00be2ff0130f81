"""Exact cache keys: equal for requests a model sees as the same, different otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.cache.keys import exact_key, normalise_text, system_hash

pytestmark = pytest.mark.unit

BASE = [
    {"role": "system", "content": "You are the Larkspur support assistant."},
    {"role": "user", "content": "How long do I have to return a jacket?"},
]


def key(messages: list[dict[str, Any]] = BASE, **params: Any) -> str:
    return exact_key(messages, params)


def with_user(content: Any) -> list[dict[str, Any]]:
    return [BASE[0], {"role": "user", "content": content}]


def test_key_is_a_stable_sha256_hex() -> None:
    assert key() == key()
    assert len(key()) == 64
    int(key(), 16)


def test_whitespace_and_unicode_width_do_not_matter() -> None:
    assert key(with_user("  How long do I have\nto   return a jacket? ")) == key()
    assert key(with_user("How long do I have to return a \uff4aacket?")) == key()  # NFKC


def test_case_and_wording_matter() -> None:
    assert key(with_user("how long do I have to return a jacket?")) != key()
    assert key(with_user("How long do I have to return boots?")) != key()


def test_role_and_order_of_messages_matter() -> None:
    assert key([{"role": "assistant", "content": BASE[1]["content"]}]) != key(BASE[1:])
    assert key(list(reversed(BASE))) != key()
    assert key(BASE[1:]) != key()  # another system prompt (none)


def test_content_parts_are_normalised_like_text() -> None:
    parts = [{"type": "text", "text": "How long  do I have to return a jacket?"}]
    same = [{"type": "text", "text": "How long do I have to return a jacket?"}]
    assert key(with_user(parts)) == key(with_user(same))
    assert key(with_user(parts)) != key()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"temperature": 0}, {"temperature": 0.7}),
        ({"temperature": 0}, {}),  # a missing parameter is not assumed to be the default
        ({"max_tokens": 100}, {"max_tokens": 200}),
        ({"top_p": 1}, {"top_p": 0.9}),
        ({"seed": 1}, {"seed": 2}),
        ({"stop": ["\n"]}, {"stop": ["END"]}),
        ({"response_format": {"type": "json_object"}}, {}),
        ({"tools": [{"type": "function", "function": {"name": "order_status"}}]}, {}),
        ({"tool_choice": "auto"}, {"tool_choice": "none"}),
    ],
)
def test_sampling_parameters_that_change_the_answer_change_the_key(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert key(**a) != key(**b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"temperature": 0, "stream": True}, {"temperature": 0, "stream": False}),
        ({"user": "u1", "metadata": {"x": 1}}, {}),
        ({"temperature": 1.0}, {"temperature": 1}),
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"seed": None}, {}),
        ({"temperature": 0, "top_p": 1}, {"top_p": 1, "temperature": 0}),
    ],
)
def test_parameters_that_do_not_change_the_answer_leave_the_key(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert key(**a) == key(**b)


def test_tool_calls_and_tool_results_are_part_of_the_key() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    with_call: list[dict[str, Any]] = [
        *BASE,
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    result = [*with_call, {"role": "tool", "tool_call_id": "c1", "content": "shipped"}]
    other = [*with_call, {"role": "tool", "tool_call_id": "c1", "content": "delayed"}]
    assert len({key(), key(with_call), key(result), key(other)}) == 4


def test_system_hash_ignores_whitespace_only() -> None:
    prompt = "You are the Larkspur support assistant.\nAnswer briefly."
    assert system_hash(prompt) == system_hash(
        "  You are the Larkspur support assistant. Answer briefly."
    )
    assert system_hash(prompt) != system_hash(prompt.replace("briefly", "in detail"))
    assert len(system_hash(prompt)) == 32


def test_normalise_text() -> None:
    assert normalise_text("\tA  b\u00a0c \n") == "A b c"
