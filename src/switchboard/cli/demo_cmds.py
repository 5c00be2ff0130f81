"""``switchboard demo load``: the demo's articles into the default tenant: the shop's help
centre (collection ``shop``) and the IT helpdesk's (collection ``helpdesk``)."""

from __future__ import annotations

import typer

from switchboard.cli.common import app, command_group, console, load_settings, one_line_errors
from switchboard.demo import (
    DEMO_COLLECTION,
    HELPDESK_COLLECTION,
    helpdesk_articles_dir,
    shop_articles_dir,
)
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef

demo_app = command_group("The demo assistants' knowledge bases.")
app.add_typer(demo_app, name="demo")


@demo_app.command("load")
@one_line_errors
def load() -> None:
    """Ingest the demo's articles; unchanged ones are skipped, removed ones deleted."""
    settings = load_settings()
    tenant = settings.knowledge.default_tenant
    corpora = [
        (CollectionRef(tenant, DEMO_COLLECTION), shop_articles_dir()),
        (CollectionRef(tenant, HELPDESK_COLLECTION), helpdesk_articles_dir()),
    ]
    kb = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, settings.models_dir, progress=True
    )
    failed = False
    try:
        for ref, folder in corpora:
            files = kb.ingestor.list_files([folder])
            report = kb.ingestor.ingest_files(
                ref, files, delete_missing=True, max_bytes=settings.knowledge.max_file_bytes
            )
            console.print(
                f"{ref}: {report.added} added, {report.updated} updated, {report.unchanged} "
                f"unchanged, {report.deleted} deleted, {len(report.failures)} failed",
                highlight=False,
            )
            for failure in report.failures:
                console.print(f"  skipped {failure}", style="yellow", highlight=False)
            failed = failed or bool(report.failures)
    finally:
        kb.close()
    if failed:
        raise typer.Exit(2)
