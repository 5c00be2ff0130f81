"""``switchboard assistant token`` and ``rotate-secret``: the token is the last line, and
bad input is one line on stderr (exit code 1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.cli.assistant_cmds import parse_seconds
from switchboard.errors import CustomerTokenError
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import Scope

pytestmark = pytest.mark.unit


def verify(tmp_path: Path, token: str, tenant: str) -> str:
    secrets = CustomerSecrets.open(tmp_path / "gateway.sqlite3")
    try:
        return secrets.verify(token, tenant).customer_id
    finally:
        secrets.close()


def issue_key(tmp_path: Path, tenant: str) -> None:
    keys = KeyStore.open(tmp_path / "gateway.sqlite3")
    try:
        keys.create(tenant=tenant, scopes=[Scope.ASSISTANT])
    finally:
        keys.close()


def one_line_error(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["assistant", *args])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_the_token_is_the_last_line_and_verifies(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["assistant", "token", "C1002"])
    assert result.exit_code == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    assert token.startswith("sbc1.")
    assert verify(tmp_path, token, "default") == "C1002"  # the default tenant
    assert "C1002" in result.stderr


def test_a_tenant_with_a_key_and_a_ttl(runner: CliRunner, tmp_path: Path) -> None:
    issue_key(tmp_path, "acme")
    before = time.time()
    result = runner.invoke(app, ["assistant", "token", "C7", "--tenant", "acme", "--ttl", "90"])
    assert result.exit_code == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    assert verify(tmp_path, token, "acme") == "C7"
    secrets = CustomerSecrets.open(tmp_path / "gateway.sqlite3")
    try:
        with pytest.raises(CustomerTokenError, match="expired"):
            secrets.verify(token, "acme", now=before + 91)
    finally:
        secrets.close()


def test_an_unknown_tenant_is_one_line(runner: CliRunner) -> None:
    line = one_line_error(runner, "token", "C1002", "--tenant", "nobody")
    assert "unknown tenant 'nobody'" in line


@pytest.mark.parametrize("ttl", ["0", "-5", "abc", "1.5", "999999999"])
def test_a_bad_ttl_is_one_line(runner: CliRunner, ttl: str) -> None:
    assert "ttl" in one_line_error(runner, "token", "C1002", "--ttl", ttl)


def test_a_bad_customer_id_is_one_line(runner: CliRunner) -> None:
    assert "customer id" in one_line_error(runner, "token", "C 1002")


def test_seconds_are_parsed() -> None:
    assert (parse_seconds("3600"), parse_seconds("30m"), parse_seconds("1d")) == (3600, 1800, 86400)


def test_rotate_secret_ends_old_tokens_without_grace(runner: CliRunner, tmp_path: Path) -> None:
    old = runner.invoke(app, ["assistant", "token", "C1002"]).stdout.splitlines()[-1]
    rotated = runner.invoke(app, ["assistant", "rotate-secret"])
    assert rotated.exit_code == 0, rotated.stderr
    assert verify(tmp_path, old, "default") == "C1002"  # the default grace
    assert runner.invoke(app, ["assistant", "rotate-secret", "--grace", "0"]).exit_code == 0
    with pytest.raises(CustomerTokenError, match="signature"):
        verify(tmp_path, old, "default")
    new = runner.invoke(app, ["assistant", "token", "C1002"]).stdout.splitlines()[-1]
    assert verify(tmp_path, new, "default") == "C1002"
    assert "unknown tenant" in one_line_error(runner, "rotate-secret", "--tenant", "nobody")
