"""Run a golden set through an assistant's real pipeline, for each model and chunk size.

Everything is real and isolated in a temporary folder: the assistant's articles are
ingested once per chunk size (each into its own collection of one knowledge store), the
demo Order API runs as its own process on a free port (for an assistant whose tools name
no base URL), and conversations go to a fresh SQLite file. Outage cases call the tools at
an address where nothing listens, through the same tool code (retries, backoff, circuit
breaker). Multi-turn cases send their earlier messages first, in the same
session; only the last message is scored. Cases run one at a time, so latencies are those
of one customer on an idle machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.definition import AssistantDefinition
from switchboard.assistant.grounding_stage import open_grounding
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.lookup import Lookup
from switchboard.assistant.orchestrator import Orchestrator, TurnRequest
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.service import ORDERS_TOKEN, evidence_stages, guard_settings, open_tools
from switchboard.assistant.transcript import Transcript
from switchboard.assistant.turn import KnowledgeSearcher, search_query
from switchboard.assistant.types import (
    QUESTION,
    DoneEvent,
)
from switchboard.config import ChunkSettings, Settings
from switchboard.demo import option_words_path
from switchboard.engine.async_engine import EngineStats
from switchboard.evaluation.golden import GoldenCase
from switchboard.evaluation.metrics import (
    CaseScore,
    TurnOutcome,
    score_case,
    summarize,
    threshold_sweep,
)
from switchboard.evaluation.provenance import git_commit, settings_hash
from switchboard.guard.factory import open_guard
from switchboard.order_ids import OrderIdFormat
from switchboard.orders.supervisor import OrderApiSupervisor, order_service
from switchboard.rag.knowledge import KnowledgeBase, open_embedder
from switchboard.rag.store import open_store
from switchboard.rag.types import CollectionRef
from switchboard.stages.guard import GuardStage
from switchboard.stages.stage import Pipeline
from switchboard.tools import ToolRegistry

SWEEP = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)
Progress = Callable[[str, bool], None]  # (what runs now, whether a case just finished)


@dataclass(frozen=True)
class EvalTarget:
    """The assistant under evaluation and the articles its collection is built from."""

    definition: AssistantDefinition
    articles: Path
    order_ids: OrderIdFormat  # the order numbers it looks up (none, without order lookups)

    def check(self, cases: Sequence[GoldenCase]) -> None:
        """Every expected intent is one the assistant declares (or its question intent)."""
        known = {intent.name for intent in self.definition.intents} or {QUESTION}
        unknown = sorted({c.expected_intent for c in cases if c.expected_intent} - known)
        if unknown:
            raise ValueError(
                f"the golden set expects intents {unknown} that assistant "
                f"{self.definition.name!r} does not declare ({', '.join(sorted(known))})"
            )


def eval_target(settings: Settings, definition: AssistantDefinition, articles: Path) -> EvalTarget:
    lookup = definition.lookup
    order_ids = lookup.ids if lookup is not None else OrderIdFormat.none()
    return EvalTarget(definition, articles, order_ids)


@dataclass(frozen=True)
class RunResult:
    model: str
    chunk_tokens: int
    summary: dict[str, Any]
    scores: list[CaseScore]
    outcomes: list[TurnOutcome]
    settings_hash: str = ""
    wall_s: float = 0.0
    messages: tuple[str, ...] = ()  # each case's last message, in the scores' order

    def to_json(self) -> dict[str, Any]:
        messages = self.messages or ("",) * len(self.scores)
        cases = [
            {**asdict(score), "message": message, "answer": o.answer, "intent": o.intent,
             "routed_intent": o.routed_intent, "cited": o.cited_article_ids,
             "retrieved": o.retrieved_article_ids, "handoff": o.handoff,
             "timings_ms": o.timings_ms, "usage": o.usage, "latency_ms": o.latency_ms,
             "answer_path": o.answer_path, "first_token_ms": o.first_token_ms}
            for score, o, message in zip(self.scores, self.outcomes, messages, strict=True)
        ]  # fmt: skip
        return {
            "model": self.model,
            "chunk_tokens": self.chunk_tokens,
            "settings_hash": self.settings_hash,
            "timings": {"wall_s": round(self.wall_s, 3)},
            "summary": self.summary,
            "cases": cases,
        }


def evaluate(
    settings: Settings,
    target: EvalTarget,
    cases: Sequence[GoldenCase],
    models: Sequence[tuple[str, Path]],
    chunk_sizes: Sequence[int],
    *,
    k: int = 5,
    progress: Progress = lambda _text, _step: None,
) -> dict[str, Any]:
    """Every (model, chunk size) run's summary and per-case scores, and the router sweep,
    with the commit, each run's settings hash and the wall times."""
    target.check(cases)
    started, begin = time.time(), time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="switchboard-eval-")))
        orders_up = (
            stack.enter_context(_order_api(settings))
            if target.definition.tools_need_base_url
            else None
        )
        embedder = open_embedder(settings.knowledge.embedding, settings.models_dir)
        stack.callback(embedder.close)
        store = open_store(str(tmp / "knowledge.sqlite3"))
        stack.callback(store.close)
        bases = {}
        for size in chunk_sizes:
            progress(f"ingesting the articles in {size}-token chunks", False)
            bases[size] = corpus_knowledge(settings, target, size, store, embedder)
        for kb in bases.values():
            stack.callback(kb.retriever.close)
        router = eval_router(settings, target, embedder)
        sweep = threshold_sweep(
            [(r.intent, r.confidence, c.expected_intent)
             for c in cases if c.expected_intent is not None and router is not None
             for r in [router.route(c.message)]],
            SWEEP,
        )  # fmt: skip
        runs: list[RunResult] = []
        for name, path in models:
            runs.extend(
                _model_runs(
                    settings, target, cases, name, path, router, bases, orders_up, tmp, k, progress
                )
            )
    return {
        "commit": git_commit(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "timings": {"wall_s": round(time.perf_counter() - begin, 3)},
        "cases": len(cases),
        "k": k,
        "router": {"threshold": settings.assistant.router_threshold, "sweep": sweep},
        "runs": [run.to_json() for run in runs],
    }


def eval_router(settings: Settings, target: EvalTarget, embedder: Any) -> SemanticRouter | None:
    """The assistant's router, as served; None for an assistant without intents."""
    if not target.definition.intents:
        return None
    return SemanticRouter(
        embedder,
        target.definition.intents,
        order_ids=target.order_ids,
        threshold=target.definition.settings(settings.assistant).router_threshold,
    )


def _model_runs(
    settings: Settings,
    target: EvalTarget,
    cases: Sequence[GoldenCase],
    name: str,
    path: Path,
    router: SemanticRouter | None,
    bases: dict[int, KnowledgeBase],
    orders: OrderApiSupervisor | None,
    tmp: Path,
    k: int,
    progress: Progress,
) -> list[RunResult]:
    """One model's runs, one per chunk size, sharing its loaded engine."""
    from switchboard.engine.local import LocalEngine

    engine = LocalEngine(name, path, settings.engine, draft_path(settings))
    engine.start()
    try:
        model = LocalChatModel(engine)
        runs = []
        for size, kb in bases.items():
            progress(f"{name}, {size}-token chunks", False)
            conversations = tmp / f"conversations-{name.replace(':', '_')}-{size}.sqlite3"
            run = _run(settings, target, cases, model, router, kb, size, orders, conversations,
                       k, progress)  # fmt: skip
            before = engine.async_engine.stats
            begin = time.perf_counter()
            result = asyncio.run(run)
            result.summary.update(prefill_per_call(before, engine.async_engine.stats))
            runs.append(
                replace(
                    result,
                    settings_hash=settings_hash(settings, target.definition, name),
                    wall_s=time.perf_counter() - begin,
                )
            )
        return runs
    finally:
        engine.close()


def draft_path(settings: Settings) -> Path | None:
    """The draft model's file when the engine speculates with one (it must be pulled)."""
    engine = settings.engine
    if engine.speculative != "draft" or engine.draft_model is None:
        return None
    from switchboard.models import ModelRegistry  # imports llama.cpp: only when needed

    return ModelRegistry(settings.models_dir, engine.n_threads).resolve(engine.draft_model)


def prefill_per_call(before: EngineStats, after: EngineStats) -> dict[str, float]:
    """Prompt tokens the engine computed and reused per model call between two readings."""
    calls = after.prefix_cache_lookups - before.prefix_cache_lookups
    computed = after.prefill_tokens_computed - before.prefill_tokens_computed
    reused = after.prefill_tokens_reused - before.prefill_tokens_reused
    return {
        "model_calls": calls,
        "prefill_tokens_per_call": round(computed / calls, 1) if calls else 0.0,
        "reused_tokens_per_call": round(reused / calls, 1) if calls else 0.0,
    }


def corpus_knowledge(
    settings: Settings, target: EvalTarget, size: int, store: Any, embedder: Any
) -> KnowledgeBase:
    """The target's articles ingested in ``size``-token chunks into their own collection."""
    chunking = ChunkSettings(chunk_tokens=size, overlap_tokens=min(32, size // 4))
    knowledge = settings.knowledge.model_copy(update={"chunking": chunking})
    kb = KnowledgeBase.assemble(knowledge, store, embedder)
    ref = eval_collection(settings, target, size)
    files = kb.ingestor.list_files([target.articles])
    if not files:
        raise ValueError(f"no articles to ingest in {target.articles}")
    report = kb.ingestor.ingest_files(ref, files, delete_missing=True)
    if report.failures:
        raise ValueError(f"articles failed to ingest: {report.failures[0]}")
    return kb


def eval_collection(settings: Settings, target: EvalTarget, size: int) -> CollectionRef:
    name = f"{target.definition.collection_names[0]}-{size}"
    return CollectionRef(settings.knowledge.default_tenant, name)


async def _run(
    settings: Settings,
    target: EvalTarget,
    cases: Sequence[GoldenCase],
    model: LocalChatModel,
    router: SemanticRouter | None,
    kb: KnowledgeBase,
    size: int,
    orders: OrderApiSupervisor | None,
    conversations_path: Path,
    k: int,
    progress: Progress,
) -> RunResult:
    definition = target.definition
    config = definition.settings(settings.assistant)
    searcher = KnowledgeSearcher(kb, eval_collection(settings, target, size), config.top_k)
    scorer = KnowledgeSearcher(kb, eval_collection(settings, target, size), k)
    conversations = ConversationStore(conversations_path)
    secrets = {ORDERS_TOKEN: orders.token} if orders is not None else {}
    up = open_tools(definition, orders.url if orders is not None else "", secrets)
    down = open_tools(definition, f"http://127.0.0.1:{_free_port()}", secrets)

    # as served (guarded), never cached
    guard = None
    if definition.guard:
        allowed = (target.order_ids.pattern,)
        guard = open_guard(guard_settings(settings, definition), definition.system_prompts, allowed)
    evidence = evidence_stages(config, kb.embedder, searcher)
    grounding = open_grounding(config.grounding, option_words_path())
    guarded = GuardStage(guard) if guard is not None else None
    stages = Pipeline([s for s in (guarded, grounding) if s is not None])

    def orchestrator(tools: ToolRegistry | None) -> Orchestrator:
        lookup = definition.lookup
        return Orchestrator(
            config,
            definition=definition,
            router=router,
            model=model,
            searcher=searcher,
            conversations=conversations,
            lookup=Lookup(lookup, tools) if lookup is not None and tools is not None else None,
            tools=tools,
            stages=stages,
            evidence=evidence.evidence,
            answerability=evidence.answerability,
            quoter=evidence.quoter,
        )

    pipelines = {"up": orchestrator(up), "down": orchestrator(down)}
    scores, outcomes = [], []
    try:
        for case in cases:
            pipeline = pipelines[case.order_api]
            outcome = await _case(pipeline, case, scorer)
            outcomes.append(outcome)
            scores.append(score_case(case, outcome, k))
            progress(f"{model.name}, {size}-token chunks: {case.id}", True)
    finally:
        for client in (up, down):
            if client is not None:
                await client.aclose()
        conversations.close()
    messages = tuple(case.message for case in cases)
    return RunResult(model.name, size, summarize(scores, outcomes), scores, outcomes,
                     messages=messages)  # fmt: skip


async def _case(pipeline: Orchestrator, case: GoldenCase, scorer: KnowledgeSearcher) -> TurnOutcome:
    session_id = None
    try:
        for message in case.history:
            async for event in pipeline.turn(TurnRequest(case.customer_id, message, session_id)):
                if isinstance(event, DoneEvent):
                    session_id = event.session_id
        request = TurnRequest(case.customer_id, case.message, session_id)
        previous = case.history[-1] if case.history else None
        query = search_query(pipeline.focus(case.message), previous, pipeline.order_ids)
        return await _last_turn(pipeline, request, query, scorer)
    except Exception as exc:  # a case that fails is reported, and the run goes on
        return TurnOutcome("", "", 0.0, (), (), None, (), {}, {}, 0.0, error=repr(exc))


async def _last_turn(
    pipeline: Orchestrator, request: TurnRequest, query: str, scorer: KnowledgeSearcher
) -> TurnOutcome:
    """The turn's outcome; ``query`` is what its retrieval searched (for hit@k)."""
    transcript = Transcript()
    first: float | None = None
    begin = time.perf_counter()
    async for event in pipeline.turn(request):
        if transcript.see(event):
            first = first or time.perf_counter()
    latency = (time.perf_counter() - begin) * 1000
    done = transcript.done
    if done is None:
        raise RuntimeError("the turn ended without a done event")
    tools = [{"tool": t.tool, "ok": t.ok, "data": t.data} for t in transcript.tools]
    hits = await asyncio.to_thread(scorer.search, query)
    retrieved = tuple(dict.fromkeys(h.stored.chunk.document_id for h in hits))
    return TurnOutcome(
        answer=transcript.answer,
        intent=done.intent,
        routed_intent=done.routed_intent,
        confidence=done.confidence,
        cited_article_ids=done.cited_article_ids,
        retrieved_article_ids=retrieved,
        handoff=transcript.handoff_kind,
        tool_results=tuple(tools),
        timings_ms=dict(done.timings_ms),
        usage=dict(done.usage),
        latency_ms=latency,
        answer_path=done.answer_path.value,
        first_token_ms=(first - begin) * 1000 if first is not None else None,
    )


@contextlib.contextmanager
def _order_api(settings: Settings) -> Iterator[OrderApiSupervisor]:
    """The Order API as its own process on a free port (the configured database)."""
    orders = settings.orders.model_copy(update={"port": 0})
    with order_service(orders, settings.orders_db, quiet=True) as supervisor:
        yield supervisor


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
