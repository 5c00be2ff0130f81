"""The soak's clients against fake servers (httpx's ``MockTransport``), ``/proc`` sampling
of this very process, and a server stopped with its children."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import psutil
import pytest

from switchboard_bench.proc_sample import find_child, sample_process
from switchboard_bench.processes import stop_tree
from switchboard_bench.soak_stats import Kind, Outcome
from switchboard_bench.soak_traffic import MIX, REQUESTS, Reply, Traffic, run_client, timed

pytestmark = pytest.mark.unit

Handler = Callable[[httpx.Request], httpx.Response]
AsyncHandler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def sse(*payloads: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    out = b""
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out += f"{head}data: {data}\n\n".encode()
    return out


CONTENT = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
ROLE = {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}


def traffic(
    handler: Handler | AsyncHandler, customers: list[tuple[str, str]] | None = None
) -> Traffic:
    return Traffic(
        "http://soak.test",
        "sb-token",
        "tiny",
        customers or [("C1001", "LK-1001")],
        transport=httpx.MockTransport(handler),
    )


def call(t: Traffic, kind: Kind, n: int = 0) -> Reply:
    async def go() -> Reply:
        async with t.client() as client:
            return await REQUESTS[kind](t, client, n)

    return asyncio.run(go())


# --- chat completions -------------------------------------------------------------------


def test_a_streamed_chat_ending_in_done_succeeds_and_sends_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=sse(ROLE, CONTENT, "[DONE]"))

    assert call(traffic(handler), Kind.CHAT_STREAM, 7) == Reply(200)
    body = json.loads(seen[0].content)
    assert (body["model"], body["stream"], body["max_tokens"]) == ("tiny", True, 32)
    assert "(note 7)" in body["messages"][0]["content"]
    assert seen[0].headers["authorization"] == "Bearer sb-token"


def test_a_stream_cut_before_done_is_an_error_but_not_a_server_error() -> None:
    reply = call(traffic(lambda _: httpx.Response(200, content=sse(CONTENT))), Kind.CHAT_STREAM)
    assert (reply.status, reply.error, reply.stream_error) == (
        200,
        "stream ended before its last event",
        None,
    )


def test_a_server_error_inside_a_200_stream_counts_as_one() -> None:
    error = {"error": {"message": "internal server error", "type": "server_error"}}
    handler: Handler = lambda _: httpx.Response(200, content=sse(CONTENT, error))  # noqa: E731
    reply = call(traffic(handler), Kind.CHAT_STREAM)
    assert reply.stream_error == "server_error"
    assert reply.body is not None
    assert "internal server error" in reply.body
    assert Outcome(
        Kind.CHAT_STREAM, 1, 1, reply.status, stream_error=reply.stream_error
    ).server_error


def test_a_5xx_keeps_the_start_of_its_body() -> None:
    handler: Handler = lambda _: httpx.Response(500, text="x" * 2000)  # noqa: E731
    reply = call(traffic(handler), Kind.CHAT)
    assert reply.status == 500
    assert reply.body == "x" * 500
    assert reply.error is not None
    assert reply.error.startswith("HTTP 500: xxx")


def test_a_4xx_names_its_status_without_keeping_a_body() -> None:
    handler: Handler = lambda _: httpx.Response(401, json={"error": {"type": "auth"}})  # noqa: E731
    reply = call(traffic(handler), Kind.SEARCH)
    assert (reply.status, reply.body) == (401, None)
    assert reply.error is not None
    assert reply.error.startswith("HTTP 401")


# --- assistant turns --------------------------------------------------------------------


def test_assistant_turns_continue_the_customers_session_two_turns_in_three() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        done = {"session_id": f"s{len(sent)}", "turn_id": 1}
        return httpx.Response(
            200, content=sse({"text": "Hi"}, event="token") + sse(done, event="done")
        )

    t = traffic(handler)
    replies = [call(t, Kind.ASSISTANT, n) for n in (3, 4, 5, 6)]
    assert replies == [Reply(200)] * 4
    assert [body["session_id"] for body in sent] == [None, "s1", "s2", None]
    assert sent[0]["customer_id"] == "C1001"


def test_assistant_turns_send_their_customers_token() -> None:
    sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("x-customer-token"))
        return httpx.Response(200, content=sse({"session_id": "s", "turn_id": 1}, event="done"))

    t = traffic(handler, [("C1", "LK-1"), ("C2", "LK-2")])
    t.customer_tokens = {"C1": "sbc1.one", "C2": "sbc1.two"}
    assert [call(t, Kind.ASSISTANT, n) for n in (0, 1)] == [Reply(200)] * 2
    assert sent == ["sbc1.one", "sbc1.two"]


def test_turns_left_half_way_send_their_customers_token_too() -> None:
    sent: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        sent[request.url.path] = request.headers.get("x-customer-token")
        return httpx.Response(200, content=sse({"session_id": "s", "turn_id": 1}, event="done"))

    t = traffic(handler, [("C1", "LK-1"), ("C2", "LK-2")])
    t.customer_tokens = {"C1": "sbc1.one", "C2": "sbc1.two"}
    assert [call(t, Kind.DISCONNECT, n) for n in (0, 1)] == [Reply(200)] * 2
    assert sent["/v1/assistant/chat"] in ("sbc1.one", "sbc1.two")  # odd n: an assistant turn
    assert sent["/v1/chat/completions"] is None


def test_an_assistant_turn_without_its_done_event_fails() -> None:
    handler: Handler = lambda _: httpx.Response(200, content=sse({"text": "Hi"}))  # noqa: E731
    assert call(traffic(handler), Kind.ASSISTANT).error == "stream ended before its last event"


def test_order_questions_name_the_customers_own_order() -> None:
    t = traffic(lambda _: httpx.Response(200), [("C1", "LK-1"), ("C2", "LK-2")])
    bodies = [t.turn_body(n) for n in range(12)]
    asked = [b for b in bodies if "LK-" in str(b["message"])]
    assert asked
    assert all(str(b["message"]).endswith(f"LK-{str(b['customer_id'])[1:]}?") for b in asked)


# --- uploads ----------------------------------------------------------------------------


def test_an_upload_answered_with_its_report_succeeds_unless_a_file_failed() -> None:
    report = {"collection": "soak", "added": 1, "failed": []}
    assert call(traffic(lambda _: httpx.Response(200, json=report)), Kind.UPLOAD) == Reply(200)
    failed = {**report, "failed": [{"path": "soak-0.md", "reason": "empty"}]}
    reply = call(traffic(lambda _: httpx.Response(200, json=failed)), Kind.UPLOAD)
    assert reply.error is not None
    assert reply.error.startswith("ingest failed")


def upload_job_server(states: list[str], poll_status: int = 200) -> tuple[Handler, list[str]]:
    """A server answering uploads with a 202 job whose polls go through ``states``."""
    polled: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert b'filename="soak-3.md"' in request.content
            job = {"id": "job1", "status": "queued", "collection": "soak"}
            return httpx.Response(202, json=job, headers={"Location": "/v1/jobs-at/job1"})
        polled.append(request.url.path)
        return httpx.Response(poll_status, json={"id": "job1", "status": states[len(polled) - 1]})

    return handler, polled


def test_an_upload_answered_with_a_job_is_polled_at_its_location_until_it_ends() -> None:
    handler, polled = upload_job_server(["running", "running", "succeeded"])
    assert call(traffic(handler), Kind.UPLOAD, 3) == Reply(202)
    assert polled == ["/v1/jobs-at/job1"] * 3


def test_an_upload_job_that_fails_or_cannot_be_polled_is_an_error() -> None:
    handler, _ = upload_job_server(["running", "failed"])
    failed = call(traffic(handler), Kind.UPLOAD, 3)
    assert failed.error is not None
    assert failed.error.startswith("job failed")
    handler, _ = upload_job_server(["running"], poll_status=500)
    assert call(traffic(handler), Kind.UPLOAD, 3).status == 500


# --- disconnects ------------------------------------------------------------------------


def test_a_disconnecting_client_stops_reading_after_the_first_content() -> None:
    read_past: list[bool] = []

    async def events() -> AsyncIterator[bytes]:
        yield sse(ROLE)
        yield sse(CONTENT)
        read_past.append(True)
        yield sse("[DONE]")

    handler: Handler = lambda _: httpx.Response(200, content=events())  # noqa: E731
    assert call(traffic(handler), Kind.DISCONNECT, 0) == Reply(200)
    assert read_past == []


# --- timing and the client loop -----------------------------------------------------------


def test_a_transport_failure_is_an_outcome_without_a_status() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    t = traffic(refuse)
    clock = iter([10.0, 12.5]).__next__

    async def go() -> Outcome:
        async with t.client() as client:
            return await timed(Kind.SEARCH, t.search(client, 0), 4.0, clock)

    outcome = asyncio.run(go())
    assert (outcome.status, outcome.end_s, outcome.latency_s) == (0, 8.5, 2.5)
    assert outcome.error == "ConnectError: connection refused"
    assert not outcome.answered
    assert not outcome.server_error


async def fake_server(request: httpx.Request) -> httpx.Response:
    """Every endpoint of the mix answered as the real server does (letting the event loop
    run other tasks meanwhile, as a network round trip does)."""
    await asyncio.sleep(0)
    path = request.url.path
    if path == "/v1/chat/completions":
        if json.loads(request.content)["stream"]:
            return httpx.Response(200, content=sse(ROLE, CONTENT, "[DONE]"))
        return httpx.Response(200, json={"choices": []})
    if path == "/v1/assistant/chat":
        return httpx.Response(200, content=sse({"session_id": "s", "turn_id": 1}))
    if path == "/v1/search":
        return httpx.Response(200, json={"data": []})
    return httpx.Response(200, json={"failed": []})


def test_a_client_goes_round_the_mix_from_its_own_offset_until_cancelled() -> None:
    outcomes: list[Outcome] = []

    async def go() -> None:
        client = asyncio.create_task(
            run_client(traffic(fake_server), 1, itertools.count(), outcomes.append, 0.0)
        )
        while len(outcomes) < len(MIX) + 2 and not client.done():
            await asyncio.sleep(0.01)
        client.cancel()
        with pytest.raises(asyncio.CancelledError):
            await client

    asyncio.run(go())
    kinds = [o.kind for o in outcomes[: len(MIX)]]
    assert kinds == list(MIX[2:] + MIX[:2])
    assert all(o.status == 200 and o.error is None for o in outcomes), outcomes


# --- /proc sampling -------------------------------------------------------------------------


def test_sampling_this_process_sees_sqlite_files_sockets_and_threads(tmp_path: Path) -> None:
    before = sample_process(os.getpid())
    assert before.rss_mb > 1
    assert before.threads >= 1
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    conn = sqlite3.connect(tmp_path / "soak.sqlite3")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    with socket.socket() as sock:
        worker.start()
        try:
            during = sample_process(os.getpid())
        finally:
            stop.set()
            worker.join()
            conn.close()
    assert during.sockets == before.sockets + 1
    assert during.threads == before.threads + 1
    assert set(during.sqlite_files) - set(before.sqlite_files) == {
        "soak.sqlite3", "soak.sqlite3-wal", "soak.sqlite3-shm",
    }  # fmt: skip
    assert during.sqlite_fds == before.sqlite_fds + 3
    assert during.fds == before.fds + 4  # the database, its WAL and shm, the socket
    assert sock.fileno() == -1
    assert sample_process(os.getpid()).sqlite_files == before.sqlite_files


def test_find_child_follows_a_child_by_its_command_line() -> None:
    script = "import time; time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", script, "orders", "serve"])
    try:
        assert find_child(os.getpid(), ("orders", "serve")) == child.pid
        assert find_child(os.getpid(), ("orders", "serve", "--elsewhere")) is None
    finally:
        child.kill()
        child.wait()
    assert find_child(os.getpid(), ("orders", "serve")) is None
    assert find_child(2**22 + 1, ("orders",)) is None  # above Linux's pid_max


def test_stopping_a_server_stops_the_children_it_leaves_behind() -> None:
    sleep = "import time; time.sleep(60)"
    spawn = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleep!r}, 'orders'])"
    parent = subprocess.Popen([sys.executable, "-c", f"{spawn}; {sleep}"])
    try:
        while (child := find_child(parent.pid, ("orders",))) is None:
            assert parent.poll() is None
            time.sleep(0.05)
    finally:
        stop_tree(parent, grace_s=0.5)
    assert parent.returncode is not None
    assert stopped(child)


def stopped(pid: int) -> bool:
    """Not running: gone, or a zombie its new parent has yet to reap."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
