"""Commands of the response cache: cache clear, bench cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchboard.cli.common import (
    app,
    bench_app,
    command_group,
    console,
    load_settings,
    model_path,
    one_line_errors,
    write_json,
)

cache_app = command_group("The response cache.")
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
@one_line_errors
def clear(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's entries.")] = None,
) -> None:
    """Drop cached answers (all, or one tenant's). Editing the knowledge base needs no
    clearing: answers are kept per version of it."""
    from switchboard.cache.service import open_cache
    from switchboard.order_ids import OrderIdFormat

    settings = load_settings()
    order_ids = OrderIdFormat.from_settings(settings.orders)
    cache = open_cache(settings.cache, settings.cache_db, None, order_ids)
    try:
        dropped = cache.invalidate(tenant)
    finally:
        cache.close()
    console.print(f"dropped {dropped} cached answers", highlight=False)


@bench_app.command("cache")
@one_line_errors
def bench_cache(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    requests: Annotated[int, typer.Option(min=1, help="Hits timed per kind.")] = 100,
) -> None:
    """Hit and false-hit rates of the semantic cache on labelled question pairs, and the
    end-to-end latency of a hit through the gateway and the assistant."""
    from switchboard_bench.cache_bench import run

    settings = load_settings()
    result = run(settings, model_path(settings, settings.model), requests=requests)
    e2e = result["end_to_end"]
    console.print(
        f"gateway exact hit p50 {e2e['gateway']['exact_hit']['p50_ms']} ms, semantic hit "
        f"p50 {e2e['gateway']['semantic_hit']['p50_ms']} ms; assistant hit p50 "
        f"{e2e['assistant']['exact_hit']['p50_ms']} ms",
        highlight=False,
    )
    write_json(result, json_path)
