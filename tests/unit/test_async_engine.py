"""The engine's loop thread: one request failing ends that request only; the loop itself
failing (the forward pass) marks the engine dead, once, for every request at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.engine import AsyncEngine, LLMEngine, SamplingParams, SchedulerConfig
from switchboard.engine.scheduler import ScheduledChunk
from switchboard.errors import EngineDeadError, FatalError, GenerationError
from tests.unit.fakes import FakeRunner, FakeTokenizer
from tests.unit.test_engine import POISON_SEED, failing_for

pytestmark = pytest.mark.unit

GREEDY = SamplingParams(max_tokens=4, temperature=0)


class BreakingRunner(FakeRunner):
    """Fails every forward pass after the first ``healthy`` ones, as a failing
    ``llama_decode``."""

    def __init__(self, healthy: int) -> None:
        super().__init__()
        self.healthy = healthy

    def execute(self, chunks: Sequence[ScheduledChunk]) -> npt.NDArray[np.float32]:
        if len(self.batches) >= self.healthy:
            raise FatalError("llama_decode failed with status -3")
        return super().execute(chunks)


def engine_with(runner: FakeRunner) -> AsyncEngine:
    config = SchedulerConfig(
        max_num_seqs=4, max_batch_tokens=16, kv_cache_tokens=256, max_model_len=64, max_waiting=8
    )
    return AsyncEngine(LLMEngine(runner, FakeTokenizer(), config))


async def generated(engine: AsyncEngine, prompt: list[int], params: SamplingParams) -> str:
    return "".join([o.text async for o in engine.generate(prompt, params)])


def test_a_failing_request_gets_its_error_and_the_loop_serves_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = engine_with(FakeRunner())
    engine.engine.sampler = failing_for("bad")
    poisoned = SamplingParams(max_tokens=4, temperature=0, seed=POISON_SEED)

    async def scenario() -> list[object]:
        return await asyncio.gather(
            generated(engine, [1, 2], GREEDY),
            generated(engine, [5], poisoned),
            return_exceptions=True,
        )

    engine.start()
    try:
        good, bad = asyncio.run(scenario())
        engine.check_alive()
        after = asyncio.run(generated(engine, [10], GREEDY))
    finally:
        engine.shutdown()
    assert good == "defg"
    assert after == "lmno"
    assert isinstance(bad, GenerationError)
    assert (bad.status_code, bad.error_type, bad.code) == (500, "server_error", "generation_failed")
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert "failed while sampling" in failures[0].getMessage()
    assert failures[0].exc_info is not None  # the traceback of the bug, once


def test_a_failing_forward_pass_kills_the_loop_once_and_every_request_fails_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = engine_with(BreakingRunner(healthy=3))  # the model fails mid-stream

    async def in_flight() -> tuple[str, BaseException | None]:
        text = ""
        try:
            async for output in engine.generate([1], SamplingParams(max_tokens=40)):
                text += output.text
        except EngineDeadError as exc:
            return text, exc
        return text, None

    engine.start()
    try:
        text, error = asyncio.run(in_flight())
        with pytest.raises(EngineDeadError, match="llama_decode failed with status -3"):
            engine.check_alive()
        for _ in range(3):  # a new request is refused at once: it never waits on the loop
            with pytest.raises(EngineDeadError):
                asyncio.run(asyncio.wait_for(generated(engine, [2], GREEDY), timeout=5))
    finally:
        engine.shutdown()
    assert text == "cde"
    assert isinstance(error, EngineDeadError)
    deaths = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in deaths] == [
        "engine loop died (llama_decode failed with status -3): every request fails until "
        "the server is restarted"
    ]
