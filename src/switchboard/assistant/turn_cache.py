"""The response cache's view of an assistant turn (the cache stage, ``stages.cache``, does
the looking up and storing).

Only answers that are the same for every customer and passed the grounding check are
cached: never one the check did not see, one that used the Order API, one that leans on
the conversation before it (a follow-up), or one sampled at a temperature above zero
(unless ``cache_sampled``); the stage adds personal data and guardrail changes. Entries
are scoped by tenant, model, system prompts and the knowledge base's version, so an
edited article is never answered from before the edit. A cached answer keeps the turn's
intent and citations.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from switchboard.assistant.answer_path import answer_path, reported_intent
from switchboard.assistant.turn import TurnState, search_query
from switchboard.assistant.types import AnswerPath
from switchboard.cache.keys import exact_key, system_hash
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.order_ids import OrderIdFormat
from switchboard.stages.cache import CacheRequest

KB_VERSION_TTL_S = 1.0
# What the grounding check lets through is grounded: as generated, repaired or quoted.
GROUNDED = frozenset({AnswerPath.GENERATED, AnswerPath.REPAIRED, AnswerPath.QUOTED})


class TurnKeys:
    def __init__(
        self,
        *,
        tenant: str,
        model: str,
        system_prompts: Sequence[str],
        kb_version: Callable[[], str],
        order_ids: OrderIdFormat,
        temperature: float,
        max_tokens: int,
        cache_sampled: bool = False,
        kb_version_ttl_s: float = KB_VERSION_TTL_S,
    ) -> None:
        self._tenant = tenant
        self._model = model
        self._system = system_hash("\n".join(system_prompts))
        self._kb_version = kb_version
        self._order_ids = order_ids
        self._params = {"temperature": temperature, "max_tokens": max_tokens}
        self._enabled = temperature == 0 or cache_sampled
        self._version = ""
        self._version_ttl_s = kb_version_ttl_s
        self._version_read_at = -kb_version_ttl_s

    def request(self, state: TurnState, *, failed: bool = False) -> CacheRequest | None:
        """A sampled turn is neither looked up nor stored, but gets a stored answer when
        its model fails."""
        if not ((self._enabled or failed) and self._shareable(state)):
            return None
        exact = exact_key([{"role": "user", "content": state.message}], self._params)
        return CacheRequest(self._scope(), state.message, exact)

    def answer(self, state: TurnState) -> CachedAnswer | None:
        if not self._cacheable(state):
            return None
        intent = reported_intent(state, answer_path(state))
        return CachedAnswer(
            "".join(state.answer).strip(),
            {
                "intent": intent,
                "citations": [dataclasses.asdict(c) for c in state.citations],
            },
        )

    def _shareable(self, state: TurnState) -> bool:
        """A question whose answer does not depend on who asks or what was said before (a
        turn after a proposal may be its confirmation)."""
        if self._order_ids.find(state.message) or state.pending is not None:
            return False
        previous = next((m.content for m in reversed(state.history) if m.role == "user"), None)
        return search_query(state.message, previous, self._order_ids) == state.message

    def _cacheable(self, state: TurnState) -> bool:
        return (
            self._shareable(state)
            and state.reply_source is None
            and state.lookup is None
            and not state.tool_results
            and state.handoff is None
            and "model" in state.timings_ms
            and state.grounding in GROUNDED
            and bool("".join(state.answer).strip())
        )

    def _scope(self) -> CacheScope:
        """The knowledge base's version is read at most once per ``kb_version_ttl_s`` (a
        query over its documents): an answer can outlive an edit of its article by that."""
        now = time.monotonic()
        if now - self._version_read_at >= self._version_ttl_s:
            self._version, self._version_read_at = self._kb_version(), now
        return CacheScope(self._tenant, self._model, self._system, self._version)
