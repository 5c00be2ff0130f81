"""Pydantic models of the OpenAI-compatible requests the local engine serves: chat and
text completions, and the engine's ``SamplingParams`` they map onto.

The local engine's requests refuse every parameter it cannot honour: an unknown one is a
400 naming it (OpenAI's "Unrecognized request argument supplied"), and so are ones that
would silently change the meaning of the answer (``n > 1``, ``echo``, logprobs, a
non-empty ``logit_bias``). Fields clients commonly send without asking for anything
(``user``, ``metadata``, ``store``, ``service_tier``, ``parallel_tool_calls``, an empty
``logit_bias``, ``tool_choice`` "none"/"auto" without tools) are accepted. Messages keep
the fields SDKs echo back on replayed answers (``refusal``, ``audio``...). Every text of
every request body must be valid Unicode (``RequestBody``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    field_validator,
)

from switchboard.engine import SamplingParams
from switchboard.request_body import RequestBody


def _join_text_parts(content: object) -> object:
    """Accept a string, ``null`` (assistant turns) or a list of ``{type: "text"}`` parts."""
    if content is None:
        return ""
    if not isinstance(content, list):
        return content
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise ValueError(f"only text content parts are supported, got {kind!r}")
        text = part.get("text")
        if not isinstance(text, str):
            raise ValueError("a text content part needs a string 'text'")
        texts.append(text)
    return "".join(texts)


_TEXT_PART = {
    "type": "object",
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    "required": ["type", "text"],
}
#: What a message's content may be on the wire: text, text parts, or null (an assistant
#: turn that only called tools); the model sees the text.
MessageContent = Annotated[
    str,
    BeforeValidator(_join_text_parts),
    WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}, {"type": "null"}]}
    ),
]


class _Request(RequestBody):
    """Parts of a request (messages, options) that tolerate fields they do not use."""

    model_config = ConfigDict(extra="ignore")


def _empty_or_none(name: str) -> Any:
    def check(value: object) -> object:
        if value:
            raise ValueError(f"{name} is not supported by the local engine")
        return value

    return AfterValidator(check)


class ChatMessage(_Request):
    role: Literal["system", "user", "assistant", "tool"]
    content: MessageContent = ""
    name: str | None = None
    tool_call_id: str | None = None

    def to_template(self) -> dict[str, str]:
        """The message as the chat template sees it."""
        message = {"role": self.role, "content": self.content}
        if self.name is not None:
            message["name"] = self.name
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


class StreamOptions(_Request):
    include_usage: bool = False


class SamplingRequest(RequestBody):
    """Fields shared by chat and text completions (OpenAI's plus a few extensions). The
    ranges are the engine's (``SamplingParams``), stated here so the API document has them."""

    model_config = ConfigDict(extra="forbid")

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int = Field(1, json_schema_extra={"enum": [1]})
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, lt=2**63)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    user: str | None = None
    # Sent by clients without asking for anything the engine would have to do.
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    logit_bias: Annotated[dict[str, float] | None, _empty_or_none("logit_bias")] = None
    # Extensions (vLLM / llama.cpp server names).
    top_k: int | None = Field(None, ge=-1)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=10.0)
    ignore_eos: bool = False
    stop_token_ids: list[int] | None = None

    @field_validator("n")
    @classmethod
    def _single_choice(cls, n: int) -> int:
        if n != 1:
            raise ValueError("only n=1 is supported")
        return n

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    @property
    def completion_limit(self) -> int | None:
        """``max_tokens`` as asked; ``None`` fills the context window."""
        return self.max_tokens


class ChatCompletionRequest(SamplingRequest):
    messages: list[ChatMessage] = Field(json_schema_extra={"minItems": 1})
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: Annotated[int | None, _empty_or_none("top_logprobs")] = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None

    @field_validator("tool_choice")
    @classmethod
    def _no_tool_choice(cls, choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if choice not in (None, "none", "auto"):
            raise ValueError("tool calling is not supported by the local engine")
        return choice

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if tools:
            raise ValueError("tool calling is not supported by the local engine")
        return tools

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, response_format: dict[str, Any] | None) -> dict[str, Any] | None:
        if response_format and response_format.get("type", "text") != "text":
            raise ValueError("only response_format type 'text' is supported")
        return response_format

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not messages:
            raise ValueError("at least one message is required")
        return messages

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, logprobs: bool | None) -> bool | None:
        if logprobs:
            raise ValueError("logprobs are not supported")
        return logprobs

    @property
    def completion_limit(self) -> int | None:
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens


class CompletionRequest(SamplingRequest):
    prompt: str | list[str] | list[StrictInt]  # token ids: never a JSON true or false
    # OpenAI's default for the legacy endpoint; an explicit null fills the window.
    max_tokens: int | None = Field(16, ge=1)
    echo: bool | None = None
    logprobs: int | None = None
    suffix: str | None = None
    best_of: int | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, prompt: str | list[str] | list[int]) -> str | list[str] | list[int]:
        if isinstance(prompt, list):
            if not prompt:
                raise ValueError("the prompt is empty")
            if isinstance(prompt[0], str) and len(prompt) != 1:
                raise ValueError("only one prompt per request is supported")
        return prompt

    @field_validator("echo", "logprobs", "suffix")
    @classmethod
    def _unsupported(cls, value: object) -> object:
        if value:
            raise ValueError("this option is not supported")
        return value

    @field_validator("best_of")
    @classmethod
    def _single_best_of(cls, best_of: int | None) -> int | None:
        if best_of is not None and best_of != 1:
            raise ValueError("only best_of=1 is supported")
        return best_of

    @property
    def prompt_text(self) -> str | None:
        """The prompt as text, or ``None`` when it was given as token ids."""
        if isinstance(self.prompt, str):
            return self.prompt
        first = self.prompt[0]
        return first if isinstance(first, str) else None

    @property
    def prompt_token_ids(self) -> list[int]:
        return [t for t in self.prompt if isinstance(t, int)]


def to_sampling_params(req: SamplingRequest) -> SamplingParams:
    """Map a request onto engine parameters; ``SamplingParams`` validates the ranges."""
    stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
    return SamplingParams(
        max_tokens=req.completion_limit,
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        top_k=0 if req.top_k == -1 else (req.top_k or 0),  # -1: disabled, as in vLLM
        min_p=req.min_p or 0.0,
        seed=req.seed,
        repetition_penalty=1.0 if req.repetition_penalty is None else req.repetition_penalty,
        presence_penalty=req.presence_penalty or 0.0,
        frequency_penalty=req.frequency_penalty or 0.0,
        stop=stop,
        stop_token_ids=tuple(req.stop_token_ids or ()),
        ignore_eos=req.ignore_eos,
    )
