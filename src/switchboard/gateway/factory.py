"""Builds the gateway from settings: providers, routes, limits, budgets, log, metrics, traces."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.sdk.trace.export import SpanExporter

from switchboard.cache.service import open_cache
from switchboard.config import ProviderSettings, RouteSettings, RouteTarget, Settings
from switchboard.engine.async_engine import EngineStats
from switchboard.gateway.budget import open_budget_ledger
from switchboard.gateway.limiter import open_limiter
from switchboard.gateway.openai_provider import OpenAIProvider
from switchboard.gateway.pricing import PriceTable
from switchboard.gateway.routing import ModelRouter
from switchboard.gateway.service import Gateway
from switchboard.gateway.types import PromptCounter, Provider
from switchboard.guard.factory import open_guard
from switchboard.observability.log_store import LogStore
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.request_log import RequestLog
from switchboard.observability.tracing import Tracing
from switchboard.order_ids import OrderIdFormat
from switchboard.rag.embedder import Embedder

LOCAL = "local"


def _routes(
    settings: Settings, local_names: Iterable[str], local_window: int | None
) -> dict[str, RouteSettings]:
    """Configured aliases, plus each name of the local model routed to the local engine
    (no TTFT deadline: there is no other target to move to). Every target of the local
    engine knows its context window."""
    routes: dict[str, RouteSettings] = {}
    for name in local_names:
        target = RouteTarget(provider=LOCAL, model=name)
        routes[name] = RouteSettings(targets=[target], ttft_deadline_s=None)
    routes.update(settings.gateway.routes)
    if local_window is None:
        return routes
    return {
        alias: route.model_copy(
            update={"targets": [_with_window(t, local_window) for t in route.targets]}
        )
        for alias, route in routes.items()
    }


def _with_window(target: RouteTarget, window: int) -> RouteTarget:
    if target.provider != LOCAL:
        return target
    return target.model_copy(update={"max_model_len": window})


def _provider_settings(settings: Settings) -> dict[str, ProviderSettings]:
    configured = {p.name: p for p in settings.gateway.providers}
    configured.setdefault(LOCAL, ProviderSettings(name=LOCAL, kind="local", max_retries=0))
    return configured


def open_gateway(
    settings: Settings,
    local: Provider | None,
    local_names: Iterable[str] = (),
    *,
    local_counter: PromptCounter | None = None,
    engine_stats: Callable[[], EngineStats] | None = None,
    span_exporter: SpanExporter | None = None,
    embedder: Embedder | None = None,
) -> Gateway:
    """A started gateway; ``local`` serves ``local_names`` (None: a gateway-only process)
    and ``local_counter`` counts its prompts (its window bounds the local targets).
    ``embedder`` makes the response cache semantic (without it: exact keys only)."""
    provider_settings = _provider_settings(settings)
    providers: dict[str, Provider] = {
        p.name: OpenAIProvider(p) for p in provider_settings.values() if p.kind == "openai"
    }
    if local is not None:
        providers[LOCAL] = local
    window = local_counter.max_model_len if local_counter is not None else None
    routes = _routes(settings, local_names if local is not None else (), window)
    missing = {t.provider for r in routes.values() for t in r.targets} - providers.keys()
    if missing:
        raise ValueError(f"routes name providers that are not running: {sorted(missing)}")
    router = ModelRouter(routes, providers, provider_settings)
    log_store = LogStore.open(settings.gateway_db)
    order_ids = OrderIdFormat.from_settings(settings.orders)
    request_log = None
    if settings.gateway.log.enabled:
        request_log = RequestLog(settings.gateway_db, settings.gateway.log)
        request_log.start()
    return Gateway(
        settings.gateway,
        router=router,
        limiter=open_limiter(settings.gateway.limits),
        ledger=open_budget_ledger(settings.gateway, log_store),
        prices=PriceTable(settings.gateway.prices),
        request_log=request_log,
        log_store=log_store,
        metrics=GatewayMetrics(engine_stats=engine_stats, request_log=request_log),
        tracing=Tracing(settings.gateway.tracing, exporter=span_exporter),
        guard=(
            open_guard(settings.guard, allowed=(order_ids.pattern,))
            if settings.gateway.guard
            else None
        ),
        cache=(
            open_cache(settings.cache, settings.cache_db, embedder, order_ids)
            if settings.gateway.cache and settings.cache.enabled
            else None
        ),
        counters={LOCAL: local_counter} if local_counter is not None else None,
    )
