"""The end user's records, looked up with a definition's read tools and stated as it words
them: the facts a customer reads come from the API's answer, never from the model.

    [lookup]                                # of an assistant definition
    id_pattern = '(?i)\\bLK-?(\\d{6})\\b'    # a record's number as people type it (one group)
    id_format = "LK-{}"                     # its canonical form
    tool = "get_order"                      # called for each number a message names
    argument = "order_id"                   # ... with the number as this argument
    list_tool = "list_orders"               # called when it names none (optional)
    list_key = "orders"                     # the list in list_tool's answer; with list_id,
    list_id = "order_id"                    # a list of one is looked up in full
    found = "Your order {{ order_id }} is {{ status | replace('_', ' ') }}."
    missing = "I couldn't find order {{ order_id }} on your account."
    listed = "{% for o in orders %}{{ o.order_id }}: {{ o.status }}; {% endfor %}"
    unavailable = "I can't reach our order system right now ..."
    facts = "..."                           # what the model reads (default: found)

The texts are templates (``switchboard.assistant.templates``) over the tool's JSON answer.
The end user is the verified one the server passes to the tool, never a number from the
message: a record of someone else is "missing", like one that does not exist (the API
answers 404 for both). An API that does not answer makes the lookup ``unavailable``: the
assistant says so and offers a colleague; it never guesses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard.assistant.templates import Template, template_values
from switchboard.assistant.types import ToolResultEvent
from switchboard.config.orders import checked_id_format, checked_id_pattern
from switchboard.order_ids import OrderIdFormat
from switchboard.tools import HttpToolSpec, ToolFailure, ToolOutcome

log = logging.getLogger(__name__)
NOT_FOUND_STATUS = 404
UNRENDERABLE = "unrenderable"  # the API answered; the definition's template failed on it
UNAVAILABLE_FACTS = "The service that holds these records is unavailable: nothing is known."
TEMPLATES = ("found", "missing", "listed", "unavailable", "facts")


class LookupSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id_pattern: str = Field(
        min_length=1, description="A regular expression with one capture group: a record's number."
    )
    id_format: str = Field("{}", description="The canonical number; {} is the captured group.")
    tool: str = Field(min_length=1, description="The read tool that fetches one record.")
    argument: str = Field(min_length=1, description="Its argument the number fills.")
    list_tool: str | None = Field(None, description="The read tool that lists the records.")
    list_key: str | None = Field(None, description="The list in list_tool's answer.")
    list_id: str | None = Field(None, description="Each listed record's number (its key).")
    list_limit: int = Field(5, ge=1, le=50, description="The most records listed.")
    max_ids: int = Field(3, ge=1, le=10, description="The most numbers looked up per message.")
    status_words: str | None = Field(
        None,
        description="A regular expression (any case) of what a record's status answers: a "
        "lookup message asking anything else gets the documents' answer too.",
    )
    found: str = Field(min_length=1)
    missing: str = Field(min_length=1)
    listed: str | None = None
    unavailable: str = Field(min_length=1)
    facts: str | None = None

    @field_validator("id_pattern")
    @classmethod
    def _one_group(cls, pattern: str) -> str:
        return checked_id_pattern(pattern, "id_pattern")

    @field_validator("id_format")
    @classmethod
    def _one_slot(cls, text: str) -> str:
        return checked_id_format(text, "id_format")

    @field_validator("status_words")
    @classmethod
    def _compiles_pattern(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern

    @field_validator(*TEMPLATES)
    @classmethod
    def _compiles(cls, source: str | None) -> str | None:
        if source is not None:
            Template(source)
        return source

    @property
    def ids(self) -> OrderIdFormat:
        return OrderIdFormat(re.compile(self.id_pattern), self.id_format)

    @property
    def status_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.status_words, re.IGNORECASE) if self.status_words else None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return (self.tool,) if self.list_tool is None else (self.tool, self.list_tool)


@dataclass(frozen=True)
class LookupResult:
    """``answer`` is what the end user reads; ``prompt_blocks`` the same facts for the
    model; ``events`` one per call (``data`` None: not found)."""

    answer: str
    events: tuple[ToolResultEvent, ...]
    prompt_blocks: tuple[str, ...]
    unavailable: bool = False


class Tool(Protocol):
    @property
    def spec(self) -> HttpToolSpec: ...

    async def call(
        self, arguments: Mapping[str, Any] | str, *, end_user: str | None, confirmed: bool = False
    ) -> ToolOutcome: ...


class Tools(Protocol):
    """What the assistant needs of ``ToolRegistry``: its tools by name."""

    def __getitem__(self, name: str) -> Tool: ...

    def __contains__(self, name: object) -> bool: ...

    def openai_tools(self, *, writes: bool = True) -> list[dict[str, Any]]: ...


class _Unavailable(Exception):
    def __init__(self, event: ToolResultEvent) -> None:
        self.event = event


class _Unrenderable(Exception):
    def __init__(self, tool: str, arguments: dict[str, Any], reason: str) -> None:
        self.tool, self.arguments, self.reason = tool, arguments, reason


def _render(
    template: Template, data: Any, tool: str, arguments: dict[str, Any], as_lines: bool = False
) -> str:
    """``template`` over the tool's answer; ``_Unrenderable`` if it fails on it."""
    values = template_values(data, arguments)
    try:
        return template.lines(values) if as_lines else template.text(values)
    except ValueError as exc:
        raise _Unrenderable(tool, arguments, str(exc)) from None


class Lookup:
    """A definition's ``[lookup]`` over its tools."""

    def __init__(self, spec: LookupSpec, tools: Tools) -> None:
        self.spec = spec
        self.ids = spec.ids
        self._tools = tools
        self._found = Template(spec.found)
        self._missing = Template(spec.missing)
        self._listed = Template(spec.listed) if spec.listed else None
        self._unavailable = Template(spec.unavailable)
        self._facts = Template(spec.facts) if spec.facts else None

    async def run(self, end_user: str | None, ids: Sequence[str]) -> LookupResult:
        """Each named record (at most ``max_ids``), or the end user's recent ones when the
        message names none (a list of one: that record in full)."""
        try:
            if ids or self._listed is None:
                return await self._named(end_user, ids[: self.spec.max_ids])
            return await self._list(end_user)
        except _Unavailable as failed:
            event = failed.event
        except _Unrenderable as failed:  # the definition's template, not the customer's fault
            log.error("lookup: %s cannot be stated: %s", failed.tool, failed.reason)
            event = ToolResultEvent(failed.tool, failed.arguments, ok=False, error=UNRENDERABLE)
        answer = self._unavailable.text(dict(event.arguments))
        return LookupResult(answer, (event,), (UNAVAILABLE_FACTS,), unavailable=True)

    async def call(
        self, name: str, arguments: Mapping[str, Any], end_user: str | None
    ) -> LookupResult:
        """The model's call of the lookup's tool or its list tool, as ``run`` answers it."""
        value = arguments.get(self.spec.argument)
        if name == self.spec.tool:
            return await self.run(end_user, [value] if isinstance(value, str) else [])
        return await self.run(end_user, [])

    async def _named(self, end_user: str | None, ids: Sequence[str]) -> LookupResult:
        sentences, events, blocks = [], [], []
        for value in ids:
            arguments = {self.spec.argument: value}
            data = await self._fetch(self.spec.tool, arguments, end_user)
            events.append(ToolResultEvent(self.spec.tool, arguments, ok=True, data=data))
            if data is None:
                sentences.append(self._missing.text(arguments))
                continue
            tool = self.spec.tool
            sentences.append(_render(self._found, data, tool, arguments))
            blocks.append(_render(self._facts or self._found, data, tool, arguments, True))
        if not blocks:
            blocks.append(f"Nothing was found for the {self.spec.argument} the user gave.")
        return LookupResult(" ".join(sentences), tuple(events), tuple(blocks))

    async def _list(self, end_user: str | None) -> LookupResult:
        assert self._listed is not None
        assert self.spec.list_tool is not None
        data = await self._fetch(self.spec.list_tool, {}, end_user)
        data = {} if data is None else data
        key, id_key = self.spec.list_key, self.spec.list_id
        if key is not None and isinstance(data, Mapping) and isinstance(data.get(key), list):
            items = data[key][: self.spec.list_limit]
            if id_key is not None and len(items) == 1 and isinstance(items[0], Mapping):
                return await self._named(end_user, [str(items[0][id_key])])
            data = {**data, key: items}
        event = ToolResultEvent(self.spec.list_tool, {}, ok=True, data=data)
        answer = _render(self._listed, data, self.spec.list_tool, {})
        return LookupResult(answer, (event,), (answer,))

    async def _fetch(self, name: str, arguments: dict[str, Any], end_user: str | None) -> Any:
        """The tool's answer; None when it has no such record (404, or a number its schema
        rejects); ``_Unavailable`` when it did not answer."""
        outcome = await self._tools[name].call(arguments, end_user=end_user)
        if outcome.ok:
            return outcome.data
        if outcome.failure is ToolFailure.INVALID_ARGUMENTS or (
            outcome.failure is ToolFailure.REFUSED and outcome.status == NOT_FOUND_STATUS
        ):
            return None
        log.warning("lookup: %s", outcome.error)
        failure = (outcome.failure or ToolFailure.UNAVAILABLE).value
        raise _Unavailable(ToolResultEvent(name, arguments, ok=False, error=failure))
