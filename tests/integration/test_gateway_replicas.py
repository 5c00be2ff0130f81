"""Two gateway processes sharing one real redis-server: a key's limit holds across both.

Each replica is a real ``switchboard gateway`` process (its own event loop, its own
in-process state); only Redis is shared. With the in-process backend each would admit the
key's whole limit, twice over in total.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import Scope
from switchboard_bench.fake_upstream import Behaviour, run_in_thread
from tests.integration.gateway_harness import chat_body
from tests.integration.redis_server import free_port, redis_server

pytestmark = pytest.mark.integration

RPM = 6
CONFIG = """\
data_dir = "{data}"
[gateway]
auth = "on"
[gateway.limits]
backend = "redis"
redis_url = "{redis}"
[[gateway.providers]]
name = "upstream"
kind = "openai"
base_url = "{upstream}"
[gateway.routes.chat]
targets = [{{provider = "upstream", model = "fake"}}]
"""


@contextlib.contextmanager
def gateway_process(config: Path, port: int) -> Iterator[str]:
    """``switchboard gateway`` as its own process; yields its URL once /health answers."""
    env = {**os.environ, "SWITCHBOARD_CONFIG": str(config)}
    command = [sys.executable, "-m", "switchboard.cli", "gateway", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"gateway exited: {process.stderr.read() if process.stderr else ''}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not answer /health within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_rate_limit_holds_across_two_gateway_processes(tmp_path: Path) -> None:
    with redis_server() as redis, run_in_thread(Behaviour(chunks=2)) as upstream:
        config = tmp_path / "switchboard.toml"
        data = tmp_path / "data"
        config.write_text(CONFIG.format(data=data, redis=redis, upstream=upstream))
        data.mkdir()
        keys = KeyStore.open(data / "gateway.sqlite3")
        try:
            token = keys.create(tenant="acme", scopes=[Scope.CHAT], rpm=RPM).token
        finally:
            keys.close()
        auth = {"Authorization": f"Bearer {token}"}
        with (
            gateway_process(config, free_port()) as first,
            gateway_process(config, free_port()) as second,
        ):
            started = time.monotonic()
            outcomes: dict[str, list[int]] = {first: [], second: []}
            for i in range(4 * RPM):
                replica = (first, second)[i % 2]
                response = httpx.post(
                    f"{replica}/v1/chat/completions",
                    json=chat_body(stream=False),
                    headers=auth,
                    timeout=10,
                )
                outcomes[replica].append(response.status_code)
            elapsed = time.monotonic() - started
    admitted = sum(statuses.count(200) for statuses in outcomes.values())
    refill = int(elapsed * RPM / 60) + 1  # requests the bucket may regain meanwhile
    assert RPM <= admitted <= RPM + refill < 2 * RPM
    for statuses in outcomes.values():  # each replica served some and refused the rest
        assert statuses.count(200) >= 1
        assert statuses.count(429) >= 1
        assert set(statuses) == {200, 429}
