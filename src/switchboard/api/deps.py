"""What the HTTP layer needs from a served model, and how a route reaches it.

``ServedEngine`` is the slice of ``LocalEngine`` the API uses: the gateway's ``ChatEngine``
and what the text completions and the health report need. The API never imports
llama.cpp, and tests can serve the engine over a fake runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request

from switchboard.gateway.local_provider import ChatEngine


class Vocabulary(Protocol):
    @property
    def n_vocab(self) -> int: ...


class ServedEngine(ChatEngine, Protocol):
    @property
    def model(self) -> Vocabulary: ...

    def encode_prompt(self, text: str) -> list[int]: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class ServedModel:
    """The model names a request may use, and what the server tells clients."""

    names: frozenset[str]
    created: int
    retry_after_s: int


async def get_engine(request: Request) -> ServedEngine:
    engine: ServedEngine = request.app.state.engine
    return engine


async def get_served_model(request: Request) -> ServedModel:
    served: ServedModel = request.app.state.served_model
    return served


EngineDep = Annotated[ServedEngine, Depends(get_engine)]
ServedModelDep = Annotated[ServedModel, Depends(get_served_model)]
