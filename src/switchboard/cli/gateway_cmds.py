"""``switchboard gateway``: the gateway alone, routing to remote providers (no local model)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from switchboard.cli.common import app, console, load_settings, one_line_errors
from switchboard.cli.ports import check_port_free, with_bind


@app.command()
@one_line_errors
def gateway(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Serve only the gateway: the routes of [gateway] in the settings, API keys, rate
    limits, budgets, the request log and /metrics. Run several behind a load balancer with
    gateway.limits.backend = "redis" to share limits and budgets."""
    import uvicorn

    from switchboard.api import create_app

    settings = with_bind(load_settings(), host, port)  # auth "auto" reads the host
    server = settings.server
    check_port_free(server.host, server.port, "switchboard gateway")
    if not settings.gateway.routes:
        raise ValueError("no [gateway.routes] configured: nothing to route to")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    embedder = None
    if settings.gateway.cache and settings.cache.enabled and settings.cache.semantic:
        from switchboard.rag.knowledge import open_embedder

        embedder = open_embedder(settings.knowledge.embedding, settings.models_dir)
    app_ = create_app(None, settings, embedder=embedder)
    console.print(
        f"gateway: http://{server.host}:{server.port}/v1 "
        f"(models {', '.join(sorted(settings.gateway.routes))})",
        highlight=False,
    )
    uvicorn.run(app_, host=server.host, port=server.port, log_level="warning")
