"""The model's own chat template (GGUF ``tokenizer.chat_template``), rendered in a
sandboxed jinja2 environment so a template cannot reach Python internals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from switchboard.errors import InvalidRequestError

#: ChatML, used when a GGUF carries no template.
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise_exception(message: str) -> None:
    raise InvalidRequestError(f"chat template rejected the messages: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        self.source = source or CHATML
        self._template = env.from_string(self.source)
        self._bos_token = bos_token
        self._eos_token = eos_token

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        add_generation_prompt: bool = True,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> str:
        try:
            return self._template.render(
                messages=list(messages),
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos_token,
                eos_token=self._eos_token,
                tools=tools,
            )
        except TemplateError as exc:
            raise InvalidRequestError(f"chat template failed: {exc}", param="messages") from exc


class Vocabulary(Protocol):
    """What ``ChatEncoder`` reads of a loaded model (``runner.LlamaModel``)."""

    chat_template: str | None
    bos_text: str
    eos_text: str

    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = False
    ) -> list[int]: ...


class ChatEncoder:
    """Chat messages as a model's prompt tokens: its chat template (or ``template``)
    rendered, tokenized with its special tokens parsed, and its BOS put first once when
    the model uses one. The engine and the local counter of a remote model's prompts share
    it, so both count the same tokens."""

    def __init__(self, model: Vocabulary, template: str | None = None) -> None:
        self._model = model
        self._template = ChatTemplate(
            template or model.chat_template, model.bos_text, model.eos_text
        )
        self._bos = model.tokenize("", add_special=True)  # [] when the model adds none

    def encode(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[int]:
        text = self._template.render(messages, tools=tools)
        ids = self._model.tokenize(text, add_special=False, parse_special=True)
        if self._bos and (not ids or ids[0] != self._bos[0]):
            ids = self._bos + ids
        return ids
