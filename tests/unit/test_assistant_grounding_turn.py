"""The grounding check in a whole turn (``GroundingStage``) and the ``answer_path`` of the
``done`` event, with the fakes of ``assistant_rig``: a scripted model that invents facts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.assistant.claims import OptionWords
from switchboard.assistant.grounding_stage import GroundingStage, open_grounding
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.turn_cache import TurnKeys
from switchboard.assistant.types import (
    AnswerPath,
    CitationEvent,
    TokenEvent,
    TurnEvent,
)
from switchboard.cache.service import ResponseCache
from switchboard.cache.sqlite_store import SQLiteCacheStore
from switchboard.config import CacheSettings, GroundingSettings
from switchboard.demo import option_words_path
from switchboard.errors import UpstreamError
from switchboard.stages.cache import CacheStage
from switchboard.stages.stage import Pipeline
from tests.unit.assistant_rig import (
    ALICE,
    ALICE_ORDER,
    RETURNS_ANSWER,
    Rig,
    done_of,
    only,
    route,
    text_of,
)
from tests.unit.demo_shop import GROUNDED_SYSTEM, GUARD, ORDER_IDS, Intent
from tests.unit.test_assistant_guard_cache import BagOfWords
from tests.unit.test_assistant_tool_calling import calls

pytestmark = pytest.mark.unit

QUESTION = "How long do I have to return a jacket?"
QUOTE = 'From *Returns policy*: "Unworn items can be returned within 30 days." [1]'


def grounding() -> GroundingStage:
    return GroundingStage(OptionWords([["DHL"], ["UPS"], ["PayPal"]]), holdback_chars=200)


class World:
    """A rig whose output goes through the grounding check, and a cache on tmp_path."""

    def __init__(self, tmp_path: Path, *, checked: bool = True) -> None:
        self.cache = ResponseCache(
            SQLiteCacheStore(tmp_path / "cache.sqlite3"),
            BagOfWords(),  # type: ignore[arg-type]
            CacheSettings(similarity_threshold=0.9),
            guard=GUARD,
        )
        keys = TurnKeys(
            tenant="default",
            model="fake-chat",
            system_prompts=[GROUNDED_SYSTEM],
            order_ids=ORDER_IDS,
            kb_version=lambda: "v1",
            temperature=0.0,
            max_tokens=64,
        )
        self.cache_stage = CacheStage(self.cache, keys)
        stages = [self.cache_stage, grounding()] if checked else [self.cache_stage]
        self.rig = Rig(tmp_path, stages=Pipeline(stages))

    def turn(self, message: str, customer: str = ALICE) -> list[TurnEvent]:
        async def run() -> list[TurnEvent]:
            events = [e async for e in self.rig.orchestrator.turn(TurnRequest(customer, message))]
            await self.cache_stage.drain()
            return events

        return asyncio.run(run())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.rig.store.close()
    w.cache.close()


def test_a_grounded_answer_is_generated_as_is(world: World) -> None:
    events = world.turn(QUESTION)
    assert text_of(events) == "".join(RETURNS_ANSWER)
    assert done_of(events).answer_path is AnswerPath.GENERATED


def test_an_invented_number_never_reaches_the_client_and_the_quote_answers(world: World) -> None:
    world.rig.model.default = ["Returns are ", "accepted for 4", "5 days [1", "]."]
    events = world.turn(QUESTION)

    assert all("45" not in e.text for e in only(events, TokenEvent))
    assert text_of(events) == QUOTE
    assert [c.article_id for c in only(events, CitationEvent)] == ["returns-policy"]
    done = done_of(events)
    assert done.answer_path is AnswerPath.QUOTED
    assert done.cited_article_ids == ("returns-policy",)
    assert "grounding" in done.timings_ms
    stored = world.rig.store.history(done.session_id, 2)[1]
    assert stored.content == QUOTE


def test_a_sentence_with_an_invented_carrier_is_left_out(world: World) -> None:
    world.rig.model.default = ["Returns are accepted for 30 days [1]. ", "UPS collects ", "it."]
    events = world.turn(QUESTION)
    assert text_of(events) == "Returns are accepted for 30 days [1]."
    assert done_of(events).answer_path is AnswerPath.REPAIRED


def test_order_data_is_evidence_for_the_answer(world: World) -> None:
    world.rig.model.default = [f"Your order {ALICE_ORDER} ", "comes with DHL. It can go ",
                               "back within 30 days [1]."]  # fmt: skip
    events = world.turn(f"Where is {ALICE_ORDER}, and can I return it?")
    assert f"Your order {ALICE_ORDER} comes with DHL." in text_of(events)
    assert done_of(events).answer_path is AnswerPath.GENERATED


def test_tool_calling_models_are_checked_against_the_articles_they_found(world: World) -> None:
    world.rig.model.supports_tools = True
    world.rig.model.replies = [
        [calls(("search_documents", {"query": "returns"}))],
        ["Unworn items go back within 60 days [1]."],
    ]
    events = world.turn(QUESTION)
    assert "60" not in text_of(events)
    assert text_of(events).endswith(QUOTE)
    assert done_of(events).answer_path is AnswerPath.QUOTED


def test_a_quoted_answer_is_cached_and_served_as_it_was_shown(world: World) -> None:
    world.rig.model.default = ["Returns are accepted for 45 days [1]."]
    first = world.turn(QUESTION)
    again = world.turn(QUESTION)
    assert len(world.rig.model.calls) == 1
    assert text_of(again) == text_of(first) == QUOTE
    assert done_of(again).answer_path is AnswerPath.CACHE


def test_an_answer_the_check_did_not_see_is_never_cached(tmp_path: Path) -> None:
    world = World(tmp_path, checked=False)
    try:
        world.turn(QUESTION)
        assert done_of(world.turn(QUESTION)).cache == "miss"
        assert len(world.rig.model.calls) == 2
    finally:
        world.rig.store.close()
        world.cache.close()


def test_a_model_failure_sends_the_checked_text_held_then_the_error(world: World) -> None:
    world.rig.model.default = ["Returns are accepted for 30 days [1]. ", "Also 45 ", "days"]
    world.rig.model.fail_after = 2
    seen: list[str] = []

    async def run() -> None:
        async for event in world.rig.orchestrator.turn(TurnRequest(ALICE, QUESTION)):
            if isinstance(event, TokenEvent):
                seen.append(event.text)

    with pytest.raises(UpstreamError):
        asyncio.run(run())
    assert "".join(seen) == "Returns are accepted for 30 days [1]."


# -- the paths without the model -------------------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "message", "path"),
    [
        (Intent.HUMAN_HANDOFF, "I want to talk to a person", AnswerPath.HANDOFF),
        (Intent.OUT_OF_SCOPE, "Write me a poem", AnswerPath.REFUSAL),
        (Intent.ORDER_STATUS, f"Where is {ALICE_ORDER}?", AnswerPath.LOOKUP),
    ],
)
def test_answers_without_the_model_name_their_path(
    world: World, intent: Intent, message: str, path: AnswerPath
) -> None:
    world.rig.router.default = route(intent)
    events = world.turn(message)
    assert world.rig.model.calls == []
    assert done_of(events).answer_path is path


def test_nothing_relevant_is_not_sure(world: World) -> None:
    world.rig.searcher.hits = []
    assert done_of(world.turn(QUESTION)).answer_path is AnswerPath.NOT_SURE


def test_a_cached_answer_is_the_cache_path(world: World) -> None:
    world.turn(QUESTION)
    assert done_of(world.turn(QUESTION)).answer_path is AnswerPath.CACHE


def test_settings_turn_the_check_off_or_name_the_option_words(tmp_path: Path) -> None:
    default = option_words_path()
    assert open_grounding(GroundingSettings(enabled=False), default) is None
    words = tmp_path / "options.txt"
    words.write_text("# carriers\nPigeon Post|Pigeons\n", encoding="utf-8")
    hook = open_grounding(GroundingSettings(option_words=words, countries=False), default)
    assert hook is not None
    assert hook.options is not None
    assert list(hook.options.groups) == ["pigeon post"]
    with pytest.raises(ValueError, match="option_words"):
        open_grounding(GroundingSettings(option_words=tmp_path / "missing.txt"), default)
