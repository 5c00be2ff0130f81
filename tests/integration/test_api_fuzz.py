"""Schemathesis against the real server, from its own OpenAPI document.

Everything real: the default model in the engine (a small window and short answers keep
chat examples fast), the bundled embedding model over two help articles, the guardrails,
the assistant with the Order API as its own process, uvicorn on a free loopback port,
authentication on and a key with every scope sent as a bearer token. Every operation gets
a bounded number of generated requests (examples, coverage and fuzzing phases); no answer
may be a 5xx, break the document (status, content type, headers, body schema), accept a
request the document forbids, or take longer than the request timeout. A request without a
key is refused with 401 on every operation that needs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis import Case, Response
from schemathesis.core.failures import Failure
from schemathesis.engine import Status, StopReason
from schemathesis.engine.events import EngineFinished, FatalError, NonFatalError, ScenarioFinished
from schemathesis.hooks import HookContext
from schemathesis.schemas import BaseSchema

from switchboard.api import create_app
from switchboard.api.openapi import operations
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.service import open_assistants
from switchboard.config import AssistantSettings, GatewaySettings, OrdersSettings, Settings
from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
from switchboard.engine.local import LocalEngine
from switchboard.gateway.types import ALL_SCOPES
from switchboard.orders.supervisor import order_service
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from switchboard_bench.uvicorn_thread import serve

pytestmark = pytest.mark.integration

#: Generated requests per operation in the fuzzing phase (the examples and coverage
#: phases add their own, bounded by the schema).
MAX_EXAMPLES = 10
REQUEST_TIMEOUT_S = 60.0
ARTICLES = ("returns-window.md", "shipping-methods.md")
CUSTOMER = "C1002"  # a demo customer
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
]


@dataclass(frozen=True)
class Served:
    base_url: str
    token: str
    model: str
    embedding_model: str
    customer_token: str  # for CUSTOMER, the assistant routes' x-customer-token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, default_model_path: Path) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("fuzz")
    defaults = Settings()
    settings = defaults.model_copy(
        update={
            "data_dir": data,
            # One thread: llama.cpp's threads spin-wait for each other, which slows a step
            # down a hundredfold when other processes share the two cores.
            "engine": defaults.engine.model_copy(
                update={"max_model_len": 256, "max_num_seqs": 2, "n_threads": 1}
            ),
            "knowledge": defaults.knowledge.model_copy(
                update={"store": str(data / "knowledge.sqlite3")}
            ),
            "orders": OrdersSettings(port=0, db_path=None),
            "assistant": AssistantSettings(db_path=data / "assistant.sqlite3", max_tokens=16),
            "gateway": GatewaySettings(auth="on", db_path=data / "gateway.sqlite3"),
        }
    )
    knowledge = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, defaults.models_dir
    )
    articles = [(shop_articles_dir(), shop_articles_dir() / name) for name in ARTICLES]
    ref = CollectionRef(settings.knowledge.default_tenant, DEMO_COLLECTION)
    assert not knowledge.ingestor.ingest_files(ref, articles).failures
    engine = LocalEngine(settings.model, default_model_path, settings.engine)
    try:
        with order_service(settings.orders, settings.orders_db, quiet=True) as orders:
            client = OrderClient(orders.url, orders.token)
            assistant = open_assistants(settings, LocalChatModel(engine), knowledge, orders=client)
            app = create_app(
                engine, settings, knowledge=knowledge, assistants=assistant, order_api=orders
            )
            key = app.state.auth.keys.create(
                tenant=settings.knowledge.default_tenant, scopes=ALL_SCOPES, name="fuzz"
            )
            customer = app.state.auth.customer_tokens.mint(
                settings.knowledge.default_tenant, CUSTOMER
            )
            with serve(app) as base_url:
                yield Served(
                    base_url, key.token, engine.name, knowledge.embedder.model_id, customer.token
                )
    finally:
        engine.close()
        knowledge.close()


def _typed_multipart_part(failure: Failure, case: Case) -> bool:
    """Not a finding: an upload "made invalid" by giving a file part a JSON type (an
    integer instead of a string) is, on the wire, a file holding those digits: valid."""
    return (
        case.media_type == "multipart/form-data"
        and failure.code == "ST201"
        and "violates `type` at /properties/files/items" in failure.message
    )


# -- the tests ---------------------------------------------------------------------------


GENERATING = ("/v1/chat/completions", "/v1/completions")
#: Enough for a role, content, finish and usage chunk; the coverage phase sends ~130 valid
#: chat requests, so each must be cheap.
MAX_TOKENS = 2


def _realistic(case: Case, served: Served) -> None:
    """Most requests name the served models, so generation and embedding really run
    (a generated name only reaches the 404); an answer stays short. The assistant's
    requests carry a customer token and name its customer, so its turns really run (a
    generated token or customer id only reaches the 401 or 403)."""
    if case.path.startswith("/v1/assistant/"):
        case.headers = {**(case.headers or {}), "x-customer-token": served.customer_token}
        for fields in (case.query, case.body):
            if isinstance(fields, dict) and isinstance(fields.get("customer_id"), str):
                fields["customer_id"] = CUSTOMER
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("model"), str):
        body["model"] = served.embedding_model if case.path == "/v1/embeddings" else served.model
    for field in ("max_tokens", "max_completion_tokens"):
        if isinstance(body.get(field), int) and body[field] > MAX_TOKENS:
            body[field] = MAX_TOKENS
    unbounded = body.get("max_tokens") is None and body.get("max_completion_tokens") is None
    if case.path in GENERATING and unbounded:
        body["max_tokens"] = MAX_TOKENS  # not the rest of the window (test_api_openai's)


def _fuzzer(served: Served) -> BaseSchema:
    schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    schema.config.update(headers=served.auth, request_timeout=REQUEST_TIMEOUT_S, workers=1)
    schema.config.checks.update(included_check_names=CHECKS)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    schema.config.cache.enabled = False  # no crash files left in the work tree

    @schema.hook
    def map_case(context: HookContext, case: Case) -> Case:
        _realistic(case, served)
        return case

    @schema.hook
    def filter_failure(
        context: HookContext, failure: Failure, case: Case, response: Response
    ) -> bool:
        return not _typed_multipart_part(failure, case)

    return schema


def _described(label: str, failure: Failure, code_sample: str) -> str:
    return f"{label}: {failure.code} {failure.title}\n{failure.message}\n{code_sample}"


def test_api_conforms_to_its_document(served: Served) -> None:
    failures: list[str] = []
    errors: list[str] = []
    finished: EngineFinished | None = None
    for event in schemathesis.engine.from_schema(_fuzzer(served)).execute():
        if isinstance(event, ScenarioFinished):
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        info = node.failure_info
                        failures.append(
                            _described(event.label or "", info.failure, info.code_sample)
                        )
        elif isinstance(event, NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, FatalError):
            raise event.exception
        elif isinstance(event, EngineFinished):
            finished = event
    assert not errors, "\n\n".join(errors)
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    assert finished is not None
    assert finished.stop_reason == StopReason.COMPLETED


PUBLIC = {"/health", "/metrics"}


def test_every_operation_but_health_and_metrics_refuses_a_request_without_a_key(
    served: Served,
) -> None:
    document = httpx.get(f"{served.base_url}/openapi.json").json()
    secured = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in PUBLIC:
                assert "security" not in operation, path
                continue
            assert operation["security"], (method, path)
            secured += 1
            url = served.base_url + re.sub(r"\{[^}]+\}", "x", path)
            response = httpx.request(method, url, timeout=REQUEST_TIMEOUT_S)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "invalid_api_key"
    assert secured == sum(1 for _ in operations(document)) - len(PUBLIC)
