"""The text of OpenAI chat messages: ``content`` as a string, or as a list of parts of
which the ``text`` ones count (images and audio have none)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def text_of(message: Mapping[str, Any]) -> str:
    """The message's text, its text parts joined by newlines."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p["text"]) for p in content if isinstance(p, Mapping) and "text" in p)
    return ""


def texts_of(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    return [text_of(m) for m in messages]


def is_text_only(message: Mapping[str, Any]) -> bool:
    """No image, audio or file part: its text is all there is to it."""
    content = message.get("content")
    if isinstance(content, list):
        return all(isinstance(p, Mapping) and p.get("type", "text") == "text" for p in content)
    return content is None or isinstance(content, str)
