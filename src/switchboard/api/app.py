"""The FastAPI application: the gateway in front of the local engine and any remote
providers, plus the knowledge base and the support assistant when given.

The caller owns (and closes) the engine, the knowledge base is the caller's too; the app
closes what it opens (the gateway, the key store) and the assistant it is handed.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry.sdk.trace.export import SpanExporter
from starlette.concurrency import run_in_threadpool

from switchboard import __version__
from switchboard.api import (
    admin_routes,
    assistant_routes,
    customer_token_routes,
    gateway_routes,
    health,
    ingest_routes,
    knowledge_routes,
    observability_routes,
    openai_routes,
)
from switchboard.api.auth import close_auth, open_auth, require
from switchboard.api.auth_first import AuthenticateFirst
from switchboard.api.body_limit import BodySizeLimit
from switchboard.api.customer_auth import demo_mode
from switchboard.api.deps import ServedEngine, ServedModel
from switchboard.api.docs import install_docs
from switchboard.api.errors import install_error_handlers
from switchboard.api.gateway_model import GatewayChatModel
from switchboard.api.openapi import DocumentedAPI, error_responses
from switchboard.api.request_limit import count_request
from switchboard.api.web_routes import install_web
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.service import Assistants
from switchboard.config import Settings
from switchboard.gateway.factory import open_gateway
from switchboard.gateway.local_provider import LocalProvider
from switchboard.gateway.types import Scope
from switchboard.rag.embedder import Embedder
from switchboard.rag.jobs import IngestJobs, JobStore
from switchboard.rag.knowledge import KnowledgeBase

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine: ServedEngine | None = app.state.engine
    if engine is not None:
        engine.start()
    for problem in health.problems(app):  # started degraded: say so before the first request
        log.error("%s", problem)
    # Everything loaded so far lives as long as the server: keep it out of the cyclic
    # collector's generations, so collections on the request path stay short.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        assistants: Assistants | None = getattr(app.state, "assistants", None)
        jobs: IngestJobs | None = getattr(app.state, "jobs", None)
        try:
            if jobs is not None:  # running uploads stop at their next checkpoint
                await run_in_threadpool(jobs.close)
            if assistants is not None:
                await assistants.aclose()
        finally:
            await app.state.gateway.aclose()
            close_auth(app.state.auth)


def _include(app: FastAPI, router: APIRouter, scope: Scope) -> None:
    """Mount ``router`` behind authentication with ``scope`` and the key's request limit."""
    app.include_router(
        router,
        dependencies=[Depends(require(scope)), Depends(count_request)],
        responses=error_responses(429),
    )


def create_app(
    engine: ServedEngine | None,
    settings: Settings,
    aliases: Iterable[str] = (),
    knowledge: KnowledgeBase | None = None,
    assistants: Assistants | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    embedder: Embedder | None = None,
    order_api: health.OrderApiProbe | None = None,
) -> FastAPI:
    """The gateway (``/v1/chat/completions``, ``/v1/models``, admin, ``/metrics``) routing
    to ``engine`` under its name, ``settings.model`` and ``aliases`` and to the providers of
    ``settings.gateway``; without ``engine`` only the configured routes. With ``knowledge``
    the embeddings, search and collection endpoints and upload jobs; with ``assistants``
    their API (and ``model: "assistant:<name>"`` in chat completions) and the chat widget
    at ``/``. The response cache is semantic with
    ``knowledge``'s embedder, or ``embedder`` (a gateway without a knowledge base).

    Authentication follows ``settings.gateway.auth`` and the address in
    ``settings.server.host`` (on by default beyond loopback). ``order_api``: the supervised
    Order API beside the server, for ``/health``."""
    # FastAPI's own OpenTelemetry instrumentation stays off: the gateway traces each request
    # itself (GenAI attributes), and the built-in one reads the environment per request.
    telemetry_off = TelemetryConfig(tracing=False, metrics=False, logs=False)
    app = DocumentedAPI(
        title="Switchboard",
        version=__version__,
        lifespan=_lifespan,
        telemetry=telemetry_off,
        described=[gateway_routes.chat_description],
    )
    app.state.engine = engine
    install_error_handlers(app)
    install_docs(app)
    local_names: set[str] = set()
    local = None
    if engine is not None:
        local_names = {engine.name, settings.model, *aliases}
        app.state.served_model = ServedModel(
            names=frozenset(local_names),
            created=int(time.time()),
            retry_after_s=settings.server.retry_after_s,
        )
        local = LocalProvider(engine)
        _include(app, openai_routes.router, Scope.CHAT)
    app.state.gateway = open_gateway(
        settings,
        local,
        [engine.name, *sorted(local_names - {engine.name})] if engine is not None else [],
        local_counter=local,
        engine_stats=(lambda: engine.async_engine.stats) if engine is not None else None,
        span_exporter=span_exporter,
        embedder=knowledge.embedder if knowledge is not None else embedder,
    )
    app.state.metrics = app.state.gateway.metrics
    app.state.request_log = app.state.gateway.request_log
    app.state.log_store = app.state.gateway.log_store
    app.state.auth = open_auth(settings, settings.server.host)
    _include(app, gateway_routes.router, Scope.CHAT)
    app.router.routes.append(gateway_routes.chat_route)  # authenticates itself (hot path)
    app.include_router(admin_routes.router)  # each route requires the admin scope
    app.include_router(customer_token_routes.router)  # so do these
    app.include_router(
        observability_routes.admin_router, dependencies=[Depends(require(Scope.ADMIN))]
    )
    app.include_router(observability_routes.metrics_router)
    app.include_router(health.router)
    if knowledge is not None:
        app.state.knowledge = knowledge
        app.state.jobs = IngestJobs(
            JobStore(settings.jobs_db),
            knowledge.ingestor,
            knowledge.settings.jobs,
            max_file_bytes=knowledge.settings.max_file_bytes,
        )
        _include(app, knowledge_routes.embeddings_router, Scope.EMBEDDINGS)
        _include(app, knowledge_routes.router, Scope.SEARCH)
        _include(app, ingest_routes.router, Scope.SEARCH)
    if assistants is not None:
        for assistant in assistants.by_name.values():
            model = assistant.orchestrator.model
            route = assistant.orchestrator.settings.model_route
            if route is None and engine is not None and isinstance(model, LocalChatModel):
                route = engine.name  # the engine this app serves: its provider is "local"
            if route is not None:  # its model calls are metered like chat requests
                assistant.orchestrator.model = GatewayChatModel(app.state.gateway, route, model)
        app.state.assistants = assistants
        app.state.max_message_chars = settings.assistant.max_message_chars
        _include(app, assistant_routes.router, Scope.ASSISTANT)
        _include(app, assistant_routes.list_router, Scope.ASSISTANT)
        if demo_mode(settings.assistant.demo, app.state.auth.enabled):
            _include(app, assistant_routes.demo_router, Scope.ASSISTANT)
        install_web(app)
    app.state.order_api = order_api
    gateway = app.state.gateway
    app.state.store_files = health.store_files(
        knowledge.store if knowledge is not None else None,
        assistants.conversations if assistants is not None else None,
        assistants.cache.store if assistants is not None and assistants.cache else None,
        app.state.auth.keys,
        gateway.log_store,
        gateway.request_log,
        gateway.cache.store if gateway.cache is not None else None,
    )
    caches = [gateway.cache, assistants.cache if assistants is not None else None]
    app.state.services = health.services(
        gateway.limiter,
        gateway.ledger,
        *(c for c in caches if c is not None and not health.store_files(c.store)),
    )
    # Before any body is read: who is calling (the outermost, added last), then the size.
    uploads = {"/v1/collections/": knowledge.settings.max_upload_bytes} if knowledge else {}
    routes = {**uploads, **settings.server.body_limits}
    app.add_middleware(BodySizeLimit, max_bytes=settings.server.max_body_bytes, routes=routes)
    app.add_middleware(AuthenticateFirst)
    return app
