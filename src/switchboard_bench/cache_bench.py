"""``switchboard bench cache``: hit and false-hit rates of the semantic cache on labelled
question pairs (``cache_eval``), and what a hit costs end to end over HTTP.

End to end means the real server in-process (uvicorn on loopback, the real guardrails,
the real MiniLM embedder, the SQLite cache), a fake OpenAI-compatible model server behind
it (``fake_upstream``: it answers at once, so a miss costs only our own path plus one
loopback hop), and the time from sending the request to the last byte of the answer:

- gateway: ``POST /v1/chat/completions`` (``temperature: 0``, not streamed): a miss, then
  the same request (exact hits) and paraphrases of it (semantic hits);
- assistant: ``POST /v1/assistant/chat`` (the SSE stream read to its ``done`` event) over
  the demo shop's knowledge base: a miss, then the same question (exact hits) and its
  paraphrases (semantic hits).

A repeated text's guardrail findings are remembered (``Guard.scan``), so an exact hit
skips the input checks; each paraphrase is a text never seen before, and pays for the
checks and its embedding.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from switchboard.config import (
    AssistantSettings,
    GatewaySettings,
    ProviderSettings,
    RemoteModelSettings,
    RouteSettings,
    RouteTarget,
    Settings,
)
from switchboard.rag.embedder import Embedder
from switchboard_bench import cache_eval
from switchboard_bench.fake_upstream import Behaviour, run_in_thread
from switchboard_bench.stats import percentiles_ms
from switchboard_bench.uvicorn_thread import serve

QUESTION = "How long do I have to send back something I bought?"
PARAPHRASES = (
    "how long do I have to send back something I bought",
    "How long do I have to send back something that I bought?",
    "How long do I have to send something back that I bought?",
)
FILLERS = (
    "",
    " Thanks!",
    " Thank you.",
    " Cheers.",
    " Please help.",
    " Just wondering.",
    " Quick question.",
    " Many thanks.",
    " Regards.",
    " Thanks a lot.",
    " Hi!",
    " Ta.",
)
CUSTOMER = "C1005"


def paraphrases() -> list[str]:
    """Distinct texts that should all hit the cached question semantically: each is asked
    once, so neither the guard's memory of recent texts nor the query-embedding memo
    makes them cheaper than a new customer's question."""
    return [p + f for f in FILLERS for p in PARAPHRASES]


def _ms(samples: Sequence[float]) -> dict[str, float]:
    return percentiles_ms(samples, 50, 99)


def _timed(call: Callable[[], str | None]) -> tuple[float, str | None]:
    begin = time.perf_counter()
    result = call()
    return time.perf_counter() - begin, result


@contextmanager
def _fake_model() -> Iterator[str]:
    with run_in_thread(Behaviour(chunks=24)) as url:
        yield url


def gateway_latency(
    settings: Settings, embedder: Embedder, requests: int, advance: Callable[[], None]
) -> dict[str, Any]:
    from switchboard.api import create_app

    with tempfile.TemporaryDirectory() as tmp, _fake_model() as upstream:
        provider = ProviderSettings(name="up", base_url=upstream, max_retries=0)
        route = RouteSettings(targets=[RouteTarget(provider="up", model="m")])
        gateway = GatewaySettings(auth="off", providers=[provider], routes={"chat": route})
        local = settings.model_copy(
            update={"data_dir": Path(tmp), "gateway": gateway, "cache": _fresh(settings, tmp)}
        )
        app = create_app(None, local, embedder=embedder)
        with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:

            def ask(message: str) -> Callable[[], str | None]:
                body = {
                    "model": "chat",
                    "temperature": 0,
                    "messages": [{"role": "user", "content": message}],
                }

                def post() -> str | None:
                    response = client.post("/v1/chat/completions", json=body)
                    response.raise_for_status()
                    return response.headers.get("x-switchboard-cache")

                return post

            misses = [_timed(ask(f"{QUESTION} ({n})")) for n in range(20)]
            _timed(ask(QUESTION))
            time.sleep(0.5)  # the answer is stored after the response
            exact = []
            for _ in range(requests):
                exact.append(_timed(ask(QUESTION)))
                advance()
            semantic = [_timed(ask(text)) for text in paraphrases()]
    return {
        "miss": _ms([s for s, _ in misses]),
        "exact_hit": _ms([s for s, k in exact if k == "exact"]),
        "semantic_hit": _ms([s for s, k in semantic if k == "semantic"]),
        "hit_kinds": {
            "exact": sorted({str(k) for _, k in exact}),
            "semantic": sorted({str(k) for _, k in semantic}),
        },
    }


def assistant_latency(
    settings: Settings, tokenizer_gguf: Path, requests: int, advance: Callable[[], None]
) -> dict[str, Any]:
    from switchboard.api import create_app
    from switchboard.assistant.remote_model import open_remote_model
    from switchboard.assistant.service import open_assistants
    from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
    from switchboard.rag.knowledge import KnowledgeBase
    from switchboard.rag.types import CollectionRef

    with tempfile.TemporaryDirectory() as tmp, _fake_model() as upstream:
        remote = RemoteModelSettings(
            base_url=upstream.removesuffix("/v1"),
            model="m",
            max_model_len=2048,
            tokenizer=settings.model,
            supports_tools=False,
        )
        local = settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "assistant": AssistantSettings(remote=remote, answer_mode="generate"),
                "cache": _fresh(settings, tmp),
                "knowledge": settings.knowledge.model_copy(update={"store": None}),
            }
        )
        kb = KnowledgeBase.open(local.knowledge, local.knowledge_store, settings.models_dir)
        ref = CollectionRef(local.knowledge.default_tenant, DEMO_COLLECTION)
        kb.ingestor.ingest_files(ref, kb.ingestor.list_files([shop_articles_dir()]))
        model = open_remote_model(remote, tokenizer_gguf)
        assistants = open_assistants(local, model, kb)
        app = create_app(None, local, knowledge=kb, assistants=assistants)
        with serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:

            def ask(message: str) -> Callable[[], str | None]:
                def post() -> str | None:
                    body = {"customer_id": CUSTOMER, "message": message}
                    with client.stream("POST", "/v1/assistant/chat", json=body) as response:
                        response.raise_for_status()
                        done = None
                        for line in response.iter_lines():
                            if line.startswith("data: ") and '"turn_id"' in line:
                                done = json.loads(line.removeprefix("data: "))
                    return done.get("cache") if done else None

                return post

            first = _timed(ask(QUESTION))
            time.sleep(0.5)
            exact = []
            for _ in range(requests):
                exact.append(_timed(ask(QUESTION)))
                advance()
            semantic = [_timed(ask(text)) for text in paraphrases()]
        kb.close()
    return {
        "miss": {"ms": round(first[0] * 1000, 2), "cache": first[1]},
        "exact_hit": _ms([s for s, k in exact if k == "exact"]),
        "semantic_hit": _ms([s for s, k in semantic if k == "semantic"]),
        "hit_kinds": {
            "exact": sorted({str(k) for _, k in exact}),
            "semantic": sorted({str(k) for _, k in semantic}),
        },
    }


def _fresh(settings: Settings, tmp: str) -> Any:
    return settings.cache.model_copy(update={"backend": "sqlite", "db_path": Path(tmp) / "c.db"})


def run(
    settings: Settings, tokenizer_gguf: Path, *, requests: int = 100, progress: bool = True
) -> dict[str, Any]:
    """``tokenizer_gguf``: the default model's file, whose vocabulary the assistant counts
    its prompts with."""
    from switchboard.rag.knowledge import open_embedder

    embedder = open_embedder(settings.knowledge.embedding, settings.models_dir)
    try:
        quality = cache_eval.run(settings.cache, embedder, progress=progress)
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("gateway hits over HTTP", total=requests)
            gateway = gateway_latency(settings, embedder, requests, lambda: bar.advance(task))
            task = bar.add_task("assistant hits over HTTP", total=requests)
            assistant = assistant_latency(
                settings, tokenizer_gguf, requests, lambda: bar.advance(task)
            )
    finally:
        embedder.close()
    return {"quality": quality, "end_to_end": {"gateway": gateway, "assistant": assistant}}
