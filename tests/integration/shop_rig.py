"""The demo shop for the assistant's integration tests: the real default model in the
engine, a few of the demo articles ingested with the bundled embedding model, and the
Order API as its own process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.service import Assistants, open_assistants
from switchboard.assistant.types import TurnEvent
from switchboard.config import (
    DEFAULT_MODEL,
    AssistantSettings,
    CacheSettings,
    EmbeddingSettings,
    EngineSettings,
    KnowledgeSettings,
    Settings,
)
from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
from switchboard.engine.local import LocalEngine
from switchboard.orders.supervisor import order_service
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef


def shop_settings(data: Path, **fields: Any) -> Settings:
    """A small engine, the knowledge base and conversations under ``data``, no cache (every
    question reaches the pipeline); ``assistant`` and other ``fields`` as given."""
    assistant = fields.pop("assistant", AssistantSettings())
    return Settings(
        model=DEFAULT_MODEL,
        data_dir=data,
        engine=EngineSettings(max_model_len=1024, max_num_seqs=2),
        knowledge=KnowledgeSettings(
            store=str(data / "knowledge.sqlite3"), embedding=EmbeddingSettings(n_threads=1)
        ),
        assistant=assistant.model_copy(update={"db_path": data / "assistant.sqlite3"}),
        cache=CacheSettings(enabled=False),
        **fields,
    )


@dataclass(frozen=True)
class Shop:
    engine: LocalEngine
    knowledge: KnowledgeBase
    orders_url: str
    orders_token: str

    def order_client(self) -> OrderClient:
        """A client of the Order API (an assistant closes the one it is given)."""
        return OrderClient(self.orders_url, self.orders_token)


@contextmanager
def demo_shop(settings: Settings, model_path: Path, articles: Sequence[str]) -> Iterator[Shop]:
    knowledge = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, Settings().models_dir
    )
    try:
        ref = CollectionRef(settings.knowledge.default_tenant, DEMO_COLLECTION)
        files = [(shop_articles_dir(), shop_articles_dir() / name) for name in articles]
        assert not knowledge.ingestor.ingest_files(ref, files).failures
        engine = LocalEngine(settings.model, model_path, settings.engine)
        try:
            with order_service(settings.orders, settings.orders_db, quiet=True) as orders:
                yield Shop(engine, knowledge, orders.url, orders.token)
        finally:
            engine.close()
    finally:
        knowledge.close()


class ServedShop:
    """The shop assistant of ``open_assistants`` for one customer, and the one event loop
    its Order API clients live on."""

    def __init__(self, assistants: Assistants, customer: str) -> None:
        self.assistants = assistants
        self.assistant = assistants.get("shop")
        self.customer = customer
        self.loop = asyncio.new_event_loop()

    def turn(self, message: str, session: str | None = None) -> list[TurnEvent]:
        async def drain() -> list[TurnEvent]:
            request = TurnRequest(self.customer, message, session)
            return [event async for event in self.assistant.orchestrator.turn(request)]

        return self.loop.run_until_complete(drain())

    def close(self) -> None:
        self.loop.run_until_complete(self.assistants.aclose())
        self.loop.close()


@contextmanager
def served_shop(
    settings: Settings, model_path: Path, articles: Sequence[str], customer: str
) -> Iterator[ServedShop]:
    """The shop assistant over ``demo_shop``'s parts, served for ``customer``."""
    with demo_shop(settings, model_path, articles) as shop:
        model = LocalChatModel(shop.engine)
        assistants = open_assistants(settings, model, shop.knowledge, orders=shop.order_client())
        served = ServedShop(assistants, customer)
        try:
            yield served
        finally:
            served.close()
