"""Typed settings, read once at the edge (file + ``SWITCHBOARD_*`` env) and passed down.

Precedence, highest first: constructor arguments, environment variables
(``SWITCHBOARD_ENGINE__MAX_NUM_SEQS=8``), the TOML file named by ``SWITCHBOARD_CONFIG``
(default ``switchboard.toml`` in the working directory, if present), then defaults.

One module per section of ``Settings`` (``engine``, ``server``, ``knowledge``, ``orders``,
``assistant``, ``gateway``, ``guard``, ``cache``); callers import from this package.
"""

from switchboard.config.assistant import (
    AssistantSettings,
    GroundingSettings,
    RemoteModelSettings,
)
from switchboard.config.cache import CacheSettings
from switchboard.config.engine import EngineSettings
from switchboard.config.gateway import (
    CustomerTokenSettings,
    GatewaySettings,
    LimitSettings,
    Price,
    ProviderSettings,
    RequestLogSettings,
    RouteSettings,
    RouteTarget,
    TracingSettings,
)
from switchboard.config.guard import (
    DEFAULT_PII_ENTITIES,
    DEFAULT_POLICY,
    GuardAction,
    GuardCategory,
    GuardSettings,
    InjectionSettings,
    PiiSettings,
    ToxicitySettings,
)
from switchboard.config.knowledge import (
    ChunkSettings,
    EmbeddingSettings,
    IngestJobSettings,
    KnowledgeSettings,
    RetrievalSettings,
)
from switchboard.config.orders import OrdersSettings
from switchboard.config.server import ServerSettings
from switchboard.config.settings import DEFAULT_MODEL, Settings

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PII_ENTITIES",
    "DEFAULT_POLICY",
    "AssistantSettings",
    "CacheSettings",
    "ChunkSettings",
    "CustomerTokenSettings",
    "EmbeddingSettings",
    "EngineSettings",
    "GatewaySettings",
    "GroundingSettings",
    "GuardAction",
    "GuardCategory",
    "GuardSettings",
    "IngestJobSettings",
    "InjectionSettings",
    "KnowledgeSettings",
    "LimitSettings",
    "OrdersSettings",
    "PiiSettings",
    "Price",
    "ProviderSettings",
    "RemoteModelSettings",
    "RequestLogSettings",
    "RetrievalSettings",
    "RouteSettings",
    "RouteTarget",
    "ServerSettings",
    "Settings",
    "ToxicitySettings",
    "TracingSettings",
]
