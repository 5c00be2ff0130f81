"""The guardrails in the assistant's turn: the customer's message before routing, the
model's answer as it streams.

PII in the message is replaced by placeholders that stay the same for the whole session
(``<PERSON_1>`` is always the same person), so the model, the conversation store and the
logs never see it, and the answer can still address the customer: the placeholders are
turned back into the customer's values on the way out. The mapping lives in memory only,
per session (the least recently used sessions are forgotten first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

from switchboard.assistant.turn import Reply, TurnState
from switchboard.assistant.types import Intent
from switchboard.guard.placeholders import Placeholders
from switchboard.guard.scanner import Guard, Verdict
from switchboard.guard.stream import StreamModerator
from switchboard.guard.types import Action, Category, Direction

MAX_SESSIONS = 10_000


class GuardHook:
    def __init__(self, guard: Guard, max_sessions: int = MAX_SESSIONS) -> None:
        self.guard = guard
        self._sessions: OrderedDict[str, Placeholders] = OrderedDict()
        self._max_sessions = max_sessions

    async def on_input(self, state: TurnState) -> Reply | None:
        placeholders = self._placeholders(state.session_id)
        state.mask = placeholders.mask  # the customer's data quoted back is stored masked
        begin = time.perf_counter()
        verdict = await asyncio.to_thread(
            self.guard.scan, state.message, Direction.INPUT, placeholders=placeholders
        )
        state.took("guard_input", (time.perf_counter() - begin) * 1000)
        self._record(state, verdict)
        pii = [f for f in verdict.findings if f.category is Category.PII]
        state.personal = state.personal or verdict.personal(self.guard.policy)
        if verdict.action is Action.BLOCK:
            state.message = placeholders.redact(state.message, pii)  # what is kept of it
            return Reply(verdict.text, "guard", Intent.OUT_OF_SCOPE)
        state.message = verdict.text
        return None

    def on_output(self, state: TurnState, text: AsyncIterator[str]) -> AsyncIterator[str]:
        placeholders = self._placeholders(state.session_id)
        own = _known_text(state, placeholders)
        moderator = StreamModerator(
            self.guard,
            placeholders=placeholders,
            allowed=lambda value: value in own,
            on_verdict=lambda verdict: self._record(state, verdict),
        )

        async def moderated() -> AsyncIterator[str]:
            # aclosing: a turn closed early (the client left) stops the model at once
            async with contextlib.aclosing(moderator.moderate(text)) as pieces:
                async for piece in pieces:
                    yield piece
            added = moderator.added_ttft_s
            if added is not None and "guard_output" not in state.timings_ms:
                state.timings_ms["guard_output"] = added * 1000  # the hold-back's toll on TTFT

        return moderated()

    def _record(self, state: TurnState, verdict: Verdict) -> None:
        state.guard_events += verdict.events(self.guard.policy)
        state.guard_changed = state.guard_changed or verdict.changed
        if verdict.direction is Direction.OUTPUT and verdict.action is Action.BLOCK:
            state.cut_off = True

    def _placeholders(self, session_id: str) -> Placeholders:
        placeholders = self._sessions.get(session_id)
        if placeholders is None:
            placeholders = self._sessions[session_id] = Placeholders()
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(session_id)
        return placeholders


def _known_text(state: TurnState, placeholders: Placeholders) -> str:
    """What the answer may repeat without leaking anything: the customer's own message,
    the Order API's answers about their orders, and the sources the model was given (the
    help centre's own phone number or town is not a leak)."""
    parts = [state.request.message, placeholders.restore(state.message)]
    if state.lookup is not None:
        parts += state.lookup.prompt_blocks
    parts += [json.dumps(r.data, default=str) for r in state.tool_results if r.data is not None]
    parts += [hit.stored.chunk.text for hit in state.hits]
    if state.prompt is not None:
        parts += [str(m.get("content") or "") for m in state.prompt.messages]
    return "\n".join(parts)
