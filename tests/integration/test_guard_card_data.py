"""A card's expiry date and security code never reach what keeps guarded text: the
gateway's request log (``record_text``) and the assistant's conversation store, with the
real detectors (Presidio, spaCy) behind the real gateway over loopback and the real
orchestrator with its SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from switchboard.api import create_app
from switchboard.config import GuardSettings, RequestLogSettings
from switchboard.guard.factory import open_guard
from switchboard.stages.guard import GuardStage
from switchboard.stages.stage import Pipeline
from switchboard_bench.uvicorn_thread import serve
from tests.integration.fake_upstream_fixture import UpstreamHandle
from tests.integration.gateway_harness import gateway_settings, logged
from tests.unit.assistant_rig import Rig, done_of, text_of
from tests.unit.demo_shop import ORDER_IDS

pytestmark = pytest.mark.integration

CARD, EXPIRY, CVV = "4111 1111 1111 1111", "09/28", "862"
MESSAGE = f"My card {CARD} exp {EXPIRY}, cvv: {CVV} was charged twice. Can you check?"
FOLLOW_UP = "Sorry, it's the other card: expires 11/2029 and the 3 digits on the back are 4417."
SECRETS = (CARD, EXPIRY, CVV, "11/2029", "4417")


def test_the_request_log_keeps_neither_expiry_nor_security_code(
    tmp_path: Path, upstream: UpstreamHandle
) -> None:
    settings = gateway_settings(
        tmp_path, {"main": upstream.url}, log=RequestLogSettings(record_text=True)
    )
    app = create_app(None, settings)
    with serve(app) as base:
        for content in (MESSAGE, FOLLOW_UP):
            body = {"model": "chat", "messages": [{"role": "user", "content": content}]}
            response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30)
            assert response.status_code == 200
        rows = logged(app, 2)
    inputs = [json.loads(row.record.input_text)[0]["content"] for row in rows]
    assert not [secret for secret in SECRETS if any(secret in text for text in inputs)]
    assert any("<CARD_EXPIRY_1>" in text and "<CARD_CVV_1>" in text for text in inputs)
    events = {event for row in rows for event in row.record.guard_events}
    assert {"input:pii:CARD_EXPIRY:redact", "input:pii:CARD_CVV:redact"} <= events


def test_the_conversation_store_keeps_neither_and_the_customer_sees_their_own(
    tmp_path: Path,
) -> None:
    guard = open_guard(GuardSettings(), allowed=(ORDER_IDS.pattern,))
    assert guard is not None
    rig = Rig(tmp_path, stages=Pipeline([GuardStage(guard)]))
    try:
        rig.model.default = ["I see the card ", "<CARD_EXPIRY_1> ", "on file."]
        first = rig.turn(MESSAGE)
        session = done_of(first).session_id
        rig.turn(FOLLOW_UP, session=session)
        stored = " ".join(message.content for message in rig.store.history(session, 10))
        prompts = json.dumps([call["messages"] for call in rig.model.calls])
    finally:
        rig.store.close()
    assert not [secret for secret in SECRETS if secret in stored or secret in prompts]
    assert "<CARD_EXPIRY_1>" in stored
    assert "<CARD_CVV_2>" in stored
    assert EXPIRY in text_of(first)  # the customer's own value, restored on the way out
