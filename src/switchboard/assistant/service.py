"""The assistant assembled from settings: router, tools, knowledge, model, conversations.

Built once at the edge (the server, the evaluation) and closed by its owner.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import NamedTuple

from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.cache_hook import CacheHook
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.evidence import EvidenceSelector, VectorCache
from switchboard.assistant.grounding_hook import open_grounding
from switchboard.assistant.guard_hook import GuardHook
from switchboard.assistant.orchestrator import Hooks, Orchestrator
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.quoting import QUOTE_WEIGHTS, Quoter
from switchboard.assistant.replies import GROUNDED_SYSTEM, SMALL_TALK_SYSTEM, TOOLS_SYSTEM
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.turn import KnowledgeSearcher
from switchboard.assistant.types import ChatModel
from switchboard.cache.service import open_cache
from switchboard.config import AssistantSettings, Settings
from switchboard.demo import option_words_path
from switchboard.guard.factory import open_guard
from switchboard.order_ids import OrderIdFormat
from switchboard.rag.embedder import Embedder
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef


@dataclass
class Assistant:
    orchestrator: Orchestrator
    orders: OrderClient
    conversations: ConversationStore
    cache: CacheHook | None = None

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
    hooks: Hooks | None = None,
) -> Assistant:
    """The assistant over ``knowledge``'s shop collection in the default tenant, with the
    guardrails and the response cache of ``settings`` unless ``hooks`` are given."""
    config = settings.assistant
    collection = CollectionRef(settings.knowledge.default_tenant, config.collection)
    orders = orders or OrderClient.from_settings(settings.orders)
    conversations = ConversationStore(
        settings.assistant_db, default_tenant=settings.knowledge.default_tenant
    )
    order_ids = OrderIdFormat.from_settings(settings.orders)
    cache = None
    if hooks is None:
        cache = _cache_hook(settings, model, knowledge, collection, order_ids)
        hooks = default_hooks(settings, cache, order_ids)
    searcher = KnowledgeSearcher(knowledge, collection, config.top_k)
    stages = evidence_stages(config, knowledge.embedder, searcher)
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
        hooks=hooks,
        evidence=stages.evidence,
        answerability=stages.answerability,
        quoter=stages.quoter,
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


def default_hooks(settings: Settings, cache: CacheHook | None, order_ids: OrderIdFormat) -> Hooks:
    """The input guard, then the cache (it sees the redacted message); the grounding check,
    then the output guard (it restores the customer's data the check never sees). The
    shop's ``order_ids`` are never PII."""
    guard = open_guard(settings.guard, SYSTEM_PROMPTS, (order_ids.pattern,))
    guard_hook = GuardHook(guard) if guard is not None else None
    grounding = open_grounding(settings.assistant.grounding, option_words_path())
    return Hooks(
        input=[h for h in (guard_hook, cache) if h is not None],
        output=[h for h in (grounding, guard_hook) if h is not None],
        done=[cache] if cache is not None else [],
        fallback=[cache] if cache is not None else [],
    )


def _cache_hook(
    settings: Settings,
    model: ChatModel,
    knowledge: KnowledgeBase,
    collection: CollectionRef,
    order_ids: OrderIdFormat,
) -> CacheHook | None:
    if not settings.cache.enabled:
        return None
    return CacheHook(
        open_cache(settings.cache, settings.cache_db, knowledge.embedder, order_ids),
        tenant=collection.tenant,
        model=model.name,
        system_prompts=SYSTEM_PROMPTS,
        kb_version=lambda: knowledge.version(collection),
        order_ids=order_ids,
        temperature=settings.assistant.temperature,
        max_tokens=settings.assistant.max_tokens,
        cache_sampled=settings.cache.cache_sampled,
        serve_on_failure=settings.cache.serve_on_failure,
    )
