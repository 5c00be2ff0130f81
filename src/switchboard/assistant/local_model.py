"""The in-process engine as the assistant's ``ChatModel``.

Prompts are counted and encoded by the engine's own chat template and tokenizer, so the
budget the prompt builder computes is the exact prompt the engine receives. The local
models do not do function calling; tools are chosen by the semantic router instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from switchboard.assistant.types import Delta, Message
from switchboard.engine import RequestOutput, SamplingParams


class _Engine(Protocol):
    """What this model needs of ``LocalEngine``."""

    name: str

    @property
    def max_model_len(self) -> int: ...

    def encode_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[int]: ...

    @property
    def async_engine(self) -> _Generator: ...


class _Generator(Protocol):
    def generate(
        self, prompt_token_ids: list[int], params: SamplingParams, request_id: str | None = None
    ) -> AsyncIterator[RequestOutput]: ...


class LocalChatModel:
    supports_tools = False

    def __init__(self, engine: _Engine, *, seed: int | None = 0) -> None:
        self._engine = engine
        self._seed = seed
        self.name = engine.name

    @property
    def max_model_len(self) -> int:
        return self._engine.max_model_len

    def count_messages(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        return len(self._engine.encode_chat(messages, tools))

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[Delta]:
        if tools:
            raise ValueError(f"{self.name} does not support tool calling")
        prompt = await asyncio.to_thread(self._engine.encode_chat, messages)
        params = SamplingParams(
            max_tokens=max_tokens, temperature=temperature, seed=self._seed, stop=tuple(stop)
        )
        outputs = self._engine.async_engine.generate(prompt, params)
        async for output in outputs:
            if not output.finished:
                if output.text:
                    yield Delta(text=output.text)
                continue
            yield Delta(
                text=output.text,
                finish_reason=output.finish_reason,
                prompt_tokens=output.prompt_tokens,
                completion_tokens=output.completion_tokens,
            )
