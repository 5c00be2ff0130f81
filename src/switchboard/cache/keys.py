"""Exact cache keys: one hash per (normalised conversation, sampling parameters that change
the answer), and the hash of a system prompt for ``CacheScope.system_hash``.

Normalisation is deliberately light, so two requests share a key only when a model would
see the same thing: Unicode NFKC, runs of whitespace collapsed to one space and the ends
trimmed. Case is kept: "US" and "us" can differ in meaning, and the semantic layer (an
uncased encoder) already matches requests that differ only in case or punctuation.

Parameters that cannot change the text (``stream``, ``user``, ``metadata``...) are left out;
those that can (temperature, top_p, max_tokens, stop, seed, tools, response_format...) are
part of the key, exactly as given: a missing parameter is not assumed to equal its default.
The model is not part of the key; it is part of the scope.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

KEY_VERSION = "v1"
"""Changes whenever normalisation changes, so old entries stop matching instead of lying."""

SAMPLING_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "n",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "response_format",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
    }
)
MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")

_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, ends trimmed; case kept."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def exact_key(messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """A hex SHA-256 over the normalised messages and the answer-changing parameters."""
    canonical = {
        "v": KEY_VERSION,
        "messages": [_message(m) for m in messages],
        "params": {
            name: _normalise(_param(name, value))
            for name, value in sorted(params.items())
            if name in SAMPLING_PARAMS and value is not None
        },
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def system_hash(text: str) -> str:
    """32 hex digits identifying a system prompt up to whitespace (for ``CacheScope``)."""
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()[:32]


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _normalise(message[name])
        for name in MESSAGE_FIELDS
        if message.get(name) not in (None, [], "")
    }


def _param(name: str, value: Any) -> Any:
    """``stop="x"`` and ``stop=["x"]`` mean the same to every OpenAI-style server."""
    if name == "stop" and isinstance(value, str):
        return [value]
    return value


def _normalise(value: Any) -> Any:
    """Text normalised at every depth (content parts, tool arguments); the rest as is."""
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 1.0 and 1 are the same temperature
    return value
