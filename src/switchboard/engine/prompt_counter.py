"""Prompt tokens counted locally, exactly as the served model's server will count them.

An assistant served by a remote OpenAI-compatible server (vLLM, llama-server) must fit its
prompt to the model's context before sending it, and cannot ask the server once per
candidate prompt; it counts with the served model's own GGUF, vocabulary and chat template
only (no weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from switchboard.engine.chat_template import ChatEncoder
from switchboard.engine.runner import LlamaModel

Tools = Sequence[Mapping[str, Any]]


class GGUFPromptCounter:
    """Counts prompt tokens with a local copy of the served model's vocabulary and chat
    template, exactly as ``LocalEngine.encode_chat`` tokenizes them.

    ``chat_template`` replaces the GGUF's template when the server was started with its own
    (vLLM ``--chat-template``, llama-server ``--chat-template-file``). A template that never
    reads ``tools`` counts none of them.
    """

    def __init__(self, gguf_path: Path, *, chat_template: str | None = None) -> None:
        self.model = LlamaModel(gguf_path, vocab_only=True)
        self._chat = ChatEncoder(self.model, chat_template)

    def encode(
        self, messages: Sequence[Mapping[str, Any]], tools: Tools | None = None
    ) -> list[int]:
        return self._chat.encode(messages, tools)

    def count(self, messages: Sequence[Mapping[str, Any]], tools: Tools | None = None) -> int:
        return len(self.encode(messages, tools))

    def close(self) -> None:
        self.model.close()
