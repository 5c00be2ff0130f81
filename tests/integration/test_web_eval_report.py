"""The eval report page in real Chromium, opened from a file: it draws both plots, shows
the failed cases, runs no script from an answer and requests nothing but itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from switchboard.evaluation.report import render
from tests.integration import web_harness
from tests.integration.web_harness import browser_page

pytestmark = pytest.mark.integration

chromium = web_harness.chromium  # the session's browser, a fixture

RUN = Path(__file__).parents[2] / "benchmarks" / "assistants" / "helpdesk-dev.json"
EVIL = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">'


def test_the_page_renders_its_plots_and_failures_and_runs_nothing(
    chromium: Browser, tmp_path: Path
) -> None:
    report = json.loads(RUN.read_text())
    cases = report["runs"][0]["cases"]
    failed = next(c for c in cases if c["facts_found"] < c["facts_total"])
    failed["answer"] = EVIL
    page_file = tmp_path / "report.html"
    page_file.write_text(render(report), encoding="utf-8")

    with browser_page(chromium, page_file.parent.as_uri()) as page:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        plots = page.locator("svg")
        expect(plots).to_have_count(2)
        for i in range(2):
            box = plots.nth(i).bounding_box()
            assert box is not None
            assert box["width"] > 300
        assert plots.nth(0).locator("circle").count() >= 4
        expect(page.get_by_text(failed["case_id"], exact=False).first).to_be_visible()
        expect(page.locator("pre", has_text="window.pwned = 1")).to_be_visible()
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("img").count() == 0
    assert requests == [page_file.as_uri()]
