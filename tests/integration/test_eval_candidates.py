"""``switchboard eval candidates``: a conversation store with feedback exported as draft
golden cases, personal data masked by the real guard PII detector (Presidio, spaCy NER)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.assistant.conversation_records import AssistantRecord
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.feedback import Rating
from switchboard.cli import app
from switchboard.config import Settings
from switchboard.evaluation.golden import FIELDS, parse_case

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(hours=6)
        return self.now


def reply(text: str) -> AssistantRecord:
    return AssistantRecord(content=text, intent="returns_refunds", confidence=0.8, model="m")


def fill(path: Path) -> None:
    """Three rated answers: one thumbed down in the shop, one up, one down for helpdesk."""
    store = ConversationStore(path, clock=Clock(), default_assistant="shop")
    try:
        shop = store.create_session("C1005")
        hello = store.add_exchange(
            shop.id, "Hi, this is Maria Gonzalez, maria.gonzalez@example.com", reply("Hello!")
        )
        store.rate(shop.id, hello, "C1005", Rating.UP)
        wrong = store.add_exchange(
            shop.id,
            "Can I return the boots I bought in Germany? Call me on 415-555-0132",
            reply("No, never."),
        )
        store.rate(shop.id, wrong, "C1005", Rating.DOWN, "Wrong! Ask Maria Gonzalez at the desk")
        desk = store.create_session("C1005", assistant="helpdesk")
        vpn = store.add_exchange(desk.id, "My VPN is down", reply("Reboot."))
        store.rate(desk.id, vpn, "C1005", Rating.DOWN, assistant="helpdesk")
    finally:
        store.close()


def export(runner: CliRunner, out: Path, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["eval", "candidates", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_thumbed_down_answers_become_redacted_draft_cases(
    runner: CliRunner, tmp_path: Path
) -> None:
    fill(Settings().assistant_db)

    (case,) = export(runner, tmp_path / "drafts.jsonl", "--assistant", "shop")

    text = json.dumps(case)
    for personal in ("Maria", "Gonzalez", "maria.gonzalez@example.com", "415-555-0132"):
        assert personal not in text
    assert (
        case["message"] == "Can I return the boots I bought in Germany? Call me on <PHONE_NUMBER>"
    )
    assert case["history"] == ["Hi, this is <PERSON>, <EMAIL_ADDRESS>"]
    review = case.pop("review")
    assert review["answer"] == "No, never."  # type: ignore[index]
    assert review["comment"] == "Wrong! Ask <PERSON> at the desk"  # type: ignore[index]
    assert review["answered_intent"] == "returns_refunds"  # type: ignore[index]
    assert list(case) == list(FIELDS)
    draft = parse_case(case)  # without its review, a golden case to fill in
    assert (draft.split, draft.tags, draft.expected_intent) == ("dev", ("feedback",), None)


def test_every_assistant_and_since(runner: CliRunner, tmp_path: Path) -> None:
    fill(Settings().assistant_db)
    out = tmp_path / "drafts.jsonl"

    every = export(runner, out)
    later = export(runner, out, "--since", "2026-12-02")

    assert [c["message"] for c in every] == [
        "Can I return the boots I bought in Germany? Call me on <PHONE_NUMBER>",
        "My VPN is down",
    ]
    assert [c["message"] for c in later] == ["My VPN is down"]


@pytest.mark.parametrize(
    ("out", "error"),
    [
        ("d.jsonl", "error: no conversation store at "),
        ("no/d.jsonl", "error: --out: no such folder"),
    ],
)
def test_bad_input_is_one_line(runner: CliRunner, tmp_path: Path, out: str, error: str) -> None:
    result = runner.invoke(app, ["eval", "candidates", "--out", str(tmp_path / out)])

    assert result.exit_code == 1
    assert result.stderr.startswith(error)
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / out).exists()
    assert not Settings().assistant_db.exists()  # no empty store made on the way


def test_eval_help_names_the_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["eval", "--help"])

    assert result.exit_code == 0, result.output
    assert "eval candidates --out FILE" in " ".join(result.output.split())
