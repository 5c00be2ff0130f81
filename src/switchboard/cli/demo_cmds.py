"""``switchboard demo load``: the demo shop's articles into the default tenant."""

from __future__ import annotations

import typer

from switchboard.cli.common import app, command_group, console, load_settings, one_line_errors
from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef

demo_app = command_group("The demo shop's knowledge base.")
app.add_typer(demo_app, name="demo")


@demo_app.command("load")
@one_line_errors
def load() -> None:
    """Ingest the demo shop's articles; unchanged ones are skipped, removed ones deleted."""
    settings = load_settings()
    ref = CollectionRef(settings.knowledge.default_tenant, DEMO_COLLECTION)
    kb = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, settings.models_dir, progress=True
    )
    try:
        files = kb.ingestor.list_files([shop_articles_dir()])
        report = kb.ingestor.ingest_files(
            ref, files, delete_missing=True, max_bytes=settings.knowledge.max_file_bytes
        )
    finally:
        kb.close()
    console.print(
        f"{ref}: {report.added} added, {report.updated} updated, {report.unchanged} "
        f"unchanged, {report.deleted} deleted, {len(report.failures)} failed",
        highlight=False,
    )
    for failure in report.failures:
        console.print(f"  skipped {failure}", style="yellow", highlight=False)
    if report.failures:
        raise typer.Exit(2)
