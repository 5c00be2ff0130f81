"""The stage interface both chat endpoints run (``stages.stage``): the order stages see a
request in, and its answer out; a stage's answer ends the way in; a failure's fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from switchboard.stages.stage import Answer, Exchange, Pipeline, Stage

pytestmark = pytest.mark.unit


@dataclass(kw_only=True)
class Seen(Exchange):
    log: list[str] = field(default_factory=list)


class Recording(Stage[Seen]):
    def __init__(self, name: str, answer: Answer | None = None) -> None:
        self.name = name
        self.answer = answer

    def prepare(self, exchange: Seen) -> None:
        exchange.log.append(f"prepare {self.name}")

    async def on_input(self, exchange: Seen) -> Answer | None:
        exchange.log.append(f"in {self.name}")
        return self.answer

    def on_output(self, exchange: Seen, text: AsyncIterator[str]) -> AsyncIterator[str]:
        async def tagged() -> AsyncIterator[str]:
            yield f"<{self.name}>"
            async for piece in text:
                yield piece
            yield f"</{self.name}>"

        return tagged()

    async def on_done(self, exchange: Seen) -> None:
        exchange.log.append(f"done {self.name}")

    async def on_failure(self, exchange: Seen, error: BaseException) -> Answer | None:
        exchange.log.append(f"failed {self.name}")
        return self.answer


async def pieces(*texts: str) -> AsyncIterator[str]:
    for text in texts:
        yield text


def test_every_stage_prepares_before_the_first_one_checks_the_request() -> None:
    seen = Seen()
    pipeline = Pipeline([Recording("guard"), Recording("cache")])

    assert asyncio.run(pipeline.admit(seen)) is None

    assert seen.log == ["prepare guard", "prepare cache", "in guard", "in cache"]


def test_a_stage_that_answers_ends_the_way_in() -> None:
    refusal = Answer("I can't help with that.", "guard")
    seen = Seen()
    pipeline = Pipeline([Recording("guard", refusal), Recording("cache")])

    answer = asyncio.run(pipeline.admit(seen))

    assert answer == refusal
    assert answer.refused
    assert "in cache" not in seen.log


def test_the_first_stage_sees_the_answer_last() -> None:
    pipeline = Pipeline([Recording("guard"), Recording("grounding")])

    async def out() -> list[str]:
        return [p async for p in pipeline.output(Seen(), pieces("30 days"))]

    assert "".join(asyncio.run(out())) == "<guard><grounding>30 days</grounding></guard>"


def test_a_failure_is_answered_by_the_first_stage_that_can() -> None:
    cached = Answer("Returns are accepted for 30 days.", "cache:fallback")
    seen = Seen()
    pipeline = Pipeline([Recording("guard"), Recording("cache", cached), Recording("last")])

    answer = asyncio.run(pipeline.failed(seen, TimeoutError()))

    assert answer == cached
    assert not answer.refused
    assert seen.log == ["failed guard", "failed cache"]


def test_every_stage_sees_the_delivered_answer() -> None:
    seen = Seen()
    asyncio.run(Pipeline([Recording("guard"), Recording("cache")]).done(seen))
    assert seen.log == ["done guard", "done cache"]


def test_a_stage_that_overrides_nothing_changes_nothing() -> None:
    seen = Seen()
    pipeline: Pipeline[Seen] = Pipeline([Stage()])

    async def run() -> tuple[Answer | None, list[str], Answer | None]:
        answer = await pipeline.admit(seen)
        text = [p async for p in pipeline.output(seen, pieces("a", "b"))]
        await pipeline.done(seen)
        return answer, text, await pipeline.failed(seen, TimeoutError())

    assert asyncio.run(run()) == (None, ["a", "b"], None)
    assert seen.timings_ms == {}
    assert seen.guard_events == []
