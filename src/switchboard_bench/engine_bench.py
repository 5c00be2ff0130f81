"""``switchboard bench engine``: our continuous-batching engine vs. llama-cpp-python's
``Llama`` one request at a time, same GGUF, same threads, same workload, one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from switchboard.config import EngineSettings
from switchboard.engine.local import LocalEngine
from switchboard_bench.prefix_bench import run_prefix_bench
from switchboard_bench.serving import BaselineServer, Run, peak_rss, run_baseline, run_engine
from switchboard_bench.stats import RunStats
from switchboard_bench.workload import Workload, make_workload

CONCURRENCIES = (1, 4, 16)


@dataclass(frozen=True)
class EngineBenchConfig:
    prompt_tokens: int = 256
    output_tokens: int = 128
    requests_per_client: int = 2  # N = max(concurrency, 2) x this (quick: 1)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def _split(workload: Workload, concurrency: int) -> list[Workload]:
    """At c=1, one workload per request (so the engines alternate request by request);
    otherwise the workload as it is."""
    if concurrency > 1:
        return [workload]
    return [Workload((p,), workload.output_tokens) for p in workload.prompts]


def run_engine_bench(
    name: str, model_path: Path, settings: EngineSettings, config: EngineBenchConfig
) -> dict[str, Any]:
    """Runs alternate between the two engines so that drift in the machine's speed hits
    both alike: one concurrency at a time, and at c=1 one request at a time. Peak RSS is
    sampled during our c=16 run, before the baseline model is loaded."""
    ours: dict[int, RunStats] = {}
    base: dict[int, RunStats] = {}
    top = max(CONCURRENCIES)
    engine = LocalEngine(name, model_path, settings)
    engine.start()
    sizes = {c: max(c, 2) * config.requests_per_client for c in CONCURRENCIES}
    workloads = {
        c: make_workload(engine.encode_prompt, n, config.prompt_tokens, config.output_tokens, c)
        for c, n in sizes.items()
    }
    warmup = make_workload(engine.encode_prompt, 1, 32, 8, seed=99)
    with Progress() as progress:

        def advance_for(label: str, c: int) -> Callable[[int], None]:
            task = progress.add_task(f"{label} c={c}", total=sizes[c])
            return lambda n: progress.advance(task, n)

        run_engine(engine, warmup, 1, lambda n: None)
        with peak_rss() as peak:
            ours[top] = run_engine(engine, workloads[top], top, advance_for("ours", top)).stats(top)
        n_ctx = config.prompt_tokens + config.output_tokens + 64
        eog = engine.model.eog_token_ids
        baseline = BaselineServer(model_path, settings.n_threads, n_ctx, banned=eog)
        try:
            run_baseline(baseline, warmup, 1, lambda n: None)
            base[top] = run_baseline(
                baseline, workloads[top], top, advance_for("baseline", top)
            ).stats(top)
            for c in CONCURRENCIES[:-1]:
                ours_run, base_run = Run(), Run()
                ours_advance, base_advance = advance_for("ours", c), advance_for("baseline", c)
                for part in _split(workloads[c], c):
                    ours_run += run_engine(engine, part, c, ours_advance)
                    base_run += run_baseline(baseline, part, c, base_advance)
                ours[c], base[c] = ours_run.stats(c), base_run.stats(c)
        finally:
            baseline.close()
            engine.close()

    return {
        "model": name,
        "gguf": str(model_path),
        "n_threads": settings.n_threads,
        "engine_settings": settings.model_dump(),
        "workload": {
            "prompt_tokens": config.prompt_tokens,
            "output_tokens": config.output_tokens,
            "requests": sizes,
            "sampling": "greedy, ignore_eos",
        },
        "switchboard": [ours[c].to_dict() for c in CONCURRENCIES],
        "baseline_llama_cpp_python": [base[c].to_dict() for c in CONCURRENCIES],
        f"speedup_c{top}": _ratio(ours[top].output_tok_s, base[top].output_tok_s),
        f"ttft_p99_ratio_c{top}": _ratio(base[top].ttft_p99_ms, ours[top].ttft_p99_ms),
        "single_stream_tok_s_ratio_c1": _ratio(ours[1].output_tok_s, base[1].output_tok_s),
        "single_stream_decode_ratio_c1": _ratio(
            ours[1].decode_tok_s_per_stream, base[1].decode_tok_s_per_stream
        ),
        f"peak_rss_mib_c{top}": round(peak[0] / 2**20, 1),
        "prefix_cache": run_prefix_bench(name, model_path, settings),
    }
