"""The guardrails as a stage: the request's messages before anything else sees them, the
answer's text before the client does.

Input: each user message gets every check; the others (system, assistant, tool: an
earlier answer may quote the customer's data back) are checked for PII only. PII is
replaced by placeholders, the same value getting the same placeholder across the request
and, for an exchange with a ``session_key``, across the conversation (the least recently
used conversations are forgotten first). A message the policy blocks refuses the request
with the safe message (``Answer.refused``): the gateway answers it with a 400, the
assistant says it. Output: the stream moderator releases the answer with a bounded
hold-back, checks it for leaks of the request's instructions and of personal data the
client did not send itself, and turns the placeholders back into their values.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from switchboard.errors import RequestCancelledError
from switchboard.guard.placeholders import Placeholders
from switchboard.guard.scanner import Guard, Verdict
from switchboard.guard.stream import StreamModerator
from switchboard.guard.types import Action, Category, Direction
from switchboard.stages.stage import Answer, Exchange, Stage

MAX_SESSIONS = 10_000


class GuardStage(Stage[Exchange]):
    def __init__(self, guard: Guard, max_sessions: int = MAX_SESSIONS) -> None:
        self.guard = guard
        self._sessions: OrderedDict[str, Placeholders] = OrderedDict()
        self._max_sessions = max_sessions

    async def on_input(self, exchange: Exchange) -> Answer | None:
        if exchange.session_key is not None:
            exchange.placeholders = self._session(exchange.session_key)
        messages = exchange.guard_messages()
        cancelled = threading.Event()  # set when this task is cancelled (client gone)
        begin = time.perf_counter()
        try:
            refusal, checked = await asyncio.to_thread(
                check_messages, self.guard, messages, exchange, cancelled.is_set
            )
        finally:
            cancelled.set()
        exchange.took("guard_input", (time.perf_counter() - begin) * 1000)
        exchange.use_guarded(checked)
        return Answer(refusal, "guard") if refusal is not None else None

    def on_output(self, exchange: Exchange, text: AsyncIterator[str]) -> AsyncIterator[str]:
        moderator = self.moderator(exchange)

        async def moderated() -> AsyncIterator[str]:
            # aclosing: a request closed early (the client left) stops the model at once
            async with contextlib.aclosing(moderator.moderate(text)) as pieces:
                async for piece in pieces:
                    yield piece
            added = moderator.added_ttft_s
            if added is not None and "guard_output" not in exchange.timings_ms:
                exchange.timings_ms["guard_output"] = added * 1000  # the hold-back's toll

        return moderated()

    def moderator(self, exchange: Exchange) -> StreamModerator:
        """The answer's moderator (the gateway feeds it the chunks' content itself)."""
        instructions = exchange.instructions()
        known = exchange.known_text()
        return StreamModerator(
            self.guard.with_system_prompts(instructions) if instructions else self.guard,
            placeholders=exchange.placeholders,
            allowed=lambda value: value in known,
            on_verdict=lambda verdict: record(self.guard, exchange, verdict),
        )

    def _session(self, key: str) -> Placeholders:
        placeholders = self._sessions.get(key)
        if placeholders is None:
            placeholders = self._sessions[key] = Placeholders()
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(key)
        return placeholders


def check_messages(
    guard: Guard,
    messages: list[dict[str, Any]],
    exchange: Exchange,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[str | None, list[dict[str, Any]]]:
    """The safe message if the policy blocks a user message (None otherwise), and the
    messages with PII redacted (a blocked message keeps only its PII redacted, for the
    log). Raises ``RequestCancelledError`` between messages and detectors once
    ``cancelled()`` (it runs in a worker thread a client leaving cannot interrupt)."""
    refusal: str | None = None
    checked = []
    for message in messages:
        if cancelled():
            raise RequestCancelledError("the input guard stopped: the request was cancelled")
        user = message.get("role") == "user"

        def text(value: str, user: bool = user) -> str:
            nonlocal refusal
            full = user and refusal is None  # after a refusal: PII only, for the log
            safe, redacted = _checked_text(guard, value, exchange, full, cancelled)
            refusal = refusal or safe
            return redacted

        checked.append(_with_texts(message, text))
    return refusal, checked


def _with_texts(message: Mapping[str, Any], text: Callable[[str], str]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": text(content)}
    if isinstance(content, list):  # content parts: the text ones are checked
        parts = [
            {**p, "text": text(p["text"])}
            if isinstance(p, Mapping) and isinstance(p.get("text"), str)
            else p
            for p in content
        ]
        return {**message, "content": parts}
    return dict(message)


def _checked_text(
    guard: Guard, text: str, exchange: Exchange, full: bool, stop: Callable[[], bool]
) -> tuple[str | None, str]:
    """(the safe message if blocked, the text as kept)."""
    placeholders = exchange.placeholders
    if full:
        verdict = guard.scan(text, Direction.INPUT, placeholders=placeholders, stop=stop)
    else:
        pii = guard.find(text, Direction.INPUT, categories={Category.PII}, stop=stop)
        verdict = guard.apply(text, Direction.INPUT, pii, placeholders)
    exchange.guard_events += verdict.events(guard.policy)
    exchange.personal = exchange.personal or verdict.personal(guard.policy)
    if verdict.action is Action.BLOCK:
        exchange.guard_changed = True
        pii = [f for f in verdict.findings if f.category is Category.PII]
        return verdict.text, guard.apply(text, Direction.INPUT, pii, placeholders).text
    exchange.guard_changed = exchange.guard_changed or verdict.changed
    return None, verdict.text


def record(guard: Guard, exchange: Exchange, verdict: Verdict) -> None:
    """An output verdict's events; a block cuts the answer off."""
    exchange.guard_events += verdict.events(guard.policy)
    exchange.guard_changed = exchange.guard_changed or verdict.changed
    if verdict.direction is Direction.OUTPUT and verdict.action is Action.BLOCK:
        exchange.cut_off = True
