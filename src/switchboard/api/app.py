"""The FastAPI application serving one engine; the caller owns (and closes) the engine."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from switchboard import __version__
from switchboard.api import assistant_routes, health, knowledge_routes, openai_routes
from switchboard.api.body_limit import BodySizeLimit
from switchboard.api.deps import ServedEngine, ServedModel
from switchboard.api.errors import install_error_handlers
from switchboard.api.web_routes import install_web
from switchboard.assistant.service import Assistant
from switchboard.config import Settings
from switchboard.rag.knowledge import KnowledgeBase


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine: ServedEngine = app.state.engine
    engine.start()
    try:
        yield
    finally:
        assistant: Assistant | None = getattr(app.state, "assistant", None)
        if assistant is not None:
            await assistant.aclose()


def create_app(
    engine: ServedEngine,
    settings: Settings,
    aliases: Iterable[str] = (),
    knowledge: KnowledgeBase | None = None,
    assistant: Assistant | None = None,
) -> FastAPI:
    """An app serving ``engine`` under its name, ``settings.model`` and ``aliases``; with
    ``knowledge`` the embeddings, search and collection endpoints; with ``assistant`` the
    support assistant's API and its chat widget at ``/`` (the app closes the assistant)."""
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
    if assistant is not None:
        app.state.assistant = assistant
        app.include_router(assistant_routes.router)
        if settings.assistant.demo_directory:
            app.include_router(assistant_routes.demo_router)
        install_web(app)
    return app
