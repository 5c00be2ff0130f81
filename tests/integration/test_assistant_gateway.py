"""The assistant's model calls go through the gateway as the turn's caller: the real default
model in the engine, three demo articles, the Order API as its own process, authentication
on, the server over loopback.

A turn that generates is metered like a chat completion (tokens and cost in its request
record, the key's token limit), and its route's fallback chain serves it when the primary
provider is down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from switchboard.api import create_app
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.service import open_assistant
from switchboard.bench.uvicorn_thread import serve
from switchboard.config import (
    DEFAULT_MODEL,
    AssistantSettings,
    CacheSettings,
    EmbeddingSettings,
    EngineSettings,
    GatewaySettings,
    KnowledgeSettings,
    Price,
    ProviderSettings,
    RouteSettings,
    RouteTarget,
    Settings,
)
from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
from switchboard.engine.local import LocalEngine
from switchboard.gateway.types import Scope
from switchboard.orders.supervisor import order_service
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from tests.integration.fake_upstream_fixture import UpstreamHandle, closed_port_url
from tests.integration.gateway_harness import logged

pytestmark = pytest.mark.integration

CUSTOMER = "C1002"
ARTICLES = ("returns-window.md", "shipping-methods.md", "payment-methods.md")
QUESTION = "How long do I have to return an item?"
MODEL_PATHS = {"generated", "generated+repaired", "quoted"}


class Shop:
    """The model, the articles and the Order API, shared by the tests' apps."""

    def __init__(self, data: Path, engine: LocalEngine, knowledge: KnowledgeBase) -> None:
        self.data = data
        self.engine = engine
        self.knowledge = knowledge
        self.orders_url = ""
        self.orders_token = ""

    def settings(self, name: str, **gateway: Any) -> Settings:
        base = self.data / name
        base.mkdir()
        model_route = gateway.pop("model_route", None)
        return Settings(
            model=DEFAULT_MODEL,
            data_dir=base,
            engine=EngineSettings(max_model_len=1024, max_num_seqs=2),
            knowledge=KnowledgeSettings(
                store=str(self.data / "knowledge.sqlite3"),
                embedding=EmbeddingSettings(n_threads=1),
            ),
            assistant=AssistantSettings(
                db_path=base / "assistant.sqlite3",
                answer_mode="generate",
                model_route=model_route,
                demo="off",
            ),
            gateway=GatewaySettings(db_path=base / "gateway.sqlite3", auth="on", **gateway),
            cache=CacheSettings(enabled=False),  # every turn reaches the model
        )

    @contextmanager
    def serving(
        self, settings: Settings, spans: InMemorySpanExporter | None = None
    ) -> Iterator[tuple[FastAPI, str]]:
        client = OrderClient(self.orders_url, self.orders_token)
        model = LocalChatModel(self.engine)
        assistant = open_assistant(settings, model, self.knowledge, orders=client)
        app = create_app(
            self.engine,
            settings,
            knowledge=self.knowledge,
            assistant=assistant,
            span_exporter=spans,
        )
        with serve(app) as url:
            yield app, url


@pytest.fixture(scope="module")
def shop(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    data = tmp_path_factory.mktemp("assistant-gateway")
    knowledge_settings = KnowledgeSettings(
        store=str(data / "knowledge.sqlite3"), embedding=EmbeddingSettings(n_threads=1)
    )
    knowledge = KnowledgeBase.open(
        knowledge_settings, knowledge_settings.store, Settings().models_dir
    )
    ref = CollectionRef(knowledge_settings.default_tenant, DEMO_COLLECTION)
    files = [(shop_articles_dir(), shop_articles_dir() / name) for name in ARTICLES]
    assert not knowledge.ingestor.ingest_files(ref, files).failures
    engine = LocalEngine(DEFAULT_MODEL, default_model_path, EngineSettings(max_num_seqs=2))
    try:
        orders_settings = Settings(data_dir=data)
        with order_service(orders_settings.orders, orders_settings.orders_db, quiet=True) as orders:
            shop = Shop(data, engine, knowledge)
            shop.orders_url, shop.orders_token = orders.url, orders.token
            yield shop
    finally:
        engine.close()
        knowledge.close()


def chat(app: FastAPI, url: str, token: str, message: str = QUESTION) -> httpx.Response:
    """A turn of the API key ``token`` for the verified customer ``CUSTOMER``."""
    customer = app.state.auth.customer_tokens.mint("acme", CUSTOMER).token
    body = {"message": message}
    headers = {"Authorization": f"Bearer {token}", "x-customer-token": customer}
    return httpx.post(f"{url}/v1/assistant/chat", json=body, headers=headers, timeout=600)


def done_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    for block in response.text.strip().split("\n\n"):
        kind, data = block.split("\n", 1)
        if kind == "event: done":
            done: dict[str, Any] = json.loads(data.removeprefix("data: "))
            return done
    raise AssertionError(f"no done event in {response.text!r}")


def test_a_generated_turn_is_metered_and_priced_in_its_request_record(shop: Shop) -> None:
    prices = {DEFAULT_MODEL: Price(input_per_mtok=1000.0, output_per_mtok=2000.0)}
    settings = shop.settings("priced", prices=prices)
    with shop.serving(settings) as (app, url):
        keys = app.state.auth.keys
        token = keys.create(tenant="acme", scopes=[Scope.ASSISTANT], budget_usd=100.0).token
        done = done_of(chat(app, url, token))
        assert done["answer_path"] in MODEL_PATHS
        (row,) = [r for r in logged(app, 1) if r.record.endpoint == "assistant"]
        admin = keys.create(tenant="acme", scopes=[Scope.ADMIN]).token
        listed = httpx.get(
            f"{url}/v1/admin/requests",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
    record = row.record
    assert (record.tenant, record.status, record.provider) == ("acme", 200, "local")
    assert record.prompt_tokens == done["usage"]["prompt_tokens"] > 0
    assert record.completion_tokens == done["usage"]["completion_tokens"] > 0
    expected = (record.prompt_tokens * 1000.0 + record.completion_tokens * 2000.0) / 1e6
    assert record.cost_usd == pytest.approx(expected)
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()["data"]  # one record per turn, the model call metered into it
    assert entry["endpoint"] == "assistant"
    assert entry["turn"]["intent"] == done["intent"]
    assert entry["turn"]["answer_path"] == done["answer_path"]
    assert entry["turn"]["cited_article_ids"] == done["cited_article_ids"]
    assert entry["turn"]["tools"] == []
    assert entry["prompt_tokens"] == record.prompt_tokens
    assert entry["cost_usd"] == pytest.approx(expected)


def test_a_turn_is_one_server_span_with_a_child_per_stage(shop: Shop) -> None:
    spans = InMemorySpanExporter()
    with shop.serving(shop.settings("traced"), spans) as (app, url):
        token = app.state.auth.keys.create(tenant="acme", scopes=[Scope.ASSISTANT]).token
        done = done_of(chat(app, url, token))
        logged(app, 1)
    (turn,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert turn.name == f"assistant {DEFAULT_MODEL}"
    assert turn.attributes is not None
    assert turn.attributes["gen_ai.usage.input_tokens"] == done["usage"]["prompt_tokens"]
    assert turn.context is not None
    children = [s for s in spans.get_finished_spans() if s.parent is not None]
    assert {s.parent.span_id for s in children if s.parent} == {turn.context.span_id}
    names = [s.name for s in children if s.kind is SpanKind.INTERNAL]
    for stage in ("guard_input", "route", "retrieve", "prompt", "generate"):
        assert stage in names, names
    generate = next(s for s in children if s.name == "generate")
    assert turn.start_time is not None
    assert generate.start_time is not None
    assert turn.end_time is not None
    assert generate.end_time is not None
    assert turn.start_time <= generate.start_time <= generate.end_time <= turn.end_time
    (attempt,) = [s for s in children if s.kind is SpanKind.CLIENT]  # the provider tried
    assert attempt.attributes is not None
    assert attempt.attributes["gen_ai.provider.name"] == "local"


def test_a_key_over_its_token_limit_gets_a_429_on_its_next_turn(shop: Shop) -> None:
    settings = shop.settings("limited")
    with shop.serving(settings) as (app, url):
        keys = app.state.auth.keys
        probe = keys.create(tenant="acme", scopes=[Scope.ASSISTANT]).token
        prompt = done_of(chat(app, url, probe))["usage"]["prompt_tokens"]
        # A turn reserves its prompt and max_tokens for the answer: a limit just above that
        # admits one turn, and refills what the turn used only after about 40 seconds.
        tpm = prompt + settings.assistant.max_tokens + 20
        token = keys.create(tenant="acme", scopes=[Scope.ASSISTANT], tpm=tpm).token
        assert done_of(chat(app, url, token))["answer_path"] in MODEL_PATHS
        refused = chat(app, url, token)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "retry-after" in refused.headers


def test_the_turn_is_answered_by_the_fallback_when_the_primary_is_down(
    shop: Shop, upstream: UpstreamHandle
) -> None:
    providers = [
        ProviderSettings(name="primary", base_url=closed_port_url(), max_retries=0),
        ProviderSettings(name="backup", base_url=upstream.url, max_retries=0),
    ]
    targets = [
        RouteTarget(provider="primary", model="m-primary"),
        RouteTarget(provider="backup", model="m-backup"),
    ]
    settings = shop.settings(
        "fallback",
        providers=providers,
        routes={"support": RouteSettings(targets=targets)},
        model_route="support",
    )
    with shop.serving(settings) as (app, url):
        token = app.state.auth.keys.create(tenant="acme", scopes=[Scope.ASSISTANT]).token
        done = done_of(chat(app, url, token))
        (row,) = [r for r in logged(app, 1) if r.record.endpoint == "assistant"]
    assert done["answer_path"] in MODEL_PATHS
    assert upstream.stats()["requests"] == 1
    record = row.record
    assert (record.provider, record.served_model) == ("backup", "m-backup")
    assert [a.provider for a in record.attempts] == ["primary", "backup"]
    assert record.attempts[0].error
