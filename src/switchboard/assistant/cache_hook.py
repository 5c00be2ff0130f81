"""The response cache in the assistant's turn: a cached answer instead of the pipeline,
the pipeline's answer stored for next time, and a cached answer when the model fails.

Only answers that are the same for every customer and passed the grounding check are
cached: never one the check did not see, one that used the Order API or the customer's
personal data, one a guardrail changed, one that leans on the conversation before it (a
follow-up), or one sampled at a temperature above zero (unless ``cache_sampled``).
Entries are scoped by tenant, model, system prompts and the knowledge base's version, so
an edited article is never answered from before the edit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence

from switchboard.assistant.prompt_budget import Citation
from switchboard.assistant.turn import Reply, TurnState, search_query
from switchboard.assistant.types import AnswerPath, Intent
from switchboard.cache.keys import exact_key, system_hash
from switchboard.cache.service import ResponseCache
from switchboard.cache.types import CachedAnswer, CacheHit, CacheScope
from switchboard.order_ids import OrderIdFormat

KB_VERSION_TTL_S = 1.0
# What the grounding check lets through is grounded: as generated, repaired or quoted.
GROUNDED = frozenset({AnswerPath.GENERATED, AnswerPath.REPAIRED, AnswerPath.QUOTED})


class CacheHook:
    def __init__(
        self,
        cache: ResponseCache,
        *,
        tenant: str,
        model: str,
        system_prompts: Sequence[str],
        kb_version: Callable[[], str],
        order_ids: OrderIdFormat,
        temperature: float,
        max_tokens: int,
        cache_sampled: bool = False,
        serve_on_failure: bool = True,
        kb_version_ttl_s: float = KB_VERSION_TTL_S,
    ) -> None:
        self.cache = cache
        self._tenant = tenant
        self._model = model
        self._system = system_hash("\n".join(system_prompts))
        self._kb_version = kb_version
        self._order_ids = order_ids
        self._params = {"temperature": temperature, "max_tokens": max_tokens}
        self._enabled = temperature == 0 or cache_sampled
        self._serve_on_failure = serve_on_failure
        self._fallback_threshold = cache.settings.fallback_threshold
        self._pending: set[asyncio.Task[None]] = set()
        self._prefetching: dict[int, asyncio.Future[None]] = {}
        self._version = ""
        self._version_ttl_s = kb_version_ttl_s
        self._version_read_at = -kb_version_ttl_s

    def prepare(self, state: TurnState) -> None:
        """Embed the question while the guard checks it (on the other core): if the guard
        changes nothing, the lookup finds the vector ready."""
        if self._enabled and self._shareable(state):
            key = id(state)
            future = asyncio.ensure_future(asyncio.to_thread(self.cache.prefetch, state.message))
            future.add_done_callback(lambda _: self._prefetching.pop(key, None))
            self._prefetching[key] = future

    async def on_input(self, state: TurnState) -> Reply | None:
        prefetch = self._prefetching.pop(id(state), None)
        if prefetch is not None:
            await prefetch
            if state.personal:  # the guard found personal data: not even kept in memory
                self.cache.forget(state.request.message)
        if not (self._enabled and self._shareable(state)):
            return None
        hit = await asyncio.to_thread(self._get, state.message)
        state.cache = hit.kind.value if hit else "miss"
        return _reply(hit, f"cache:{hit.kind}") if hit else None

    async def on_done(self, state: TurnState) -> None:
        """Stores the answer in the background: the customer does not wait for it."""
        if not (self._enabled and self._cacheable(state)):
            return
        answer = CachedAnswer(
            "".join(state.answer).strip(),
            {
                "intent": state.route.intent.value if state.route else Intent.SMALL_TALK.value,
                "citations": [dataclasses.asdict(c) for c in state.citations],
            },
        )
        task = asyncio.create_task(asyncio.to_thread(self._put, state.message, answer))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def on_failure(self, state: TurnState, error: Exception) -> Reply | None:
        if not (self._serve_on_failure and self._shareable(state)):
            return None
        hit = await asyncio.to_thread(self._get, state.message, self._fallback_threshold)
        if hit is None:
            return None
        state.cache = "fallback"
        return _reply(hit, "cache:fallback")

    async def drain(self) -> None:
        """Wait for the answers being stored (before closing the cache)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _scope(self) -> CacheScope:
        """The knowledge base's version is read at most once per ``kb_version_ttl_s`` (a
        query over its documents): an answer can outlive an edit of its article by that."""
        now = time.monotonic()
        if now - self._version_read_at >= self._version_ttl_s:
            self._version, self._version_read_at = self._kb_version(), now
        return CacheScope(self._tenant, self._model, self._system, self._version)

    def _get(self, message: str, threshold: float | None = None) -> CacheHit | None:
        return self.cache.get(self._scope(), message, self._exact(message), threshold=threshold)

    def _put(self, message: str, answer: CachedAnswer) -> None:
        self.cache.put(self._scope(), message, self._exact(message), answer)

    def _exact(self, message: str) -> str:
        return exact_key([{"role": "user", "content": message}], self._params)

    def _shareable(self, state: TurnState) -> bool:
        """A question whose answer does not depend on who asks or what was said before."""
        if state.personal or self._order_ids.find(state.message):
            return False
        previous = next((m.content for m in reversed(state.history) if m.role == "user"), None)
        return search_query(state.message, previous, self._order_ids) == state.message

    def _cacheable(self, state: TurnState) -> bool:
        return (
            self._shareable(state)
            and state.reply_source is None
            and not state.guard_changed
            and state.lookup is None
            and not state.tool_results
            and state.handoff is None
            and "model" in state.timings_ms
            and state.grounding in GROUNDED
            and bool("".join(state.answer).strip())
        )


def _reply(hit: CacheHit, source: str) -> Reply:
    extra = hit.answer.extra
    citations = tuple(Citation(**c) for c in extra.get("citations", ()))
    intent = Intent(extra.get("intent", Intent.SMALL_TALK.value))
    return Reply(hit.answer.text, source, intent, citations)
