"""The assistant assembled from settings: router, tools, knowledge, model, conversations.

Built once at the edge (the server, the evaluation) and closed by its owner.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.orchestrator import Hooks, Orchestrator
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.turn import KnowledgeSearcher
from switchboard.assistant.types import ChatModel
from switchboard.config import Settings
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef


@dataclass
class Assistant:
    orchestrator: Orchestrator
    orders: OrderClient
    conversations: ConversationStore

    async def aclose(self) -> None:
        """Close the Order API client, the conversations and a remote model's client (the
        local engine belongs to the server)."""
        await self.orders.aclose()
        await asyncio.to_thread(self.conversations.close)
        close = getattr(self.orchestrator.model, "aclose", None)
        if close is not None:
            await close()


def open_assistant(
    settings: Settings,
    model: ChatModel,
    knowledge: KnowledgeBase,
    *,
    orders: OrderClient | None = None,
    router: SemanticRouter | None = None,
    hooks: Hooks | None = None,
) -> Assistant:
    """The assistant over ``knowledge``'s shop collection in the default tenant."""
    config = settings.assistant
    collection = CollectionRef(settings.knowledge.default_tenant, config.collection)
    orders = orders or OrderClient.from_settings(settings.orders)
    conversations = ConversationStore(settings.assistant_db)
    orchestrator = Orchestrator(
        config,
        router=router or SemanticRouter(knowledge.embedder, threshold=config.router_threshold),
        model=model,
        searcher=KnowledgeSearcher(knowledge, collection, config.top_k),
        orders=orders,
        conversations=conversations,
        hooks=hooks,
    )
    return Assistant(orchestrator, orders, conversations)
