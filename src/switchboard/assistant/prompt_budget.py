"""Build a chat turn's prompt within an exact token budget.

The prompt is ``[system, *history, user]``. The system message holds the instructions; the
last user message holds this turn's context, a ``Tool results:`` section and a ``Sources:``
section of numbered sources (retrieved chunks, or the evidence sentences selected from
them), then the customer's question::

    Tool results:
    <block>

    Sources:
    [1] Title (url)
    <text>

    Question: <user message>

(With no context the user message is the customer's message alone.) Context next to the
question, not in the system message, is what small models answer from: measured on the
demo shop, SmolLM2-135M stated the fact ("30 days") only with this layout. (A layout of
bare facts, ``- <text> [n]``, measured worse: the model wrote the markers alone.)

Budget: ``max_model_len - max_tokens`` prompt tokens, counted exactly by an injected
``count_messages`` (the chat template's rendering, tokenized). Items are added greedily in
priority order, each candidate message list counted once:

1. the system instructions and the user message: never truncated; if they alone exceed the
   budget, ``PromptTooLongError``;
2. tool results, in order, as a prefix: the first that does not fit stops them (a later block
   may depend on an earlier one);
3. sources in rank order, skip-and-continue: a source that does not fit is dropped, and
   later (smaller) ones may still fit, so one huge chunk does not starve the rest;
4. history, newest turn first, whole turns only: the first turn that does not fit drops it and
   every older one, so the kept history is a contiguous suffix of the conversation; it
   starts with a user message (an answer whose question was dropped goes too: chat
   templates expect a user message first).

Sources are numbered ``[1]..[k]`` in the order they appear in the prompt (no number names a
source that is not there); ``citations`` maps each number back to its article and passage.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from switchboard.assistant.types import Message
from switchboard.errors import PromptTooLongError

__all__ = [
    "BuiltPrompt",
    "Citation",
    "CountMessages",
    "Message",
    "PromptBudget",
    "PromptInputs",
    "PromptTooLongError",
    "Role",
    "SourceChunk",
    "Turn",
    "build_prompt",
]

CountMessages = Callable[[list[Message]], int]
_T = TypeVar("_T")


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class Turn:
    """One past message of the conversation."""

    role: Role
    content: str


@dataclass(frozen=True)
class SourceChunk:
    """A passage of a help-center article: a retrieved chunk, or a sentence of one selected
    as evidence; ``text == article[start:end]`` where the offsets are known."""

    article_id: str
    title: str
    url: str
    text: str
    heading: str = ""  # the section's heading path, " > "-joined ("": the article's top)
    start: int | None = None
    end: int | None = None
    collection: str = ""  # the knowledge-base collection of the article


@dataclass(frozen=True)
class Citation:
    """``[number]`` in the prompt (and in the answer) refers to this article, and quotes
    its passage ``quote`` (at ``start:end`` of the article, where known)."""

    number: int
    article_id: str
    title: str
    url: str
    heading: str = ""
    quote: str = ""
    start: int | None = None
    end: int | None = None
    collection: str = ""


@dataclass(frozen=True)
class PromptInputs:
    """Everything that may go into the prompt; sequences in priority order."""

    system: str
    user_message: str
    tool_results: Sequence[str] = ()
    chunks: Sequence[SourceChunk] = ()  # rank order, best first
    history: Sequence[Turn] = ()  # oldest first


@dataclass(frozen=True)
class PromptBudget:
    """The context window and the tokens reserved for the answer."""

    max_model_len: int
    max_tokens: int

    def __post_init__(self) -> None:
        if self.max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {self.max_tokens}")
        if self.max_model_len <= self.max_tokens:
            raise ValueError(
                f"max_model_len ({self.max_model_len}) must exceed max_tokens ({self.max_tokens})"
            )

    @property
    def prompt_limit(self) -> int:
        return self.max_model_len - self.max_tokens


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[Message]
    prompt_tokens: int  # count_messages(messages), <= budget.prompt_limit
    included_chunks: list[SourceChunk]
    dropped_chunks: list[SourceChunk]
    included_turns: list[Turn]  # oldest first, a suffix of the history
    dropped_turns: list[Turn]  # oldest first, a prefix of the history
    tool_results_included: int  # the first n tool results
    citations: list[Citation]


class _Fill(enum.Enum):
    PREFIX = "prefix"  # stop at the first item that does not fit
    SKIP = "skip"  # drop an item that does not fit and try the next


@dataclass(frozen=True)
class _Draft:
    """A candidate prompt's parts; ``turns`` oldest first."""

    inputs: PromptInputs
    tools: tuple[str, ...] = ()
    chunks: tuple[SourceChunk, ...] = ()
    turns: tuple[Turn, ...] = ()

    def messages(self) -> list[Message]:
        history = [{"role": str(t.role), "content": t.content} for t in self.turns]
        return [
            {"role": "system", "content": self.inputs.system},
            *history,
            {
                "role": "user",
                "content": _user_content(self.inputs.user_message, self.tools, self.chunks),
            },
        ]


def build_prompt(
    inputs: PromptInputs, budget: PromptBudget, count_messages: CountMessages
) -> BuiltPrompt:
    """The fullest prompt, by priority, whose exact token count fits ``budget.prompt_limit``."""
    packer = _Packer(_Draft(inputs), budget.prompt_limit, count_messages)
    if packer.tokens > budget.prompt_limit:
        raise PromptTooLongError(
            prompt_tokens=packer.tokens,
            max_tokens=budget.max_tokens,
            max_model_len=budget.max_model_len,
        )
    tools, _ = packer.fill(inputs.tool_results, _add_tool, _Fill.PREFIX)
    chunks, dropped_chunks = packer.fill(inputs.chunks, _add_chunk, _Fill.SKIP)
    turns, dropped_turns = packer.fill(inputs.history[::-1], _add_older_turn, _Fill.PREFIX)
    while turns and turns[-1].role is Role.ASSISTANT:  # the oldest kept turn
        dropped_turns.insert(0, turns.pop())
        packer.replace(replace(packer.draft, turns=tuple(turns[::-1])))
    return BuiltPrompt(
        messages=packer.draft.messages(),
        prompt_tokens=packer.tokens,
        included_chunks=chunks,
        dropped_chunks=dropped_chunks,
        included_turns=turns[::-1],
        dropped_turns=dropped_turns[::-1],
        tool_results_included=len(tools),
        citations=citations_of(chunks),
    )


class _Packer:
    """The best draft so far and its exact token count; drafts are only ever grown."""

    def __init__(self, draft: _Draft, limit: int, count_messages: CountMessages) -> None:
        self.draft = draft
        self.limit = limit
        self._count = count_messages
        self.tokens = count_messages(draft.messages())

    def fill(
        self, items: Sequence[_T], add: Callable[[_Draft, _T], _Draft], fill: _Fill
    ) -> tuple[list[_T], list[_T]]:
        """Try each item in order (one count per candidate); the accepted and the dropped."""
        accepted: list[_T] = []
        dropped: list[_T] = []
        for index, item in enumerate(items):
            if self._try(add(self.draft, item)):
                accepted.append(item)
                continue
            if fill is _Fill.PREFIX:
                dropped.extend(items[index:])
                break
            dropped.append(item)
        return accepted, dropped

    def replace(self, smaller: _Draft) -> None:
        """Take a draft with parts removed (so it fits) and count it."""
        self.draft, self.tokens = smaller, self._count(smaller.messages())

    def _try(self, candidate: _Draft) -> bool:
        tokens = self._count(candidate.messages())
        if tokens > self.limit:
            return False
        self.draft, self.tokens = candidate, tokens
        return True


def _add_tool(draft: _Draft, tool: str) -> _Draft:
    return replace(draft, tools=(*draft.tools, tool))


def _add_chunk(draft: _Draft, chunk: SourceChunk) -> _Draft:
    return replace(draft, chunks=(*draft.chunks, chunk))


def _add_older_turn(draft: _Draft, turn: Turn) -> _Draft:
    return replace(draft, turns=(turn, *draft.turns))


def _user_content(question: str, tools: Sequence[str], chunks: Sequence[SourceChunk]) -> str:
    """The tool results, then the numbered sources, then the question; empty sections
    omitted, and the bare question when there is no context."""
    sections = []
    if tools:
        sections.append("Tool results:\n" + "\n\n".join(tools))
    if chunks:
        sections.append(
            "Sources:\n" + "\n\n".join(source_text(i, c) for i, c in enumerate(chunks, 1))
        )
    if not sections:
        return question
    return "\n\n".join([*sections, f"Question: {question}"])


def source_text(number: int, chunk: SourceChunk) -> str:
    """A numbered source as the model reads it: ``[n] Title (url)``, then its text."""
    heading = (
        f"[{number}] {chunk.title} ({chunk.url})" if chunk.url else f"[{number}] {chunk.title}"
    )
    return f"{heading}\n{chunk.text}"


def citations_of(chunks: Sequence[SourceChunk]) -> list[Citation]:
    """``[1]..[k]`` for the chunks, in order."""
    return [
        Citation(i, c.article_id, c.title, c.url, c.heading, c.text, c.start, c.end, c.collection)
        for i, c in enumerate(chunks, 1)
    ]
