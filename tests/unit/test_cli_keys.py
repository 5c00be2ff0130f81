"""``switchboard keys``: create, list, revoke, budget, and their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.cli.keys_cmds import parse_duration, parse_scopes
from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import Scope

pytestmark = pytest.mark.unit


def create(runner: CliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["keys", "create", "--tenant", "acme", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    created: dict[str, object] = json.loads(result.stdout)
    return created


@pytest.mark.parametrize(
    ("text", "seconds"), [("3600s", 3600), ("15m", 900), ("12h", 43_200), ("30d", 2_592_000)]
)
def test_durations_are_parsed(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "1.5h", "-3d", "0s", "10y", "3 d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_scopes_are_parsed_and_unknown_ones_named() -> None:
    assert parse_scopes("chat, search") == {Scope.CHAT, Scope.SEARCH}
    with pytest.raises(ValueError, match=r"unknown scope.*root"):
        parse_scopes("chat,root")
    with pytest.raises(ValueError, match="none given"):
        parse_scopes(",")


def test_create_prints_the_token_once_and_it_authenticates(
    runner: CliRunner, tmp_path: Path
) -> None:
    args = "--tenant acme --name ci --scopes chat,search --rpm 60 --budget-usd 3.5 --expires-in 1h"
    result = runner.invoke(app, ["keys", "create", *args.split()])
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("sb-")
    assert "will not be shown again" in result.stderr
    keys = KeyStore.open(tmp_path / "gateway.sqlite3")
    try:
        principal = keys.authenticate(token)
        (key,) = keys.list()
    finally:
        keys.close()
    assert (principal.tenant, principal.scopes, principal.rpm, principal.budget_usd) == (
        "acme",
        frozenset({Scope.CHAT, Scope.SEARCH}),
        60,
        3.5,
    )
    assert key.expires_at is not None
    assert key.expires_at - key.created_at == pytest.approx(3600)


def test_list_shows_keys_but_never_their_secrets(runner: CliRunner) -> None:
    first = create(runner, "--scopes", "chat")
    create(runner, "--scopes", "admin")
    table = runner.invoke(app, ["keys", "list"])
    assert table.exit_code == 0
    assert str(first["id"]) in table.stdout
    assert "acme" in table.stdout
    as_json = runner.invoke(app, ["keys", "list", "--json"])
    listed = json.loads(as_json.stdout)
    assert [k["scopes"] for k in listed] == [["chat"], ["admin"]]
    token = str(first["token"])
    for output in (table.stdout, as_json.stdout):
        assert token[16:] not in output
        assert "token" not in output


def test_revoke_hides_a_key_unless_all_are_listed(runner: CliRunner) -> None:
    key_id = str(create(runner, "--scopes", "chat")["id"])
    result = runner.invoke(app, ["keys", "revoke", key_id])
    assert result.exit_code == 0
    assert f"revoked sb-{key_id}-" in result.stdout
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout) == []
    listed = json.loads(runner.invoke(app, ["keys", "list", "--all", "--json"]).stdout)
    assert [(k["id"], k["active"]) for k in listed] == [(key_id, False)]


def test_list_filters_by_tenant(runner: CliRunner) -> None:
    create(runner, "--scopes", "chat")
    runner.invoke(app, ["keys", "create", "--tenant", "beta", "--scopes", "chat"])
    listed = json.loads(runner.invoke(app, ["keys", "list", "--tenant", "beta", "--json"]).stdout)
    assert [k["tenant"] for k in listed] == ["beta"]


def test_budget_is_shown_set_and_removed(runner: CliRunner) -> None:
    assert runner.invoke(app, ["keys", "budget", "acme"]).stdout == "tenant acme: no budget\n"
    assert runner.invoke(app, ["keys", "budget", "acme", "--usd", "12.5"]).stdout == (
        "tenant acme: $12.5\n"
    )
    assert runner.invoke(app, ["keys", "budget", "acme"]).stdout == "tenant acme: $12.5\n"
    assert runner.invoke(app, ["keys", "budget", "acme", "--none"]).stdout == (
        "tenant acme: no budget\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--tenant", "acme", "--scopes", "chat,root"], "unknown scope(s) root"),
        (["create", "--tenant", "acme", "--scopes", "chat", "--expires-in", "soon"], "duration"),
        (["create", "--tenant", "bad name", "--scopes", "chat"], "invalid tenant name"),
        (["create", "--tenant", "acme", "--scopes", "chat", "--rpm", "0"], "rpm must be"),
        (["revoke", "0123456789ab"], "The API key '0123456789ab' does not exist."),
        (["budget", "acme", "--usd", "-1"], "budget_usd must be >= 0"),
        (["budget", "acme", "--usd", "1", "--none"], "not both"),
    ],
)
def test_bad_input_is_one_line_on_stderr(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["keys", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
