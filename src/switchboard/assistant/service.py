"""The assistants assembled from their definitions and the settings: router, tools,
knowledge, model, stages; they share the model, the conversations and the Order API client.

Built once at the edge (the server, the evaluation, the command line) and closed by its
owner.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.definition import (
    CHECK_BASE_URL,
    AssistantDefinition,
    DefinitionError,
    load_definitions,
)
from switchboard.assistant.evidence import EvidenceSelector, VectorCache
from switchboard.assistant.grounding_stage import open_grounding
from switchboard.assistant.lookup import Lookup
from switchboard.assistant.orchestrator import Orchestrator
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.quoting import QUOTE_WEIGHTS, Quoter
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.turn import KnowledgeSearcher, TurnState
from switchboard.assistant.turn_cache import TurnKeys
from switchboard.assistant.types import ChatModel
from switchboard.cache.service import ResponseCache, open_cache
from switchboard.config import AssistantSettings, GuardSettings, Settings
from switchboard.demo import assistants_dir, option_words_path
from switchboard.errors import AssistantNotFoundError
from switchboard.guard.factory import open_guard
from switchboard.order_ids import OrderIdFormat
from switchboard.rag.embedder import Embedder
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from switchboard.stages.cache import CacheStage
from switchboard.stages.guard import GuardStage
from switchboard.stages.stage import Pipeline, Stage
from switchboard.tools import ToolRegistry, secret_problem

DEMO_DEFAULT = "shop"
ORDERS_TOKEN = "SWITCHBOARD_ORDERS__SERVICE_TOKEN"  # the Order API's token, as tools name it


@dataclass
class Assistant:
    definition: AssistantDefinition
    orchestrator: Orchestrator
    cache: CacheStage[TurnState] | None = None
    tools: ToolRegistry | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    async def drain(self) -> None:
        """Wait for the answers its cache is still storing."""
        if self.cache is not None:
            await self.cache.drain()


@dataclass
class Assistants:
    """The served assistants by name, and what they share: the conversations, the response
    cache, the Order API client and the models."""

    by_name: Mapping[str, Assistant]
    default: str
    conversations: ConversationStore
    orders: OrderClient | None = None
    cache: ResponseCache | None = None
    models: list[ChatModel] = field(default_factory=list)

    def get(self, name: str | None = None) -> Assistant:
        """The assistant ``name`` (None: the default); ``AssistantNotFoundError`` if none."""
        assistant = self.by_name.get(name or self.default)
        if assistant is None:
            raise AssistantNotFoundError(name or self.default, sorted(self.by_name))
        return assistant

    async def aclose(self) -> None:
        """Close every assistant, the Order API client, the conversations and a remote
        model's client (the local engine belongs to the server)."""
        for assistant in self.by_name.values():
            await assistant.drain()
            if assistant.tools is not None:
                await assistant.tools.aclose()
        if self.cache is not None:
            await asyncio.to_thread(self.cache.close)
        if self.orders is not None:
            await self.orders.aclose()
        await asyncio.to_thread(self.conversations.close)
        for model in self.models:
            close = getattr(model, "aclose", None)
            if close is not None:
                await close()


def served_definitions(settings: Settings) -> dict[str, AssistantDefinition]:
    """The demo's definitions (unless ``assistant.demo_assistants`` is off) and the user's
    (``assistant.definitions_dir``); ``DefinitionError`` if one is broken."""
    folders = [assistants_dir()] if settings.assistant.demo_assistants else []
    return load_definitions([*folders, settings.assistants_dir])


def default_name(settings: Settings, names: list[str]) -> str:
    wanted = settings.assistant.default
    if wanted is not None:
        if wanted not in names:
            raise AssistantNotFoundError(wanted, names)
        return wanted
    if DEMO_DEFAULT in names:
        return DEMO_DEFAULT
    if not names:
        raise AssistantNotFoundError("(any)", names)
    return sorted(names)[0]


def open_assistants(
    settings: Settings,
    model: ChatModel,
    knowledge: KnowledgeBase,
    *,
    definitions: Mapping[str, AssistantDefinition] | None = None,
    orders: OrderClient | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Assistants:
    """Every served assistant over ``knowledge``, generating with ``model``; the demo's
    Order API client (``orders``, or one from the settings) only if an assistant's tools
    file names no base URL.
    Each assistant's declared tools get their own registry, allowed only their own hosts;
    a tools file without a base URL calls the Order API, with its service token (more
    secrets, by name, in ``secrets``, which the caller reads at its edge)."""
    definitions = served_definitions(settings) if definitions is None else definitions
    default = default_name(settings, list(definitions))
    if orders is None and any(d.tools_need_base_url for d in definitions.values()):
        orders = OrderClient.from_settings(settings.orders)
    conversations = ConversationStore(
        settings.assistant_db,
        default_tenant=settings.knowledge.default_tenant,
        default_assistant=default,
    )
    cache = None
    if settings.cache.enabled and any(d.cache for d in definitions.values()):
        order_ids = OrderIdFormat.from_settings(settings.orders)
        cache = open_cache(settings.cache, settings.cache_db, knowledge.embedder, order_ids)
    by_name = {
        name: open_assistant(
            settings,
            model,
            knowledge,
            definition,
            conversations=conversations,
            cache=cache,
            tools=edge_tools(settings, definition, orders, secrets or {}),
        )
        for name, definition in sorted(definitions.items())
    }
    return Assistants(by_name, default, conversations, orders, cache, [model])


def orders_access(settings: Settings, orders: OrderClient | None) -> tuple[str, str]:
    """The Order API's address and token: the running client's, else the settings'."""
    if orders is not None:
        return orders.base_url, orders.service_token
    own = settings.orders
    return f"http://{own.host}:{own.port}", own.service_token


def edge_tools(
    settings: Settings,
    definition: AssistantDefinition,
    orders: OrderClient | None,
    secrets: Mapping[str, str],
) -> ToolRegistry | None:
    """The definition's tools as the server builds them: a tools file without a base URL
    calls the Order API (``orders``, else the settings'), with its token, which no entry
    of ``secrets`` (read by the caller at its edge: the environment) replaces."""
    base_url, token = orders_access(settings, orders)
    return open_tools(definition, base_url, {**secrets, ORDERS_TOKEN: token})


def check_secrets(
    settings: Settings, definitions: Iterable[AssistantDefinition], secrets: Mapping[str, str]
) -> None:
    """Before anything starts: ``DefinitionError`` naming the assistant, the tool and the
    variable of the first tool secret ``secrets`` lacks."""
    given = {**secrets, ORDERS_TOKEN: settings.orders.service_token}
    for definition in definitions:
        for spec in definition.tool_specs(CHECK_BASE_URL):
            problem = secret_problem(spec, given)
            if problem is not None:
                raise DefinitionError(f"assistant {definition.name}: {problem}")


def open_tools(
    definition: AssistantDefinition, default_base_url: str, secrets: Mapping[str, str]
) -> ToolRegistry | None:
    """The definition's tools, allowed only the hosts they declare; ``DefinitionError``
    when one cannot be built (a secret not set)."""
    specs = definition.tool_specs(default_base_url)
    if not specs:
        return None
    hosts = {urlsplit(spec.url).netloc.lower() for spec in specs}
    try:
        return ToolRegistry(specs, allowed_hosts=hosts, secrets=secrets)
    except ValueError as exc:
        raise DefinitionError(f"assistant {definition.name}: {exc}") from None


def open_assistant(
    settings: Settings,
    model: ChatModel,
    knowledge: KnowledgeBase,
    definition: AssistantDefinition,
    *,
    conversations: ConversationStore,
    cache: ResponseCache | None = None,
    router: SemanticRouter | None = None,
    stages: Pipeline[TurnState] | None = None,
    tools: ToolRegistry | None = None,
) -> Assistant:
    """The assistant ``definition`` declares, over its collections in the default tenant,
    with the guardrails, the response cache and the grounding check of ``settings`` (as
    the definition allows; answers cached in ``cache``) unless ``stages`` are given; its
    lookup and write actions call ``tools``."""
    config = definition.settings(settings.assistant)
    tenant = settings.knowledge.default_tenant
    collections = [CollectionRef(tenant, name) for name in definition.collection_names]
    searcher = KnowledgeSearcher(knowledge, collections, config.top_k)
    lookup = (
        Lookup(definition.lookup, tools)
        if definition.lookup is not None and tools is not None
        else None
    )
    order_ids = lookup.ids if lookup is not None else OrderIdFormat.none()
    cached = None
    if stages is None:
        if definition.cache and cache is not None:
            cached = _cache_stage(settings, config, model, searcher, definition, cache, order_ids)
        stages = default_stages(settings, definition, cached, order_ids)
    if router is None and definition.intents:
        router = SemanticRouter(
            knowledge.embedder,
            definition.intents,
            order_ids=order_ids,
            threshold=config.router_threshold,
        )
    evidence = evidence_stages(config, knowledge.embedder, searcher)
    orchestrator = Orchestrator(
        config,
        definition=definition,
        router=router,
        model=model,
        searcher=searcher,
        conversations=conversations,
        lookup=lookup,
        stages=stages,
        evidence=evidence.evidence,
        answerability=evidence.answerability,
        quoter=evidence.quoter,
        tools=tools,
    )
    return Assistant(definition, orchestrator, cached, tools)


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


def default_stages(
    settings: Settings,
    definition: AssistantDefinition,
    cache: CacheStage[TurnState] | None,
    order_ids: OrderIdFormat,
) -> Pipeline[TurnState]:
    """The guard, then the cache (it sees the redacted message), then the grounding check:
    on the way out the check sees the model's text first and the guard last (it restores
    the customer's data the check never sees). Order numbers are never PII."""
    guard = None
    if definition.guard:
        guard = open_guard(guard_settings(settings, definition), definition.system_prompts,
                           (order_ids.pattern,))  # fmt: skip
    grounding = open_grounding(settings.assistant.grounding, option_words_path())
    stages: list[Stage[TurnState] | None] = [
        GuardStage(guard) if guard is not None else None,
        cache,
        grounding,
    ]
    return Pipeline([s for s in stages if s is not None])


def guard_settings(settings: Settings, definition: AssistantDefinition) -> GuardSettings:
    """The server's guard settings with the definition's own refusal of a blocked message."""
    if definition.replies.blocked is None:
        return settings.guard
    return settings.guard.model_copy(update={"blocked_input_message": definition.replies.blocked})


def _cache_stage(
    settings: Settings,
    config: AssistantSettings,
    model: ChatModel,
    searcher: KnowledgeSearcher,
    definition: AssistantDefinition,
    cache: ResponseCache,
    order_ids: OrderIdFormat,
) -> CacheStage[TurnState]:
    """Its answers in the shared cache, scoped by its name and prompts (two assistants
    never answer each other's questions) and by the version of its collections; a message
    naming a record is personal."""
    keys = TurnKeys(
        tenant=settings.knowledge.default_tenant,
        model=model.name,
        system_prompts=(definition.name, *definition.system_prompts),
        kb_version=searcher.version,
        order_ids=order_ids,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        cache_sampled=settings.cache.cache_sampled,
    )
    return CacheStage(cache, keys, serve_on_failure=settings.cache.serve_on_failure)
