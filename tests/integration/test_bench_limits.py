"""The limits benchmark's client against a real gateway on loopback (authentication on):
a huge body without a key is answered by its headers alone, one with a key is cut off at
the body limit, and an unexpected answer to the timed request stops the benchmark."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from switchboard.api import create_app
from switchboard.config import GatewaySettings, ServerSettings, Settings
from switchboard.gateway.types import Scope
from switchboard_bench.limits_bench import _refusal_times, _send_huge
from switchboard_bench.uvicorn_thread import serve

pytestmark = pytest.mark.integration

LIMIT = 2 * 2**20


def test_the_bench_client_sees_each_refusal(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        server=ServerSettings(max_body_bytes=LIMIT),
        gateway=GatewaySettings(db_path=tmp_path / "gateway.sqlite3", auth="on"),
    )
    app = create_app(None, settings)
    token = app.state.auth.keys.create(tenant="default", scopes=list(Scope)).token
    with serve(app) as base:
        port = urlsplit(base).port
        assert port is not None
        assert _send_huge(port, None, chunked=False) == (401, 0)
        assert _send_huge(port, None, chunked=True) == (401, 0)
        status, sent = _send_huge(port, token, chunked=True, path="/v1/chat/completions")
        assert status == 413
        assert LIMIT < sent < 400 * 2**20
        with pytest.raises(RuntimeError, match="404"):  # no such model: not the refusal timed
            _refusal_times(base, token, "no-such-model", 1)
