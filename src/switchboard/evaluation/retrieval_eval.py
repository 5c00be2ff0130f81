"""``switchboard eval --no-generate``: the golden set's routing and retrieval, without a model.

Each case's last message is routed and searched exactly as an assistant turn does it
(``QueryFocus`` of the settings, the route of the focused message, the follow-up rule of
``search_query``), over the assistant's articles ingested into a fresh store per chunk
size. No
model is loaded and nothing is generated, so a run takes seconds: the way to compare router
examples, query focusing and fusion settings on a golden file.

Per run: intent accuracy (the router's best intent, confident or not; for an assistant
without intents, none), the share of
confident routes and their accuracy, and retrieval hit@k (an expected article among the
first ``k`` distinct articles) with MRR@k, plus each case's route and articles.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from switchboard.assistant.focus import QueryFocus, with_order_ids
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.turn import KnowledgeSearcher, search_query
from switchboard.assistant.types import QUESTION, Route
from switchboard.config import Settings
from switchboard.evaluation.golden import GoldenCase
from switchboard.evaluation.runner import (
    EvalTarget,
    corpus_knowledge,
    eval_collection,
    eval_router,
)
from switchboard.order_ids import OrderIdFormat
from switchboard.rag.knowledge import open_embedder
from switchboard.rag.store import open_store

Progress = Callable[[str, bool], None]
RETRIEVAL_FIELDS = {"mode", "weights", "fusion", "reranker"}


def evaluate_retrieval(
    settings: Settings,
    target: EvalTarget,
    cases: Sequence[GoldenCase],
    chunk_sizes: Sequence[int],
    *,
    k: int = 5,
    router: SemanticRouter | None = None,
    progress: Progress = lambda _text, _step: None,
) -> dict[str, Any]:
    """One run per chunk size: routing and retrieval figures and per-case rows; ``router``
    replaces the one built from the settings (to compare example sets)."""
    target.check(cases)
    config = target.definition.settings(settings.assistant)
    focus = QueryFocus(config.query_focus, min_words=config.focus_min_words)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="switchboard-eval-")))
        embedder = open_embedder(settings.knowledge.embedding, settings.models_dir)
        stack.callback(embedder.close)
        store = open_store(str(tmp / "knowledge.sqlite3"))
        stack.callback(store.close)
        order_ids = target.order_ids
        router = router or eval_router(settings, target, embedder)
        routes = [
            with_order_ids(
                router.route(focus(c.message)) if router else Route(QUESTION, 0.0, False),
                c.message,
                order_ids,
            )
            for c in cases
        ]
        runs = []
        for size in chunk_sizes:
            progress(f"ingesting the articles in {size}-token chunks", False)
            kb = corpus_knowledge(settings, target, size, store, embedder)
            stack.callback(kb.retriever.close)
            searcher = KnowledgeSearcher(kb, eval_collection(settings, target, size), k)
            rows = [
                _case_row(case, route, _retrieved(searcher, focus, order_ids, case), k)
                for case, route in zip(cases, routes, strict=True)
            ]
            runs.append({"chunk_tokens": size, "summary": summarize(rows), "cases": rows})
            progress(f"{size}-token chunks searched", True)
    return {
        "cases": len(cases),
        "k": k,
        "focus": {"strategy": focus.strategy.value, "min_words": focus.min_words},
        "retrieval": _retrieval_settings(settings),
        "runs": runs,
    }


def _retrieved(
    searcher: KnowledgeSearcher, focus: QueryFocus, order_ids: OrderIdFormat, case: GoldenCase
) -> list[str]:
    previous = case.history[-1] if case.history else None
    hits = searcher.search(search_query(focus(case.message), previous, order_ids))
    return list(dict.fromkeys(h.stored.chunk.document_id for h in hits))


def _case_row(case: GoldenCase, route: Route, retrieved: list[str], k: int) -> dict[str, Any]:
    expected = set(case.expected_sources)
    rank = next((i for i, a in enumerate(retrieved[:k], start=1) if a in expected), None)
    return {
        "id": case.id,
        "expected_intent": case.expected_intent,
        "intent": route.intent,
        "confidence": round(route.confidence, 4),
        "confident": route.confident,
        "expected_sources": list(case.expected_sources),
        "retrieved": retrieved[:k],
        "hit_rank": rank if expected else None,
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Intent accuracy, confident share and accuracy, hit@k and MRR@k over the rows."""
    judged = [r for r in rows if r["expected_intent"] is not None]
    right = [r["intent"] == r["expected_intent"] for r in judged]
    confident = [ok for ok, r in zip(right, judged, strict=True) if r["confident"]]
    scored = [r for r in rows if r["expected_sources"]]
    return {
        "intent_accuracy": _mean([float(ok) for ok in right]),
        "confident_share": _mean([float(r["confident"]) for r in rows]),
        "confident_accuracy": _mean([float(ok) for ok in confident]),
        "retrieval_hit_at_k": _mean([float(r["hit_rank"] is not None) for r in scored]),
        "retrieval_mrr_at_k": _mean([1 / r["hit_rank"] if r["hit_rank"] else 0.0 for r in scored]),
        "retrieval_cases": len(scored),
    }


def _retrieval_settings(settings: Settings) -> dict[str, Any]:
    return settings.knowledge.retrieval.model_dump(mode="json", include=RETRIEVAL_FIELDS)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
