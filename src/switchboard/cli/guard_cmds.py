"""``switchboard guard scan``: the guardrails on texts from stdin, one per line."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from switchboard.cli.common import (
    app,
    bench_app,
    command_group,
    console,
    load_settings,
    one_line_errors,
    write_json,
)
from switchboard.guard.types import Direction

guard_app = command_group("Guardrails: PII, prompt injection, toxicity.")
app.add_typer(guard_app, name="guard")


@guard_app.command("scan")
@one_line_errors
def scan(
    direction: Annotated[
        Direction, typer.Option(help="input: a customer's message; output: a model's answer.")
    ] = Direction.INPUT,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Check each line of stdin with the server's guard and policy ([guard] settings)
    and print what was found, the action, and the text that would be passed on (redacted;
    the safe message when blocked). Output texts are also checked for leakage of the
    assistant's system prompts. A stream is checked by the same detectors and policy, on
    the words it releases."""
    from switchboard.assistant.service import served_definitions
    from switchboard.guard.factory import open_guard
    from switchboard.order_ids import OrderIdFormat

    settings = load_settings()
    order_ids = OrderIdFormat.from_settings(settings.orders)
    prompts = [p for d in served_definitions(settings).values() for p in d.system_prompts]
    guard = open_guard(
        settings.guard.model_copy(update={"enabled": True}), prompts, (order_ids.pattern,)
    )
    assert guard is not None
    lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    for line in lines:
        text = line.rstrip("\r\n")
        verdict = guard.scan(text, direction)
        if as_json:
            sys.stdout.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
            continue
        found = ", ".join(
            f"{f.category}:{f.type} [{f.start}:{f.end}] {f.score:.2f}" for f in verdict.findings
        )
        tail = f"\t({escape(found)})" if found else ""
        console.print(
            f"[bold]{verdict.action.value}[/bold]\t{escape(verdict.text)}{tail}", highlight=False
        )


@bench_app.command("guard")
@one_line_errors
def bench_guard(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    tokens_per_s: Annotated[
        float, typer.Option(help="Pace of the simulated answer stream.")
    ] = 86.0,
) -> None:
    """Precision and recall of each guardrail on its labelled set, and the latency the
    guardrails add per turn (input) and to the answer's first token (output)."""
    from switchboard.assistant.definition import demo_definition
    from switchboard_bench.guard_bench import run
    from switchboard_bench.guard_splits import splits_tables

    settings = load_settings()
    prompts = demo_definition("shop").system_prompts  # its labelled sets are the shop's
    result = run(settings.guard, prompts, tokens_per_s=tokens_per_s, progress=True)
    for table in splits_tables(result["splits"]):
        console.print(table)
    latency = result["latency"]
    console.print(
        f"input guard per turn p50 {latency['input']['turn']['p50_ms']:.1f} ms; "
        f"output guard added TTFT p50 {latency['output']['added_ttft']['p50_ms']:.1f} ms",
        highlight=False,
    )
    write_json(result, json_path)
