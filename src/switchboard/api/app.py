"""The FastAPI application serving one engine; the caller owns (and closes) the engine."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from switchboard import __version__
from switchboard.api import health, knowledge_routes, openai_routes
from switchboard.api.body_limit import BodySizeLimit
from switchboard.api.deps import ServedEngine, ServedModel
from switchboard.api.errors import install_error_handlers
from switchboard.config import Settings
from switchboard.rag.knowledge import KnowledgeBase


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine: ServedEngine = app.state.engine
    engine.start()
    yield


def create_app(
    engine: ServedEngine,
    settings: Settings,
    aliases: Iterable[str] = (),
    knowledge: KnowledgeBase | None = None,
) -> FastAPI:
    """An app serving ``engine`` under its name, ``settings.model`` and ``aliases``, and
    with ``knowledge`` the embeddings, search and collection endpoints."""
    app = FastAPI(title="Switchboard", version=__version__, lifespan=_lifespan)
    app.state.engine = engine
    app.state.served_model = ServedModel(
        names=frozenset({engine.name, settings.model, *aliases}),
        created=int(time.time()),
        retry_after_s=settings.server.retry_after_s,
    )
    install_error_handlers(app)
    app.include_router(openai_routes.router)
    app.include_router(health.router)
    if knowledge is not None:
        app.state.knowledge = knowledge
        app.include_router(knowledge_routes.router)
        app.add_middleware(
            BodySizeLimit,
            max_bytes=knowledge.settings.max_upload_bytes,
            path_prefix="/v1/collections/",
        )
    return app
