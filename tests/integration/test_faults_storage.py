"""A read-only and a damaged conversations database, under the real assistant: the
bundled embedding model routing, the default model in the engine, conversations in SQLite,
the server over loopback.

- Read-only (the file immutable when the server starts, as a volume mounted read-only or a
  file restored with the wrong owner): past conversations are still read; a turn that must
  write is a 503 ``storage_error`` naming the file and the fix, logged as one line;
  ``/health`` shows the store degraded. Once the file is writable again the next turn is
  saved, without a restart. A read-only gateway database likewise: requests are served,
  the request log counts what it loses and resumes once the file is writable.
- Damaged (pages overwritten while the server was stopped): the server starts, ``/health``
  says down naming the store, a turn is a 503 naming the file and the way out, the other
  stores go on (the request log keeps its rows), and the damaged file is left as it was
  for recovery; restored from a backup, its conversations are back.

(``test_storage_faults`` covers a damaged knowledge database the same way, and
``test_faults_disk_full`` a full disk under the gateway database.)

Read-only by ``chattr +i``: root ignores file modes, and a read-only bind mount cannot be
made while the server holds the file open; the immutable flag stops root too, works on the
ext4/xfs/btrfs a CI machine has, and is cleared even when the test fails.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.api import create_app
from switchboard.assistant.conversation_records import AssistantRecord
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.service import open_assistants
from switchboard.config import (
    DEFAULT_MODEL,
    AssistantSettings,
    CacheSettings,
    EmbeddingSettings,
    EngineSettings,
    GatewaySettings,
    GuardSettings,
    KnowledgeSettings,
    OrdersSettings,
    Settings,
)
from switchboard.engine.local import LocalEngine
from switchboard.observability.request_log import RequestLog
from switchboard.rag.knowledge import KnowledgeBase
from switchboard_bench.uvicorn_thread import serve
from tests.integration import gateway_harness
from tests.integration.fault_harness import (
    error_of,
    fake_chat,
    gateway_settings,
    health,
    logged,
    tracebacks,
    until,
)
from tests.integration.test_api_limits import _closed_port
from tests.unit.demo_shop import Intent
from tests.unit.test_api_routes import FakeServedEngine
from tests.unit.test_sqlite_file import damage_pages

pytestmark = pytest.mark.integration

CUSTOMER = "C1002"
HANDOFF = "I want to talk to a human agent please."  # a ticket: a write, no model call
READ_ONLY_FIX = "make it and its directory writable for this server's user"


@dataclass
class Parts:
    """What every server of this module shares: the engine and the knowledge base."""

    engine: LocalEngine
    knowledge: KnowledgeBase
    models_dir: Path


@pytest.fixture(scope="module")
def parts(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parts]:
    data = tmp_path_factory.mktemp("parts")
    knowledge_settings = KnowledgeSettings(
        store=str(data / "knowledge.sqlite3"), embedding=EmbeddingSettings(n_threads=1)
    )
    models_dir = Settings().models_dir
    knowledge = KnowledgeBase.open(knowledge_settings, knowledge_settings.store, models_dir)
    engine = LocalEngine(
        DEFAULT_MODEL,
        default_model_path,
        EngineSettings(max_model_len=512, max_num_seqs=2, n_threads=1),
    )
    try:
        yield Parts(engine, knowledge, models_dir)
    finally:
        engine.close()
        knowledge.close()


@dataclass
class Served:
    base_url: str
    app: Any


@contextmanager
def served(parts: Parts, data: Path) -> Iterator[Served]:
    settings = Settings(
        model=DEFAULT_MODEL,
        data_dir=data,
        knowledge=parts.knowledge.settings,
        orders=OrdersSettings(port=_closed_port(), start_with_server=False),
        assistant=AssistantSettings(db_path=data / "assistant.sqlite3"),
        gateway=GatewaySettings(db_path=data / "gateway.sqlite3"),
        guard=GuardSettings(enabled=False),
        cache=CacheSettings(enabled=False),
    )
    assistant = open_assistants(settings, LocalChatModel(parts.engine), parts.knowledge)
    app = create_app(parts.engine, settings, knowledge=parts.knowledge, assistants=assistant)
    with serve(app) as base_url:
        yield Served(base_url, app)


def earlier_conversation(path: Path) -> str:
    """A session with one exchange, committed before the server starts; its id."""
    store = ConversationStore(path)
    try:
        session = store.create_session(CUSTOMER, assistant="shop")  # the default served
        record = AssistantRecord(content="It ships in two days.", intent=Intent.SHIPPING,
                                 confidence=0.9, model="m")  # fmt: skip
        store.add_exchange(session.id, "When does it ship?", record)
    finally:
        store.close()
    return session.id


def history(base_url: str, session_id: str) -> httpx.Response:
    return httpx.get(
        f"{base_url}/v1/assistant/sessions/{session_id}",
        params={"customer_id": CUSTOMER},
        timeout=10,
    )


def ask(base_url: str, message: str = HANDOFF) -> httpx.Response:
    body = {"customer_id": CUSTOMER, "message": message}
    return httpx.post(f"{base_url}/v1/assistant/chat", json=body, timeout=60)


def chattr(flag: str, path: Path) -> None:
    """``+i``: ``path`` cannot be written, even by root; ``-i``: it can again."""
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"chattr {flag} needs root and ext4/xfs/btrfs: {done.stderr.strip()}")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[list[Path]]:
    """Files the test makes immutable (``chattr("+i", ...)``); writable again after it,
    whatever happens."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        chattr("-i", path)


def test_a_read_only_conversations_file_serves_reads_refuses_writes_and_recovers(
    parts: Parts, tmp_path: Path, read_only: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "assistant.sqlite3"
    session = earlier_conversation(path)
    read_only.append(path)
    chattr("+i", path)
    with served(parts, tmp_path) as server:  # it starts on the read-only file
        read = history(server.base_url, session)
        refused = [ask(server.base_url) for _ in range(2)]
        health_during = health(server.base_url)
        lines = logged(caplog)
        chattr("-i", path)  # writable again, the server still running
        saved = ask(server.base_url)
        read_after = history(server.base_url, session)

    # what the user sees: reads work, writes are a 503 naming the file and the fix
    assert read.status_code == 200
    assert [m["content"] for m in read.json()["messages"]] == [
        "When does it ship?", "It ships in two days.",
    ]  # fmt: skip
    message = f"{path} is read-only (attempt to write a readonly database): {READ_ONLY_FIX}"
    for response in refused:
        assert error_of(response) == (503, "server_error", "storage_error")
        assert response.json()["error"]["message"] == message
    status, body = health_during
    assert (status, body["status"]) == (200, "degraded")
    conversations = body["stores"]["conversations"]
    assert (conversations["status"], conversations["last_error"]) == ("degraded", message)
    # what is logged: one line per refused request, naming the file, no traceback
    assert lines == [message, message]
    assert not tracebacks(caplog)
    # writable again: the next turn is saved, and the earlier conversation is intact
    assert saved.status_code == 200, saved.text
    assert "event: done" in saved.text
    assert read_after.json()["messages"] == read.json()["messages"]


def test_a_damaged_conversations_file_is_down_left_as_it_is_and_restored_from_backup(
    parts: Parts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "assistant.sqlite3"
    session = earlier_conversation(path)
    backup = tmp_path / "backup.sqlite3"
    backup.write_bytes(path.read_bytes())
    damage_pages(path)
    damaged = path.read_bytes()
    with served(parts, tmp_path) as server:
        caplog.clear()
        refused = ask(server.base_url)
        read = history(server.base_url, session)
        status, body = health(server.base_url)
        collections = httpx.get(f"{server.base_url}/v1/collections", timeout=10)
        rows = gateway_harness.logged(server.app, 1)
        lines = logged(caplog)
    kept = path.read_bytes()
    path.write_bytes(backup.read_bytes())  # the operator restores it
    with served(parts, tmp_path) as server:
        restored = history(server.base_url, session)
        saved = ask(server.base_url)

    # what the user sees: a 503 naming the file and the way out; /health down
    for response in (refused, read):
        assert error_of(response) == (503, "server_error", "storage_error")
        assert response.json()["error"]["message"].startswith(f"{path} is damaged")
        assert response.json()["error"]["message"].endswith(
            "past conversations and tickets in it are lost)"
        )
    assert (status, body["status"], body["stores"]["conversations"]["status"]) == (
        503, "down", "down",
    )  # fmt: skip
    assert body["stores"]["gateway"]["status"] == "ok"
    assert collections.status_code == 200  # the knowledge base is another file
    # what is logged: a line per refused request naming the file, no traceback
    assert len(lines) == 2
    assert all(line.startswith(f"{path} is damaged") for line in lines)
    assert not tracebacks(caplog)
    # what is kept: the damaged file untouched (for recovery), the other stores' rows,
    # and once restored from the backup, the conversation
    assert kept == damaged
    assert [r.record.status for r in rows] == [503]
    assert restored.status_code == 200
    assert [m["content"] for m in restored.json()["messages"]] == [
        "When does it ship?", "It ships in two days.",
    ]  # fmt: skip
    assert saved.status_code == 200


def test_a_read_only_gateway_file_serves_requests_and_the_log_resumes_when_writable(
    tmp_path: Path, read_only: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "gateway.sqlite3"
    settings = gateway_settings(tmp_path, path)
    engine = FakeServedEngine()
    try:
        first = create_app(engine, settings)
        with serve(first) as url:
            assert fake_chat(url).status_code == 200
            gateway_harness.logged(first, 1)
        read_only.append(path)
        chattr("+i", path)
        app = create_app(engine, settings)
        with serve(app) as url:  # it starts on the read-only file
            during = [fake_chat(url) for _ in range(2)]
            log: RequestLog = app.state.request_log
            lost = until(lambda: log.flush() and log.failed_records, lambda n: n == 2, 10)
            health_during = health(url)
            chattr("-i", path)  # writable again, the server still running
            after = [fake_chat(url) for _ in range(2)]
            rows = gateway_harness.logged(app, 3)
            lines = logged(caplog, logging.INFO)
    finally:
        engine.async_engine.shutdown()

    assert [r.status_code for r in during + after] == [200] * 4
    message = f"{path} is read-only (attempt to write a readonly database): {READ_ONLY_FIX}"
    status, body = health_during
    assert (status, body["stores"]["gateway"]["status"]) == (200, "degraded")
    assert body["stores"]["gateway"]["last_error"] == message
    assert lost == 2
    assert [line for line in lines if line.startswith("request log")] == [
        f"request log: records are being lost: {message}",
        "request log: writing again; 2 records were lost while it failed",
    ]
    assert not tracebacks(caplog)
    assert len(rows) == 3  # the one from before, and the two after
