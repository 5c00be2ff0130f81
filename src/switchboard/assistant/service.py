"""The assistant assembled from settings: router, tools, knowledge, model, conversations.

Built once at the edge (the server, the evaluation) and closed by its owner.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import NamedTuple

from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.evidence import EvidenceSelector, VectorCache
from switchboard.assistant.grounding_stage import open_grounding
from switchboard.assistant.orchestrator import Orchestrator
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.quoting import QUOTE_WEIGHTS, Quoter
from switchboard.assistant.replies import GROUNDED_SYSTEM, SMALL_TALK_SYSTEM, TOOLS_SYSTEM
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.turn import KnowledgeSearcher, TurnState
from switchboard.assistant.turn_cache import TurnKeys
from switchboard.assistant.types import ChatModel
from switchboard.cache.service import open_cache
from switchboard.config import AssistantSettings, Settings
from switchboard.demo import option_words_path
from switchboard.guard.factory import open_guard
from switchboard.order_ids import OrderIdFormat
from switchboard.rag.embedder import Embedder
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from switchboard.stages.cache import CacheStage
from switchboard.stages.guard import GuardStage
from switchboard.stages.stage import Pipeline, Stage


@dataclass
class Assistant:
    orchestrator: Orchestrator
    orders: OrderClient
    conversations: ConversationStore
    cache: CacheStage[TurnState] | None = None

    async def aclose(self) -> None:
        """Close the Order API client, the conversations, the response cache and a remote
        model's client (the local engine belongs to the server)."""
        await self.orders.aclose()
        await asyncio.to_thread(self.conversations.close)
        if self.cache is not None:
            await self.cache.drain()
            await asyncio.to_thread(self.cache.cache.close)
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
    stages: Pipeline[TurnState] | None = None,
) -> Assistant:
    """The assistant over ``knowledge``'s shop collection in the default tenant, with the
    guardrails, the response cache and the grounding check of ``settings`` unless
    ``stages`` are given."""
    config = settings.assistant
    collection = CollectionRef(settings.knowledge.default_tenant, config.collection)
    orders = orders or OrderClient.from_settings(settings.orders)
    conversations = ConversationStore(
        settings.assistant_db, default_tenant=settings.knowledge.default_tenant
    )
    order_ids = OrderIdFormat.from_settings(settings.orders)
    cache = None
    if stages is None:
        cache = _cache_stage(settings, model, knowledge, collection, order_ids)
        stages = default_stages(settings, cache, order_ids)
    searcher = KnowledgeSearcher(knowledge, collection, config.top_k)
    evidence = evidence_stages(config, knowledge.embedder, searcher)
    orchestrator = Orchestrator(
        config,
        router=router
        or SemanticRouter(
            knowledge.embedder, order_ids=order_ids, threshold=config.router_threshold
        ),
        model=model,
        searcher=searcher,
        orders=orders,
        conversations=conversations,
        stages=stages,
        evidence=evidence.evidence,
        answerability=evidence.answerability,
        quoter=evidence.quoter,
    )
    return Assistant(orchestrator, orders, conversations, cache)


class EvidenceStages(NamedTuple):
    evidence: EvidenceSelector | None
    answerability: AnswerabilityCheck | None
    quoter: Quoter | None


def evidence_stages(
    config: AssistantSettings, embedder: Embedder, searcher: KnowledgeSearcher
) -> EvidenceStages:
    """The sentence-level evidence, the answerability check and quoted answers (over
    ``searcher``'s chunk windows), each unless turned off (``evidence_spans``,
    ``answerable_key_terms`` 0, ``answer_mode`` generate); they share one vector cache."""
    vectors = VectorCache(embedder)
    spans, key_terms = config.evidence_spans, config.answerable_key_terms
    quoting = config.answer_mode == "quote"
    width = config.quote_window
    return EvidenceStages(
        EvidenceSelector(vectors, spans=spans) if spans else None,
        AnswerabilityCheck(
            vectors,
            key_terms=key_terms,
            term_floor=config.answerable_term_floor,
            trusted_relevance=config.answerable_trusted_relevance,
        )
        if key_terms
        else None,
        Quoter(
            EvidenceSelector(vectors, spans=config.quote_sentences, weights=QUOTE_WEIGHTS),
            functools.partial(searcher.window, width=width) if width else None,
        )
        if quoting
        else None,
    )


SYSTEM_PROMPTS = (GROUNDED_SYSTEM, TOOLS_SYSTEM, SMALL_TALK_SYSTEM)


def default_stages(
    settings: Settings, cache: CacheStage[TurnState] | None, order_ids: OrderIdFormat
) -> Pipeline[TurnState]:
    """The guard, then the cache (it sees the redacted message), then the grounding check:
    on the way out the check sees the model's text first and the guard last (it restores
    the customer's data the check never sees). The shop's ``order_ids`` are never PII."""
    guard = open_guard(settings.guard, SYSTEM_PROMPTS, (order_ids.pattern,))
    grounding = open_grounding(settings.assistant.grounding, option_words_path())
    stages: list[Stage[TurnState] | None] = [
        GuardStage(guard) if guard is not None else None,
        cache,
        grounding,
    ]
    return Pipeline([s for s in stages if s is not None])


def _cache_stage(
    settings: Settings,
    model: ChatModel,
    knowledge: KnowledgeBase,
    collection: CollectionRef,
    order_ids: OrderIdFormat,
) -> CacheStage[TurnState] | None:
    if not settings.cache.enabled:
        return None
    keys = TurnKeys(
        tenant=collection.tenant,
        model=model.name,
        system_prompts=SYSTEM_PROMPTS,
        kb_version=lambda: knowledge.version(collection),
        order_ids=order_ids,
        temperature=settings.assistant.temperature,
        max_tokens=settings.assistant.max_tokens,
        cache_sampled=settings.cache.cache_sampled,
    )
    cache = open_cache(settings.cache, settings.cache_db, knowledge.embedder, order_ids)
    return CacheStage(cache, keys, serve_on_failure=settings.cache.serve_on_failure)
