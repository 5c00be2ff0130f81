"""The HTTP tool runner over httpx's in-memory transport: where each argument goes, the
headers sent, retries with backoff (sleeps recorded, not slept), and what a write logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from switchboard.tools import HttpToolSpec, RetryTiming, ToolFailure, ToolOutcome, ToolRegistry

pytestmark = pytest.mark.unit

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A fake API: answers from ``statuses`` in turn (then 200), records each request."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, json={"seen": str(request.url)})

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def spec(**fields: Any) -> HttpToolSpec:
    return HttpToolSpec.model_validate(
        {"name": "probe", "description": "A probe.", "url": "http://api.test/things"} | fields
    )


def call(
    tool: HttpToolSpec,
    api: Recorder,
    arguments: dict[str, Any] | str,
    *,
    confirmed: bool = False,
    end_user: str | None = None,
    **registry: Any,
) -> ToolOutcome:
    async def run() -> ToolOutcome:
        async with ToolRegistry(
            [tool],
            allowed_hosts={"api.test"},
            transport=httpx.MockTransport(api),
            timing=RetryTiming(base_s=0.1, cap_s=0.3),
            sleep=api.sleep,
            rand=lambda: 0.5,
            **registry,
        ) as tools:
            return await tools["probe"].call(arguments, end_user=end_user, confirmed=confirmed)

    return asyncio.run(run())


SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "reason": {"type": "string"},
        "notify": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "filter": {"type": "object"},
    },
}


def test_a_post_sends_its_body_arguments_as_json_and_the_rest_as_the_query() -> None:
    api = Recorder()
    tool = spec(
        method="POST",
        url="http://api.test/orders/{order_id}/notes",
        parameters=SCHEMA,
        body=["reason"],
        write=False,
    )
    outcome = call(tool, api, {"order_id": "LK 1/", "reason": "late", "notify": True})
    assert outcome.failure is ToolFailure.INVALID_ARGUMENTS  # "/" cannot be a path segment
    outcome = call(tool, api, {"order_id": "LK 1?", "reason": "late", "notify": True})
    assert outcome.ok
    (request,) = api.requests
    assert request.method == "POST"
    assert request.url.raw_path == b"/orders/LK%201%3F/notes?notify=true"
    assert json.loads(request.content) == {"reason": "late"}


def test_a_get_puts_lists_and_objects_in_the_query() -> None:
    api = Recorder()
    tool = spec(parameters=SCHEMA)
    assert call(tool, api, {"tags": ["a", "b"], "filter": {"x": 1}}).ok
    (request,) = api.requests
    assert request.url.params.get_list("tags") == ["a", "b"]
    assert request.url.params["filter"] == '{"x":1}'
    assert request.content == b""


def test_static_and_secret_headers_are_sent() -> None:
    api = Recorder()
    tool = spec(
        headers={"X-Client": "switchboard"},
        secret_header="X-Key",
        secret_env="PROBE_KEY",
        secret_prefix="Key ",
    )
    assert call(tool, api, {}, secrets={"PROBE_KEY": "k1"}).ok
    (request,) = api.requests
    assert request.headers["x-client"] == "switchboard"
    assert request.headers["x-key"] == "Key k1"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ("{not json", "probe: arguments are not JSON"),
        ("[1, 2]", "probe: arguments must be a JSON object"),
        ({"order_id": 7}, "probe: arguments.order_id must be string, not integer"),
        ({"colour": "red"}, "probe: arguments.colour is not a known argument"),
    ],
)
def test_bad_arguments_are_an_outcome_and_nothing_is_sent(
    arguments: dict[str, Any] | str, error: str
) -> None:
    api = Recorder()
    outcome = call(spec(parameters=SCHEMA), api, arguments)
    assert outcome.failure is ToolFailure.INVALID_ARGUMENTS
    assert (outcome.error or "").startswith(error)
    assert api.requests == []


def test_a_read_backs_off_between_retries() -> None:
    api = Recorder(503, 429, 200)
    outcome = call(spec(retries=2), api, {})
    assert outcome.ok
    assert len(api.requests) == 3
    assert api.sleeps == [0.05, 0.1]  # rand 0.5 x min(cap, base x 2**n)


def test_a_4xx_is_not_retried_and_carries_the_apis_message() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(422, json={"detail": "order_id is malformed"})

    outcome = asyncio.run(_with_handler(spec(retries=2), handler))
    assert outcome.failure is ToolFailure.REFUSED
    assert outcome.status == 422
    assert outcome.error == "probe: HTTP 422: order_id is malformed"
    assert len(requests) == 1


async def _with_handler(tool: HttpToolSpec, handler: Handler) -> ToolOutcome:
    async with ToolRegistry(
        [tool], allowed_hosts={"api.test"}, transport=httpx.MockTransport(handler)
    ) as tools:
        return await tools["probe"].call({}, end_user=None)


def test_a_confirmed_write_is_sent_once_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    api = Recorder(503)
    tool = spec(method="POST")
    with caplog.at_level(logging.INFO, logger="switchboard.tools.http"):
        failed = call(tool, api, {}, confirmed=True)
        done = call(tool, api, {}, confirmed=True)
    assert failed.failure is ToolFailure.UNAVAILABLE
    assert done.ok
    assert len(api.requests) == 2
    assert api.sleeps == []
    assert [r.getMessage() for r in caplog.records] == [
        "write tool called: probe: unavailable (HTTP 503); the change may or may not have "
        "been made",
        "write tool called: probe: HTTP 200",
    ]


def test_elapsed_time_is_measured_with_the_given_clock() -> None:
    ticks = iter([10.0, 10.25])
    outcome = call(spec(), Recorder(), {}, clock=lambda: next(ticks))
    assert outcome.elapsed_s == 0.25


def test_an_answer_that_does_not_decode_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    outcome = asyncio.run(_with_handler(spec(), handler))
    assert outcome.failure is ToolFailure.BAD_RESPONSE
    assert outcome.error == "probe: the answer could not be decoded (DecodingError)"


def test_a_secret_that_cannot_be_a_header_value_is_refused() -> None:
    tool = spec(secret_header="X-Key", secret_env="PROBE_KEY")
    with pytest.raises(ValueError, match="the secret PROBE_KEY cannot be a header value"):
        ToolRegistry([tool], allowed_hosts={"api.test"}, secrets={"PROBE_KEY": "a\r\nX-Evil: 1"})
