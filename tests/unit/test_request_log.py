"""The request log: batching writer, bounded queue, redaction, spend totals and queries."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from switchboard.api import observability_routes
from switchboard.api.errors import install_error_handlers
from switchboard.config import RequestLogSettings
from switchboard.gateway.types import Principal, Scope
from switchboard.observability import log_store
from switchboard.observability.log_store import LogStore, SpendRow, spend_deltas
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.record import Attempt, RequestRecord, TurnSummary
from switchboard.observability.redact import luhn_valid, redact_secrets, redact_text
from switchboard.observability.request_log import RequestLog
from switchboard.periods import period_of

pytestmark = pytest.mark.unit

NOV_25 = datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp()
NOV_30 = datetime(2026, 11, 30, 23, 59, tzinfo=UTC).timestamp()
DEC_01 = datetime(2026, 12, 1, 0, 1, tzinfo=UTC).timestamp()


def record(i: int, **fields: object) -> RequestRecord:
    values: dict[str, object] = {
        "request_id": f"req-{i}",
        "started_at": NOV_25 + i,
        "key_id": "k1",
        "tenant": "acme",
        "endpoint": "chat",
        "model": "fast",
        "status": 200,
        "provider": "local",
        "served_model": "qwen",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.001,
    }
    values.update(fields)
    return RequestRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "gateway.sqlite3"


@pytest.fixture
def make_log(db: Path) -> Iterator[Callable[..., RequestLog]]:
    logs: list[RequestLog] = []

    def make(redact: Callable[[str], str] = redact_text, **settings: object) -> RequestLog:
        log = RequestLog(db, RequestLogSettings(**settings), redact)
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close(timeout=5)


@pytest.fixture
def store(db: Path) -> Iterator[LogStore]:
    store = LogStore.open(db)
    try:
        yield store
    finally:
        store.close()


# -- the writer --------------------------------------------------------------------------------


def test_batches_write_every_record(make_log: Callable[..., RequestLog], store: LogStore) -> None:
    log = make_log(batch_size=7, flush_interval_s=5.0)
    log.start()
    assert all(log.submit(record(i)) for i in range(50))
    assert log.flush()
    rows = store.query(limit=1000)
    assert sorted(r.record.request_id for r in rows) == sorted(f"req-{i}" for i in range(50))
    assert log.written == 50
    assert log.dropped == 0


def test_full_queue_drops_and_counts_without_blocking(
    make_log: Callable[..., RequestLog], store: LogStore
) -> None:
    log = make_log(queue_size=5)  # the writer is not started yet: nothing drains the queue
    accepted = [log.submit(record(i)) for i in range(8)]
    assert accepted == [True] * 5 + [False] * 3
    assert log.dropped == 3
    log.start()
    assert log.flush()
    assert sorted(r.record.request_id for r in store.query()) == [f"req-{i}" for i in range(5)]


def test_close_writes_what_is_queued(make_log: Callable[..., RequestLog], store: LogStore) -> None:
    log = make_log(flush_interval_s=30.0)
    log.start()
    for i in range(3):
        log.submit(record(i))
    log.close(timeout=10)
    assert len(store.query()) == 3
    assert not log.flush()  # stopped


def test_disabled_log_refuses_records(make_log: Callable[..., RequestLog], db: Path) -> None:
    log = make_log(enabled=False)
    log.start()
    assert not log.submit(record(1))
    assert log.dropped == 0
    assert not db.exists()


def test_texts_are_redacted_and_cut(make_log: Callable[..., RequestLog], store: LogStore) -> None:
    log = make_log(record_text=True, max_text_chars=40)
    log.start()
    log.submit(record(1, input_text="mail bob@example.com key sb-0123456789ab-topsecret"))
    log.submit(record(2, output_text="x" * 100))
    assert log.flush()
    by_id = {r.record.request_id: r.record for r in store.query()}
    assert by_id["req-1"].input_text == "mail <EMAIL> key <API_KEY>"
    assert by_id["req-2"].output_text == "x" * 40


def test_texts_are_dropped_unless_recorded(
    make_log: Callable[..., RequestLog], store: LogStore
) -> None:
    log = make_log(record_text=False)
    log.start()
    submitted = record(1, input_text="hello", output_text="world")
    log.submit(submitted)
    assert log.flush()
    (row,) = store.query()
    assert row.record.input_text is None
    assert row.record.output_text is None
    assert submitted.input_text == "hello"  # the caller's record is left alone


def test_a_failing_batch_does_not_kill_the_writer(
    make_log: Callable[..., RequestLog], store: LogStore, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def redact(text: str) -> str:
        if "boom" in text:
            raise RuntimeError("redactor broke")
        return text

    log = make_log(redact, record_text=True)
    log.start()
    log.submit(record(1, input_text="boom"))
    assert log.flush()
    assert (log.failed_batches, log.failed_records) == (1, 1)

    with sqlite3.connect(db) as conn:  # a storage error: the table is gone
        conn.execute("DROP TABLE requests")
    log.submit(record(2))
    assert log.flush()
    assert log.failed_batches == 2

    log_store.connect(log_store.gateway_file(db)).close()  # the schema is back
    log.submit(record(3, input_text="fine"))
    assert log.flush()
    assert [r.record.request_id for r in store.query()] == ["req-3"]
    assert store.spent("key", "k1", "2026-11") == pytest.approx(
        0.001
    )  # the failed ones rolled back
    # said once when it began to fail (with the bug's traceback), once when it recovered
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "request log: records are being lost"),
        ("WARNING", "request log: writing again; 2 records were lost while it failed"),
    ]


def test_a_logged_request_id_is_not_counted_twice(db: Path, store: LogStore) -> None:
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        assert log_store.write_batch(conn, [record(1), record(2)]) == 2
        assert log_store.write_batch(conn, [record(2), record(3)]) == 1
    finally:
        conn.close()
    row = store.spend("tenant", "acme", "2026-11")
    assert row is not None
    assert row.requests == 3


def test_the_record_round_trips(db: Path, store: LogStore) -> None:
    original = record(
        1,
        attempts=[Attempt("remote", "big", "timeout", 12.5), Attempt("local", "qwen")],
        stream=True,
        ttft_ms=40.0,
        itl_mean_ms=9.0,
        itl_p99_ms=30.0,
        total_ms=400.0,
        queue_wait_ms=2.0,
        cache_hit=True,
        guard_events=["pii"],
        error_code=None,
    )
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        log_store.write_batch(conn, [original])
    finally:
        conn.close()
    (row,) = store.query()
    assert row.record == original


def test_an_assistant_turns_summary_round_trips(db: Path, store: LogStore) -> None:
    turn = TurnSummary("shipping", "quoted", ["shipping-methods.md"], ["get_order"], "miss")
    original = record(1, endpoint="assistant", turn=turn)
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        log_store.write_batch(conn, [original, record(2)])
    finally:
        conn.close()
    rows = {row.record.request_id: row.record for row in store.query()}
    assert rows["req-1"] == original
    assert rows["req-2"].turn is None


def test_a_log_from_before_turn_summaries_gains_the_column_and_keeps_its_rows(
    db: Path,
) -> None:
    old = sqlite3.connect(db)
    schema = log_store.SCHEMA.replace(",\n    turn TEXT\n", "\n")
    assert "turn TEXT" not in schema
    old.executescript(schema)
    columns = log_store._COLUMNS.removesuffix(", turn")
    old.execute(
        f"INSERT INTO requests ({columns}) VALUES ({', '.join('?' * len(columns.split(',')))})",
        log_store._row_of(record(1))[:-1],
    )
    old.commit()
    old.close()
    store = LogStore.open(db)
    try:
        (row,) = store.query()
        assert row.record == record(1)
        conn = log_store.connect(log_store.gateway_file(db))
        try:
            log_store.write_batch(conn, [record(2, turn=TurnSummary("account", "not_sure"))])
        finally:
            conn.close()
        turns = {r.record.request_id: r.record.turn for r in store.query()}
    finally:
        store.close()
    assert turns == {"req-1": None, "req-2": TurnSummary("account", "not_sure")}


# -- spend totals ------------------------------------------------------------------------------


def _mixed_records() -> list[RequestRecord]:
    out = []
    for i in range(60):
        out.append(
            record(
                i,
                started_at=(NOV_25, NOV_30, DEC_01)[i % 3] + i,
                key_id=("k1", "k2", "k3", "k4")[i % 4],  # k1, k2 of acme; k3, k4 of zeta
                tenant="acme" if i % 4 < 2 else "zeta",
                served_model=("qwen", "llama")[i % 2],
                prompt_tokens=i,
                completion_tokens=2 * i,
                cost_usd=i / 1000,
                status=500 if i % 7 == 0 else 200,
            )
        )
    return out


def test_spend_totals_match_the_sums_over_the_rows(db: Path, store: LogStore) -> None:
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        records = _mixed_records()
        log_store.write_batch(conn, records[:25])
        log_store.write_batch(conn, records[25:])
        periods = {
            "day": "strftime('%Y-%m-%d', ts, 'unixepoch')",
            "month": "strftime('%Y-%m', ts, 'unixepoch')",
        }
        checked = 0
        for scope, column in (("key", "key_id"), ("tenant", "tenant"), ("model", "served_model")):
            for kind, expr in periods.items():
                if scope == "model" and kind == "month":
                    continue
                sums = conn.execute(
                    f"SELECT {expr}, {column}, COUNT(*), SUM(prompt_tokens), "
                    "SUM(completion_tokens), SUM(cost_usd), SUM(status >= 400) "
                    f"FROM requests GROUP BY 1, 2"
                ).fetchall()
                for period, scope_id, n, prompt, completion, cost, errors in sums:
                    row = store.spend(scope, scope_id, period)  # type: ignore[arg-type]
                    assert row is not None
                    assert (row.requests, row.prompt_tokens, row.completion_tokens) == (
                        n,
                        prompt,
                        completion,
                    )
                    assert row.cost_usd == pytest.approx(cost)
                    assert row.errors == errors
                    checked += 1
    finally:
        conn.close()
    assert checked > 20
    assert store.spend("key", "k1", "2027-01") is None
    assert store.spent("tenant", "nobody", "2026-11") == 0.0


def test_spend_report_lists_a_tenants_rows_of_a_period(db: Path, store: LogStore) -> None:
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        log_store.write_batch(conn, _mixed_records())
    finally:
        conn.close()
    rows = store.spend_report("acme", "2026-11")
    assert rows
    assert {r.tenant for r in rows} == {"acme"}
    assert {r.period for r in rows} == {"2026-11", "2026-11-25", "2026-11-30"}
    assert {r.scope for r in rows} == {"key", "tenant", "model"}
    month = next(r for r in rows if r.scope == "tenant" and r.period == "2026-11")
    assert month.cost_usd == pytest.approx(store.spent("tenant", "acme", "2026-11"))
    assert store.spend_report("acme", "2026-12-01")[0].period == "2026-12-01"


def test_spend_deltas_fold_a_batch() -> None:
    rows = spend_deltas([record(1), record(2, status=429, error_code="rate_limit_exceeded")])
    assert len(rows) == 5  # key and tenant per day and month, the model per day
    key_day = next(r for r in rows if (r.scope, r.period) == ("key", "2026-11-25"))
    assert key_day == SpendRow("2026-11-25", "key", "k1", "acme", 2, 20, 10, 0.002, 1)


def test_period_of_is_utc() -> None:
    assert period_of(NOV_30, "day") == "2026-11-30"
    assert period_of(DEC_01, "month") == "2026-12"


# -- queries ---------------------------------------------------------------------------------


@pytest.fixture
def filled(db: Path, store: LogStore) -> LogStore:
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        log_store.write_batch(conn, _mixed_records())
    finally:
        conn.close()
    return store


def test_query_filters(filled: LogStore) -> None:
    acme = filled.query(tenant="acme", limit=1000)
    assert acme
    assert {r.record.tenant for r in acme} == {"acme"}
    assert len(acme) + len(filled.query(tenant="zeta", limit=1000)) == 60
    assert {r.record.key_id for r in filled.query(key_id="k2", limit=1000)} == {"k2"}
    failed = filled.query(status=500, limit=1000)
    assert [r.record.request_id for r in failed] == [
        f"req-{i}" for i in (56, 49, 42, 35, 28, 21, 14, 7, 0)
    ]
    december = filled.query(since=DEC_01, limit=1000)
    assert {period_of(r.record.started_at, "month") for r in december} == {"2026-12"}
    november = filled.query(until=DEC_01, limit=1000)
    assert len(november) + len(december) == 60


def test_query_pages_newest_first(filled: LogStore) -> None:
    seen: list[int] = []
    before: int | None = None
    while True:
        page = filled.query(tenant="acme", limit=7, before_id=before)
        seen.extend(r.id for r in page)
        if len(page) < 7:
            break
        before = page[-1].id
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == len(filled.query(tenant="acme", limit=1000))
    with pytest.raises(ValueError, match="limit"):
        filled.query(limit=0)


def _plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_the_dashboards_queries_use_indexes(db: Path, filled: LogStore) -> None:
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        conn.execute("ANALYZE")
        tenant_sql, tenant_params = log_store._query_sql(
            tenant="acme", key_id=None, status=None, since=NOV_25, until=None, before_id=None
        )
        key_sql, key_params = log_store._query_sql(
            tenant=None, key_id="k1", status=None, since=NOV_25, until=DEC_01, before_id=None
        )
        tenant_plan = _plan(conn, tenant_sql, (*tenant_params, 10))
        key_plan = _plan(conn, key_sql, (*key_params, 10))
        spend_plan = _plan(
            conn,
            "SELECT * FROM spend WHERE period = ? AND scope = ? AND scope_id = ?",
            ("2026-11", "key", "k1"),
        )
        report_plan = _plan(
            conn,
            "SELECT * FROM spend WHERE tenant = ? AND period >= ? AND period < ?",
            ("acme", "2026-11", "2026-11\U0010ffff"),
        )
    finally:
        conn.close()
    assert "USING INDEX requests_tenant_ts" in tenant_plan
    assert "USING INDEX requests_key_ts" in key_plan
    assert "sqlite_autoindex_spend" in spend_plan  # the primary key
    assert "USING INDEX spend_tenant_period" in report_plan


# -- redaction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe@example.co.uk", "write to <EMAIL>"),
        ("card 4111 1111 1111 1111.", "card <CARD>."),
        ("card 4111-1111-1111-1112 fails Luhn", "card 4111-1111-1111-1112 fails Luhn"),
        ("call +44 20 7946 0958", "call <PHONE>"),
        ("call (555) 123-4567", "call <PHONE>"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN <IBAN>"),
        ("IBAN DE00 3704 0044 0532 0130 00", "IBAN DE00 3704 0044 0532 0130 00"),
        ("from 10.0.12.255", "from <IP>"),
        ("order 12345 on 2026-11-25, qty 3", "order 12345 on 2026-11-25, qty 3"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_secrets() -> None:
    text = "sb-0123456789ab-Zx_9-q and sk-proj-abcdefgh123 and Authorization: Bearer eyJ.abc"
    assert redact_secrets(text) == "<API_KEY> and <API_KEY> and Authorization: Bearer <TOKEN>"
    assert redact_text("key sb-0123456789ab-55512345678") == "key <API_KEY>"


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


# -- the admin routes --------------------------------------------------------------------------


def _app(store: LogStore, principal: Principal | None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.log_store = store
    app.state.metrics = GatewayMetrics()
    app.include_router(observability_routes.metrics_router)

    async def set_principal(request: Request) -> None:
        if principal is not None:
            request.state.principal = principal

    app.include_router(observability_routes.admin_router, dependencies=[Depends(set_principal)])
    return app


def test_an_admin_key_reads_its_own_tenant_only(filled: LogStore) -> None:
    admin = Principal("k9", "acme", frozenset({Scope.ADMIN}))
    with TestClient(_app(filled, admin)) as client:
        page = client.get("/v1/admin/requests", params={"limit": 5}).json()
        assert len(page["data"]) == 5
        assert {row["tenant"] for row in page["data"]} == {"acme"}
        nxt = client.get(
            "/v1/admin/requests", params={"limit": 5, "before_id": page["next_before_id"]}
        ).json()
        assert max(row["id"] for row in nxt["data"]) < min(row["id"] for row in page["data"])
        assert client.get("/v1/admin/requests", params={"tenant": "zeta"}).status_code == 403
        own = client.get("/v1/admin/spend", params={"scope": "tenant", "id": "acme"}).json()
        assert own["cost_usd"] == pytest.approx(filled.spent("tenant", "acme", own["period"]))
        acme_nov = client.get(
            "/v1/admin/spend", params={"scope": "tenant", "id": "acme", "period": "2026-11"}
        ).json()
        assert acme_nov["requests"] > 0
        other = {"scope": "tenant", "id": "zeta", "period": "2026-11"}
        assert client.get("/v1/admin/spend", params=other).status_code == 403
        zeta_key = client.get(  # k3 spent only for zeta: reads as nothing
            "/v1/admin/spend", params={"scope": "key", "id": "k3", "period": "2026-11"}
        ).json()
        assert zeta_key["requests"] == 0
        report = client.get("/v1/admin/spend", params={"period": "2026-11"}).json()["data"]
        assert report
        assert {row["tenant"] for row in report} == {"acme"}
        assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_the_anonymous_caller_reads_every_tenant(filled: LogStore) -> None:
    with TestClient(_app(filled, None)) as client:
        rows = client.get("/v1/admin/requests", params={"limit": 1000}).json()["data"]
        assert {row["tenant"] for row in rows} == {"acme", "zeta"}
        zeta = client.get(
            "/v1/admin/spend", params={"scope": "tenant", "id": "zeta", "period": "2026-11"}
        ).json()
        assert zeta["requests"] > 0
        assert client.get("/v1/admin/spend").status_code == 400  # whose report?


def test_spend_period_day_and_month_mean_the_current_ones(db: Path, store: LogStore) -> None:
    now = time.time()
    conn = log_store.connect(log_store.gateway_file(db))
    try:
        log_store.write_batch(conn, [record(1, started_at=now, cost_usd=0.25)])
    finally:
        conn.close()
    today, this_month = period_of(now, "day"), period_of(now, "month")
    with TestClient(_app(store, None)) as client:
        for asked, period in (("day", today), ("month", this_month), (today, today)):
            params = {"scope": "tenant", "id": "acme", "period": asked}
            row = client.get("/v1/admin/spend", params=params).json()
            assert (row["period"], row["requests"], row["cost_usd"]) == (period, 1, 0.25)
        report = client.get("/v1/admin/spend", params={"tenant": "acme", "period": "day"})
        rows = {(row["scope"], row["period"]) for row in report.json()["data"]}
        assert rows == {("key", today), ("model", today), ("tenant", today)}


@pytest.mark.parametrize("period", ["week", "2026-13", "2026-11-31", ""])
def test_spend_refuses_a_period_it_does_not_know(filled: LogStore, period: str) -> None:
    with TestClient(_app(filled, None)) as client:
        for params in ({"scope": "tenant", "id": "acme"}, {"tenant": "acme"}):
            response = client.get("/v1/admin/spend", params={**params, "period": period})
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["param"] == "period"
            assert "'day', 'month', YYYY-MM-DD or YYYY-MM" in error["message"]


def test_the_spend_period_is_documented_in_openapi(filled: LogStore) -> None:
    with TestClient(_app(filled, None)) as client:
        spec = client.get("/openapi.json").json()
    parameters = spec["paths"]["/v1/admin/spend"]["get"]["parameters"]
    period = next(p for p in parameters if p["name"] == "period")
    for form in ("'day'", "'month'", "YYYY-MM-DD", "YYYY-MM"):
        assert form in period["description"]


@pytest.mark.parametrize(
    "params",
    [{"before_id": 2**70}, {"before_id": -(2**70)}, {"status": 2**64}, {"status": -1}],
)
def test_integers_beyond_sqlite_are_a_400_naming_the_param(
    filled: LogStore, params: dict[str, int]
) -> None:
    with TestClient(_app(filled, None)) as client:
        response = client.get("/v1/admin/requests", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == next(iter(params))
