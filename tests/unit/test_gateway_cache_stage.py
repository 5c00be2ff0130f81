"""What the gateway may look up in, and store into, the response cache."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.config import CacheSettings
from switchboard.gateway import cache_stage

pytestmark = pytest.mark.unit


def body(*messages: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {"model": "chat", "messages": list(messages), "temperature": 0, **params}


USER = {"role": "user", "content": "How do returns work?"}


def test_instructions_and_parameters_are_part_of_the_scope() -> None:
    plain = cache_stage.scope_of("acme", body(USER))
    french = cache_stage.scope_of(
        "acme", body({"role": "developer", "content": "Answer in French"}, USER)
    )
    system = cache_stage.scope_of("acme", body({"role": "system", "content": "Be terse"}, USER))
    longer = cache_stage.scope_of("acme", body(USER, max_tokens=7))
    assert len({plain, french, system, longer}) == 4
    assert cache_stage.scope_of("globex", body(USER)) != plain


def test_only_a_first_text_question_is_looked_up_semantically() -> None:
    assert cache_stage.query_of(body(USER)) == "How do returns work?"
    follow_up = body(USER, {"role": "assistant", "content": "30 days."}, USER)
    assert cache_stage.query_of(follow_up) is None
    picture = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }
    assert cache_stage.query_of(body(picture)) is None


@pytest.mark.parametrize(
    ("request_body", "shared"),
    [
        (body(USER), True),
        (body(USER, temperature=0.7), False),  # sampled
        ({"model": "chat", "messages": [USER]}, False),  # OpenAI samples at 1 by default
        (body(USER, tools=[{"type": "function"}]), False),
        (body(USER, n=2), False),
        (body(USER, guided_json={"type": "object"}), False),  # unknown to the key
        (body(USER, stream=True, stream_options={"include_usage": True}, user="u1"), True),
    ],
)
def test_shareable_requests(request_body: dict[str, Any], shared: bool) -> None:
    assert cache_stage.shareable(request_body, CacheSettings()) is shared


def test_sampled_answers_are_cached_only_when_configured() -> None:
    sampled = body(USER, temperature=0.7)
    assert cache_stage.shareable(sampled, CacheSettings(cache_sampled=True))
    greedy = cache_stage.as_greedy(body(USER, temperature=0.7, top_p=0.9, seed=3))
    assert greedy["temperature"] == 0
    assert "top_p" not in greedy
    assert "seed" not in greedy
