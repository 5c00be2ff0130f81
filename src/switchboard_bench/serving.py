"""Serving benchmark: the same workload through our engine and through llama-cpp-python's
high-level ``Llama`` serving one request at a time (the baseline users have today).

Requests are issued by ``concurrency`` closed-loop clients (each sends its next request
when the previous one finished), like vLLM's ``--max-concurrency`` mode. All timings are
taken on the client side, per streamed token.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psutil

from switchboard.engine import SamplingParams
from switchboard.engine.local import LocalEngine
from switchboard_bench.stats import RequestTrace, RunStats
from switchboard_bench.workload import Workload

Progress = Callable[[int], None]


@contextmanager
def peak_rss() -> Iterator[list[int]]:
    """Sample this process's RSS every 20 ms; the peak (bytes) lands in the yielded list."""
    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        peak[0] = max(peak[0], process.memory_info().rss)


@dataclass
class Run:
    """Client traces of one benchmark run and its wall time; runs can be added up."""

    traces: list[RequestTrace] = field(default_factory=list)
    duration_s: float = 0.0

    def __add__(self, other: Run) -> Run:
        return Run(self.traces + other.traces, self.duration_s + other.duration_s)

    def stats(self, concurrency: int) -> RunStats:
        return RunStats.from_traces(concurrency, self.traces, self.duration_s)


def run_engine(engine: LocalEngine, workload: Workload, concurrency: int, advance: Progress) -> Run:
    params = SamplingParams(max_tokens=workload.output_tokens, temperature=0.0, ignore_eos=True)

    async def one(prompt: Sequence[int]) -> RequestTrace:
        trace = RequestTrace(time.perf_counter())
        async for output in engine.async_engine.generate(list(prompt), params):
            now = time.perf_counter()
            trace.token_times.extend(now for _ in output.token_ids)
        advance(1)
        return trace

    async def client(queue: asyncio.Queue[Sequence[int]], traces: list[RequestTrace]) -> None:
        while not queue.empty():
            traces.append(await one(queue.get_nowait()))

    async def main() -> Run:
        queue: asyncio.Queue[Sequence[int]] = asyncio.Queue()
        for prompt in workload.prompts:
            queue.put_nowait(prompt)
        traces: list[RequestTrace] = []
        start = time.perf_counter()
        await asyncio.gather(*(client(queue, traces) for _ in range(concurrency)))
        return Run(traces, time.perf_counter() - start)

    return asyncio.run(main())


class BaselineServer:
    """llama-cpp-python's ``Llama`` behind one worker thread that serves requests one at a
    time in arrival order (FIFO, like its own server's lock), streaming tokens back."""

    def __init__(
        self, model_path: Path, n_threads: int, n_ctx: int, banned: frozenset[int]
    ) -> None:
        from llama_cpp import Llama  # the baseline is the only other llama.cpp user

        self.llm = Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_batch=512,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
        self.logit_bias = {token: -1e9 for token in banned}  # ignore-EOS, as ours does
        self.inbox: queue.Queue[tuple[Sequence[int], int, queue.Queue[float | None]] | None]
        self.inbox = queue.Queue()
        self.worker = threading.Thread(target=self._serve, daemon=True)
        self.worker.start()

    def _serve(self) -> None:
        while (item := self.inbox.get()) is not None:
            prompt, max_tokens, out = item
            chunks = self.llm.create_completion(
                list(prompt),
                max_tokens=max_tokens,
                temperature=0.0,
                stream=True,
                logit_bias=self.logit_bias,
            )
            for chunk in cast(Iterator[dict[str, Any]], chunks):
                if chunk["choices"][0]["finish_reason"] is None:  # the closing chunk has no token
                    out.put(time.perf_counter())
            out.put(None)

    def stream(self, prompt: Sequence[int], max_tokens: int) -> Iterator[float]:
        """Submit one request; yield the time each of its tokens was produced."""
        out: queue.Queue[float | None] = queue.Queue()
        self.inbox.put((prompt, max_tokens, out))
        while (stamp := out.get()) is not None:
            yield stamp

    def close(self) -> None:
        self.inbox.put(None)
        self.worker.join()
        self.llm.close()


def run_baseline(
    server: BaselineServer, workload: Workload, concurrency: int, advance: Progress
) -> Run:
    pending = list(reversed(workload.prompts))
    traces: list[RequestTrace] = []
    guard = threading.Lock()

    def client() -> None:
        while True:
            with guard:
                if not pending:
                    return
                prompt = pending.pop()
            trace = RequestTrace(time.perf_counter())
            trace.token_times.extend(server.stream(prompt, workload.output_tokens))
            with guard:
                traces.append(trace)
            advance(1)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(traces, time.perf_counter() - start)
