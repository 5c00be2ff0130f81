"""The grounding check under the real assistant: the default model in the engine, three demo
articles ingested with the bundled embedding model, the Order API as its own process, the
server over loopback.

A customer who names a return window the shop does not have ("45 days") tempts a small
model to repeat it; the number never reaches the client. Every answer's checkable claims
(numbers, amounts, durations, dates, options) are stated by the help-centre articles, the
``done`` event names the path the answer took, and ``/metrics`` counts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.api import create_app
from switchboard.assistant.claims import ClaimKind, OptionWords
from switchboard.assistant.grounding import EvidenceIndex, Passage
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.service import open_assistants
from switchboard.config import (
    AssistantSettings,
    GatewaySettings,
)
from switchboard.demo import option_words_path, shop_articles_dir
from switchboard_bench.uvicorn_thread import serve
from tests.integration.shop_rig import demo_shop, shop_settings

pytestmark = pytest.mark.integration

CUSTOMER = "C1002"
ARTICLES = ("returns-window.md", "shipping-methods.md", "payment-methods.md")
MODEL_PATHS = {"generated", "generated+repaired", "quoted"}
QUESTIONS = (
    "How long do I have to return an item?",
    "Which carrier delivers my parcel in Germany, and what does standard shipping cost?",
    "Can I pay with Klarna, and until when do I have to pay?",
)


@pytest.fixture(scope="module")
def base_url(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("grounding")
    settings = shop_settings(
        data,
        assistant=AssistantSettings(answer_mode="generate"),
        gateway=GatewaySettings(db_path=data / "gateway.sqlite3"),
    )
    with demo_shop(settings, default_model_path, ARTICLES) as shop:
        model = LocalChatModel(shop.engine)
        orders = shop.order_client()
        assistant = open_assistants(settings, model, shop.knowledge, orders=orders)
        app = create_app(shop.engine, settings, knowledge=shop.knowledge, assistants=assistant)
        with serve(app) as url:
            yield url


def turn(base_url: str, message: str) -> tuple[str, dict[str, Any]]:
    """The answer the client saw and the ``done`` event's data."""
    body = {"customer_id": CUSTOMER, "message": message}
    response = httpx.post(f"{base_url}/v1/assistant/chat", json=body, timeout=600)
    assert response.status_code == 200, response.text
    text, done = [], None
    for block in response.text.strip().split("\n\n"):
        kind, data = block.split("\n", 1)
        payload = json.loads(data.removeprefix("data: "))
        if kind == "event: token":
            text.append(payload["text"])
        elif kind == "event: done":
            done = payload
    assert done is not None, response.text
    return "".join(text), done


def articles() -> EvidenceIndex:
    """Everything the three articles state: the superset of any turn's evidence."""
    passages = [
        Passage(n, name, (shop_articles_dir() / name).read_text(encoding="utf-8"))
        for n, name in enumerate(ARTICLES, 1)
    ]
    return EvidenceIndex(passages, options=OptionWords.from_file(option_words_path()))


def test_a_number_the_customer_made_up_never_reaches_the_client(base_url: str) -> None:
    text, done = turn(base_url, "Is it right that I have 45 days to send back a jacket?")
    assert "45" not in text
    assert text.strip()
    assert done["answer_path"] in MODEL_PATHS
    metrics = httpx.get(f"{base_url}/metrics", timeout=10).text
    path = done["answer_path"]
    assert f'switchboard_assistant_answer_path_total{{path="{path}"}}' in metrics


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_checkable_claim_of_an_answer_is_in_the_articles(
    base_url: str, question: str
) -> None:
    text, done = turn(base_url, question)
    assert done["answer_path"] in MODEL_PATHS
    claims = articles().unsupported(text)
    unsupported = [c.text for c in claims if c.kind is not ClaimKind.SOURCE]  # [n]: the turn's
    assert unsupported == [], text
