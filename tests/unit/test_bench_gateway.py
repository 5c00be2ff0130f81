"""The gateway benchmark's pure parts: SSE and HTTP parsing, the load generator against a
tiny in-test server, statistics, configuration rendering and the report."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from switchboard.config import GatewaySettings
from switchboard.errors import DependencyUnavailableError, ServiceStartError
from switchboard.gateway.sse_lines import SSEDecoder
from switchboard_bench import litellm_env
from switchboard_bench.gateway_bench import parse_token, render_gateway_toml
from switchboard_bench.gateway_report import (
    GatewayBenchConfig,
    MemoryTrace,
    build_report,
    overheads,
)
from switchboard_bench.http_load import (
    PhaseStats,
    RequestResult,
    Target,
    carries_content,
    chat_target,
    http_status,
    parse_head,
    run_load,
)

pytestmark = pytest.mark.unit

T = TypeVar("T")

ROLE = b'{"choices":[{"index":0,"delta":{"role":"assistant"}}]}'
CONTENT = b'{"choices":[{"index":0,"delta":{"content":"tok "}}]}'
USAGE = b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}'


# --- SSE and HTTP parsing -----------------------------------------------------------------


def test_sse_parser_joins_events_split_across_reads() -> None:
    parser = SSEDecoder()
    assert parser.feed(b'data: {"a"') == []
    assert parser.feed(b":1}\n\ndata: [DO") == [b'{"a":1}']
    assert parser.feed(b"NE]\n\n") == [b"[DONE]"]


def test_sse_parser_handles_crlf_comments_and_multiline_data() -> None:
    parser = SSEDecoder()
    events = parser.feed(b": keep-alive\r\n\r\ndata: one\r\ndata: two\r")
    assert events == []  # the comment-only event carries no data
    assert parser.feed(b"\n\r\n") == [b"one\ntwo"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (ROLE, False),
        (CONTENT, True),
        (USAGE, False),
        (b'{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}', True),
        (b'{"choices":[{"delta":{"content":""}}]}', False),
        (b"not json", False),
    ],
)
def test_carries_content(payload: bytes, expected: bool) -> None:
    assert carries_content(payload) is expected


def test_parse_head_reads_framing_and_keep_alive() -> None:
    chunked = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert (chunked.status, chunked.chunked, chunked.keep_alive) == (200, True, True)
    closing = parse_head(b"HTTP/1.1 503 Busy\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
    assert (closing.status, closing.length, closing.keep_alive) == (503, 12, False)
    assert parse_head(b"HTTP/1.0 200 OK\r\n\r\n").keep_alive is False
    with pytest.raises(ValueError, match="not an HTTP"):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_chat_target_builds_a_streaming_request_with_auth() -> None:
    raw = chat_target("127.0.0.1", 8080, "bench", token="sk-x").request_bytes()
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"Authorization: Bearer sk-x" in head
    assert f"Content-Length: {len(body)}".encode() in head
    request = json.loads(body)
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["model"] == "bench"


# --- the load generator against a tiny server ---------------------------------------------


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _event(payload: bytes) -> bytes:
    return _chunk(b"data: " + payload + b"\n\n")


class TinyServer:
    """Answers by path: /stream (chunked SSE, keep-alive), /close (same, then closes),
    /fail (503 JSON), /error (an in-band error event), /cut (breaks off mid-stream),
    /nodone (a stream without [DONE])."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.first_token_delay_s = 0.0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TinyServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = next(
                    (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length")),
                    0,
                )  # fmt: skip
                await reader.readexactly(length)
                self.requests += 1
                path = head.split(b" ")[1].decode()
                if not await self._answer(path, writer):
                    return
        finally:
            writer.close()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """Write one response; False when the connection must close."""
        if path == "/fail":
            body = b'{"error":{"message":"busy"}}'
            writer.write(b"HTTP/1.1 503 Busy\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            return True
        close = path == "/close"
        extra = b"Connection: close\r\n" if close else b""
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + extra + b"\r\n")
        writer.write(_event(ROLE))
        await writer.drain()
        await asyncio.sleep(self.first_token_delay_s)
        if path == "/error":
            writer.write(_event(b'{"error":{"message":"upstream died"}}'))
        else:
            writer.write(_event(CONTENT) + _event(CONTENT))
        if path == "/cut":
            await writer.drain()
            return False
        writer.write(_event(USAGE))
        if path != "/nodone":
            writer.write(_event(b"[DONE]"))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return not close


def _with_server(test: Callable[[TinyServer], Awaitable[T]]) -> T:
    async def main() -> T:
        async with TinyServer() as server:
            return await test(server)

    return asyncio.run(main())


def test_run_load_counts_requests_and_reuses_connections() -> None:
    async def test(server: TinyServer) -> tuple[PhaseStats, TinyServer]:
        target = Target("127.0.0.1", server.port, "/stream", b"{}")
        return await run_load(target, concurrency=4, requests=40), server

    stats, server = _with_server(test)
    assert (stats.requests, stats.errors) == (40, 0)
    assert server.requests == 40
    assert server.connections == 4  # keep-alive: one connection per client
    assert stats.rps > 0
    assert 0 < stats.ttft_p50_ms <= stats.total_p50_ms


def test_ttft_is_the_first_content_chunk_not_the_role_chunk() -> None:
    results: list[RequestResult] = []

    async def test(server: TinyServer) -> PhaseStats:
        server.first_token_delay_s = 0.05
        target = Target("127.0.0.1", server.port, "/stream", b"{}")
        return await run_load(target, 1, 2, on_result=results.append)

    _with_server(test)
    assert [r.ok for r in results] == [True, True]
    for result in results:
        assert result.ttft_s is not None
        assert result.ttft_s >= 0.05  # the role chunk came at once; content after the delay
        assert result.total_s >= result.ttft_s
        assert result.events == 4  # role, two content chunks, usage


def test_connection_close_reconnects() -> None:
    async def test(server: TinyServer) -> tuple[PhaseStats, int]:
        target = Target("127.0.0.1", server.port, "/close", b"{}")
        return await run_load(target, 1, 3), server.connections

    stats, connections = _with_server(test)
    assert (stats.requests, stats.errors) == (3, 0)
    assert connections == 3


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/fail", 503, "HTTP 503"),
        ("/error", 200, "stream error"),
        ("/nodone", 200, "without [DONE]"),
        ("/cut", 0, "closed mid-body"),
    ],
)
def test_failures_are_recorded_per_request(path: str, status: int, error: str) -> None:
    results: list[RequestResult] = []

    async def test(server: TinyServer) -> PhaseStats:
        target = Target("127.0.0.1", server.port, path, b"{}")
        return await run_load(target, 2, 4, on_result=results.append)

    stats = _with_server(test)
    assert stats.errors == 4
    assert stats.rps == 0.0
    assert stats.first_error is not None
    assert error in stats.first_error
    assert {r.status for r in results} == {status}


def test_http_status_is_zero_when_nothing_listens() -> None:
    async def test(server: TinyServer) -> tuple[int, int]:
        return await http_status("127.0.0.1", server.port, "/fail"), server.port

    status, port = _with_server(test)
    assert status == 503
    assert asyncio.run(http_status("127.0.0.1", port, "/")) == 0  # the server is gone


def test_run_load_validates_arguments() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(run_load(Target("127.0.0.1", 9, "/"), 0, 10))


# --- statistics and the report -----------------------------------------------------------


def test_phase_stats_percentiles_and_errors() -> None:
    results = [RequestResult(200, total_s=t / 1000, ttft_s=t / 2000) for t in range(1, 101)]
    results.append(RequestResult(0, total_s=5.0, error="ConnectionRefusedError"))
    stats = PhaseStats.of(results, duration_s=2.0)
    assert (stats.requests, stats.errors) == (101, 1)
    assert stats.rps == 50.0  # successful requests only
    assert stats.total_p50_ms == pytest.approx(50.5)
    assert stats.ttft_p50_ms == pytest.approx(25.25)
    assert stats.total_p99_ms < 5000  # the failed request is not a latency sample
    assert stats.first_error == "ConnectionRefusedError"


def _stats(total_p50: float, ttft_p50: float = 10.0, rps: float = 100.0) -> PhaseStats:
    return PhaseStats(100, 0, 1.0, rps, ttft_p50, ttft_p50 * 2, total_p50, total_p50 * 2)


def test_overheads_are_differences_from_direct() -> None:
    added = overheads(_stats(60.0, 25.0), _stats(50.0, 20.0))
    assert added == {
        "overhead_p50_ms": 10.0,
        "overhead_p99_ms": 20.0,
        "ttft_overhead_p50_ms": 5.0,
        "ttft_overhead_p99_ms": 10.0,
    }
    assert set(overheads(None, _stats(50.0), "litellm_").values()) == {None}


def test_memory_trace_summary() -> None:
    trace = MemoryTrace([(5000, 100.0), (10000, 120.0), (15000, 110.0)])
    summary = trace.summary()
    assert summary["rss_start_mb"] == 100.0
    assert summary["rss_end_mb"] == 110.0
    assert summary["rss_max_mb"] == 120.0
    assert summary["memory_drift_pct"] == 10.0
    assert MemoryTrace().summary()["memory_drift_pct"] is None


def _phases(with_litellm: bool) -> dict[str, dict[str, PhaseStats]]:
    phases = {
        "latency": {"direct": _stats(50.0), "gateway": _stats(52.0)},
        "throughput": {"direct": _stats(5.0, rps=1000.0), "gateway": _stats(8, rps=600.0)},
    }
    if with_litellm:
        phases["latency"]["litellm"] = _stats(80.0)
        phases["throughput"]["litellm"] = _stats(30.0, rps=150.0)
    return phases


def test_report_with_litellm_has_the_ratio() -> None:
    config = GatewayBenchConfig(Path("data"), requests=100)
    install = litellm_env.LiteLLMInstall(Path("venv"), "1.2.3", None)
    memory = _stats(8.0)
    report = build_report(config, _phases(True), memory, MemoryTrace(), install, None)
    assert report["throughput_ratio_vs_litellm"] == 4.0
    assert report["overhead_p50_ms"] == 2.0
    assert report["litellm_overhead_p50_ms"] == 30.0
    assert report["versions"]["litellm"] == "1.2.3"
    assert report["errors"]["throughput"] == {"direct": 0, "gateway": 0, "litellm": 0}
    assert report["machine"]["cpu_count"] >= 1
    json.dumps(report)  # serialisable as it is


def test_report_without_litellm_says_why() -> None:
    config = GatewayBenchConfig(Path("data"), requests=100)
    reason = "installing litellm[proxy] failed: no network"
    report = build_report(config, _phases(False), _stats(8.0), MemoryTrace(), None, reason)
    assert report["throughput_ratio_vs_litellm"] is None
    assert report["litellm_throughput_rps"] is None
    assert report["litellm"] == {"available": False, "reason_missing": reason, "install_s": None}
    assert report["throughput_rps"] == 600.0


def test_config_scaled_to_the_run() -> None:
    full = GatewayBenchConfig.scaled(Path("d"), 5000, 100_000, 32, False)
    assert (full.memory_warmup, full.memory_sample_every) == (5000, 5000)
    quick = GatewayBenchConfig.scaled(Path("d"), 50, 1000, 8, True)
    assert quick.memory_warmup == 250
    assert (quick.memory_requests - quick.memory_warmup) // quick.memory_sample_every >= 4
    assert quick.warmup_requests == 50
    with pytest.raises(ValueError, match="concurrency"):
        GatewayBenchConfig(Path("d"), concurrency=0)


# --- configuration of the servers ---------------------------------------------------------


def test_gateway_toml_is_valid_gateway_settings() -> None:
    text = render_gateway_toml(Path("/tmp/x"), {"latency": 1234, "throughput": 1235})
    document = tomllib.loads(text)
    assert document["data_dir"] == "/tmp/x"
    settings = GatewaySettings.model_validate(document["gateway"])
    assert settings.auth == "on"
    assert settings.log.enabled
    assert settings.limits.default_rpm is not None
    assert [p.base_url for p in settings.providers] == [
        "http://127.0.0.1:1234/v1",
        "http://127.0.0.1:1235/v1",
    ]
    target = settings.routes["bench-throughput"].targets[0]
    assert (target.provider, target.model) == ("upstream-throughput", "fake")


def test_litellm_config_routes_each_alias_to_its_upstream() -> None:
    bases = {"bench-latency": "http://127.0.0.1:1/v1", "bench-throughput": "http://h:2/v1"}
    config: dict[str, Any] = yaml.safe_load(litellm_env.render_config(bases, "sk-m"))
    assert config["general_settings"]["master_key"] == "sk-m"
    entries = {e["model_name"]: e["litellm_params"] for e in config["model_list"]}
    assert entries["bench-throughput"] == {
        "model": "openai/fake",
        "api_base": "http://h:2/v1",
        "api_key": "fake",
    }
    assert set(entries) == set(bases)


def test_parse_token() -> None:
    assert parse_token('{"key_id": "ab", "token": "sk-sb-123"}') == "sk-sb-123"
    with pytest.raises(ServiceStartError, match="no token"):
        parse_token("created key ab")
    with pytest.raises(ServiceStartError, match="empty"):
        parse_token('{"token": ""}')


def test_ensure_litellm_reuses_an_existing_install(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\necho 9.9.9\n")
    (bin_dir / "python").chmod(0o755)
    (bin_dir / "litellm").write_text("")
    messages: list[str] = []
    install = litellm_env.ensure_litellm(tmp_path / "venv", messages.append)
    assert (install.version, install.install_s) == ("9.9.9", None)
    assert "reusing" in messages[0]


def test_ensure_litellm_failure_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm_env.sys, "executable", "/bin/false")
    with pytest.raises(DependencyUnavailableError, match="installing litellm"):
        litellm_env.ensure_litellm(tmp_path / "venv", lambda _: None)
