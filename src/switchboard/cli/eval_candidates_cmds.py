"""``switchboard eval candidates --out FILE.jsonl``: thumbed-down answers of the server's
conversation store as draft golden cases, the customers' personal data masked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from switchboard.cli.common import console, load_settings, one_line_errors
from switchboard.cli.eval_cmds import eval_app
from switchboard.config import Settings
from switchboard.evaluation.candidates import Redact

if TYPE_CHECKING:
    from switchboard.assistant.feedback import DownRated


@eval_app.command("candidates")
@one_line_errors
def candidates(
    out: Annotated[Path, typer.Option(help="Write the draft cases here (JSON lines).")],
    assistant: Annotated[
        str | None, typer.Option(help="Only this assistant's answers (default: every one's).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only answers rated at or after this UTC time.")
    ] = None,
) -> None:
    """Export each thumbed-down answer as a draft golden case for a person to complete:
    the question and earlier messages, with the answer and the customer's comment under
    'review', all with personal data masked by the guard's PII detector. Fill in what a
    good answer does and remove 'review'; then it loads as a golden case."""
    from switchboard.evaluation.candidates import draft_case

    settings = load_settings()
    if not out.parent.is_dir():
        raise ValueError(f"--out: no such folder {out.parent}")
    if not settings.assistant_db.is_file():
        raise ValueError(f"no conversation store at {settings.assistant_db}")
    when = None if since is None else since.replace(tzinfo=since.tzinfo or UTC)
    rated = _down_rated(settings, assistant, when)
    redact = _redactor(settings)
    lines = [json.dumps(draft_case(item, redact), ensure_ascii=False) for item in rated]
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    console.print(f"wrote {len(lines)} draft cases to {out}")


def _down_rated(
    settings: Settings, assistant: str | None, since: datetime | None
) -> list[DownRated]:
    from switchboard.assistant.conversations import ConversationStore
    from switchboard.assistant.service import default_name, served_definitions

    served = default_name(settings, list(served_definitions(settings)))
    store = ConversationStore(  # the server's file: its default owns old sessions
        settings.assistant_db,
        default_tenant=settings.knowledge.default_tenant,
        default_assistant=served,
    )
    try:
        return store.down_rated(assistant=assistant, since=since)
    finally:
        store.close()


def _redactor(settings: Settings) -> Redact:
    """The PII the guard's detector finds masked as ``<TYPE>``, but for the types the guard
    passes on (``guard.pii.keep``: places) and order numbers, whether or not the guard is
    on for serving."""
    from switchboard.guard.factory import pii_detector
    from switchboard.guard.scanner import disjoint, mask_spans
    from switchboard.order_ids import OrderIdFormat

    order_ids = OrderIdFormat.from_settings(settings.orders)
    detector = pii_detector(settings.guard.pii, (order_ids.pattern,))
    keep = set(settings.guard.pii.keep)
    return lambda text: mask_spans(
        text, disjoint(f for f in detector.scan(text) if f.type not in keep)
    )
