"""The harness of the browser tests: Debian's Chromium (``make browser``) driven through
Playwright's sync API, on an app served by ``switchboard_bench.uvicorn_thread.serve``.

A test module takes in the ``chromium`` fixture and opens pages with ``browser_page``::

    from switchboard_bench.uvicorn_thread import serve
    from tests.integration import web_harness
    from tests.integration.web_harness import browser_page

    chromium = web_harness.chromium  # the session's browser, a fixture

    def test_page(chromium: Browser) -> None:
        with serve(app) as base_url, browser_page(chromium, base_url) as page:
            ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
CHROMIUM_ARGS = (
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PAGE_TIMEOUT_MS = 10_000
# For ``page.evaluate``: records each new text of the latest answer in
# ``window.answerTexts``, so a test can see the answer grow token by token.
RECORD_ANSWER_TEXTS = """() => {
  window.answerTexts = [];
  new MutationObserver(() => {
    const answers = document.querySelectorAll('[data-testid="answer"]');
    const text = answers.length ? answers[answers.length - 1].textContent : "";
    if (text && window.answerTexts.at(-1) !== text) window.answerTexts.push(text);
  }).observe(document.getElementById("messages"),
             {childList: true, subtree: true, characterData: true});
}"""


def record_network_problems(page: Page) -> list[str]:
    """A list that fills with the page's failed requests and HTTP error responses
    (``"404 http://.../favicon.ico"``); requests the page aborts on purpose are not failures."""
    problems: list[str] = []
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )

    def failed(request: Request) -> None:
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"{request.failure} {request.url}")

    page.on("requestfailed", failed)
    return problems


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium; Playwright gives it a fresh temporary user-data-dir.

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread
    while it is open, and ``asyncio.run`` refuses to start under it, so the browser must be
    closed before the next module's tests (which use ``asyncio.run``) start."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (scripts/install-chromium.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies, cache or storage) at ``base_url``;
    an uncaught script error on the page fails the test."""
    context = browser.new_context(base_url=base_url, viewport={"width": 900, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        yield page
        if script_errors:
            pytest.fail(f"script errors on the page: {script_errors}")
    finally:
        context.close()
