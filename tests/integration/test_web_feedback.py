"""The widget's feedback buttons in headless Debian Chromium, against the real app served
over loopback (the assistant's model and Order API are the fakes of ``assistant_rig``;
the conversation store is a real SQLite file): a thumbs down with a comment is stored
with the answer it rates."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from switchboard.api import create_app
from switchboard.config import GatewaySettings, GuardSettings, Settings
from switchboard_bench.uvicorn_thread import serve
from tests.integration import web_harness
from tests.integration.web_harness import browser_page
from tests.unit.assistant_rig import RETURNS_ANSWER, Rig, served_shop
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.integration
chromium = web_harness.chromium  # the session's browser, a fixture

COMMENT = "It is 30 days from delivery, not from the order"


@pytest.fixture
def shop(chromium: Browser, tmp_path: Path) -> Iterator[tuple[Page, Rig]]:
    rig = Rig(tmp_path)
    engine = FakeServedEngine()
    settings = Settings(
        model=MODEL,
        data_dir=tmp_path,
        gateway=GatewaySettings(db_path=tmp_path / "gateway.sqlite3"),
        guard=GuardSettings(enabled=False),
    )
    app = create_app(engine, settings, assistants=served_shop(rig))
    try:
        with serve(app) as base_url, browser_page(chromium, base_url) as page:
            page.goto("/")
            yield page, rig
    finally:
        engine.async_engine.shutdown()


def ask(page: Page, message: str) -> None:
    expect(page.get_by_test_id("message-input")).to_be_enabled()
    page.get_by_test_id("message-input").fill(message)
    page.get_by_test_id("send-button").click()
    expect(page.get_by_test_id("feedback")).to_be_visible()


def stored(rig: Rig) -> list[tuple[object, ...]]:
    with sqlite3.connect(rig.store.file.path) as conn:
        return conn.execute("SELECT turn_idx, rating, comment FROM feedback").fetchall()


def test_thumbs_down_with_a_comment_is_stored_with_the_answer(
    shop: tuple[Page, Rig],
) -> None:
    page, rig = shop
    ask(page, "How long do I have to return a jacket?")
    expect(page.get_by_test_id("answer")).to_have_text("".join(RETURNS_ANSWER))
    up, down = (
        page.get_by_role("button", name="Good answer"),
        page.get_by_role("button", name="Bad answer"),
    )
    expect(up).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("feedback-form")).to_be_hidden()

    with page.expect_request("**/turns/1/feedback") as first:
        down.click()
    assert first.value.post_data_json["rating"] == "down"
    expect(down).to_have_attribute("aria-pressed", "true")
    comment = page.get_by_label("What was wrong with this answer?")
    expect(comment).to_be_focused()
    comment.fill(COMMENT)
    with page.expect_response("**/turns/1/feedback") as sent:
        page.get_by_test_id("feedback-send").click()

    assert sent.value.status == 200
    assert sent.value.request.post_data_json["comment"] == COMMENT
    expect(page.get_by_test_id("feedback-status")).to_have_text(
        "Thanks, your feedback was recorded."
    )
    expect(page.get_by_test_id("feedback-form")).to_be_hidden()
    expect(up).to_have_attribute("aria-pressed", "false")
    assert stored(rig) == [(1, "down", COMMENT)]


def test_thumbs_up_replaces_a_thumbs_down(shop: tuple[Page, Rig]) -> None:
    page, rig = shop
    ask(page, "How long do I have to return a jacket?")

    page.get_by_role("button", name="Bad answer").click()
    expect(page.get_by_test_id("feedback-form")).to_be_visible()
    page.get_by_role("button", name="Good answer").click()

    expect(page.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("feedback-form")).to_be_hidden()
    assert stored(rig) == [(1, "up", "")]


def test_a_refused_rating_says_so_and_presses_nothing(shop: tuple[Page, Rig]) -> None:
    page, rig = shop
    ask(page, "How long do I have to return a jacket?")
    with sqlite3.connect(rig.store.file.path) as conn:
        conn.execute("UPDATE sessions SET customer_id = 'C-9999'")  # no longer this customer's

    page.get_by_role("button", name="Bad answer").click()

    expect(page.get_by_test_id("feedback-status")).to_have_text(
        "Not recorded: The session '"
        + rig.store.list_sessions("C-9999")[0].id
        + "' does not exist."
    )
    expect(page.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("feedback-form")).to_be_hidden()
    assert stored(rig) == []


def test_each_answer_has_its_own_buttons_and_comment_box(shop: tuple[Page, Rig]) -> None:
    page, rig = shop
    ask(page, "How long do I have to return a jacket?")
    page.get_by_test_id("message-input").fill("And a tent?")
    page.get_by_test_id("send-button").click()
    second = page.get_by_test_id("message-assistant").nth(1)
    expect(second.get_by_test_id("feedback")).to_be_visible()

    second.get_by_role("button", name="Bad answer").click()
    second.get_by_label("What was wrong with this answer?").fill("Tents differ")
    second.get_by_test_id("feedback-send").click()

    expect(second.get_by_test_id("feedback-status")).to_have_text(
        "Thanks, your feedback was recorded."
    )
    expect(page.get_by_test_id("feedback-form").first).to_be_hidden()
    ids = page.locator("textarea").evaluate_all("(boxes) => boxes.map((box) => box.id)")
    assert len(set(ids)) == 2
    assert stored(rig) == [(3, "down", "Tents differ")]


def test_the_buttons_work_outside_a_secure_context(shop: tuple[Page, Rig]) -> None:
    """Served over plain http on a LAN, a page has no ``crypto.randomUUID``."""
    page, rig = shop
    page.add_init_script("delete Crypto.prototype.randomUUID")
    page.reload()

    ask(page, "How long do I have to return a jacket?")
    page.get_by_role("button", name="Good answer").click()

    expect(page.get_by_test_id("feedback-status")).to_have_text(
        "Thanks, your feedback was recorded."
    )
    assert stored(rig) == [(1, "up", "")]
