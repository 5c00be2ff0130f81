"""Commands of the knowledge base: ingest, search, collections list|drop, bench retrieval."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from switchboard.cli.common import (
    app,
    bench_app,
    command_group,
    console,
    load_settings,
    one_line_errors,
    progress_bar,
    write_json,
)
from switchboard.config import Settings
from switchboard.rag.knowledge import KnowledgeBase, open_embedder
from switchboard.rag.types import CollectionInfo, CollectionRef, MetadataValue, SearchMode

collections_app = command_group("Knowledge-base collections.")
app.add_typer(collections_app, name="collections")

TenantOption = Annotated[str | None, typer.Option(help="Tenant (default: the configured one).")]


def _open(settings: Settings) -> KnowledgeBase:
    return KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, settings.models_dir, progress=True
    )


def _ref(settings: Settings, tenant: str | None, collection: str) -> CollectionRef:
    return CollectionRef(tenant or settings.knowledge.default_tenant, collection)


@app.command()
@one_line_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (walked recursively).")],
    collection: Annotated[str, typer.Option(help="Collection to ingest into.")],
    tenant: TenantOption = None,
    delete_missing: Annotated[
        bool, typer.Option(help="Delete documents of the collection not seen in PATHS.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load, chunk, embed and store documents; unchanged files are skipped."""
    settings = load_settings()
    ref = _ref(settings, tenant, collection)
    kb = _open(settings)
    try:
        files = kb.ingestor.list_files(paths)
        with progress_bar() as bar:
            task = bar.add_task(f"ingesting into {ref}", total=len(files))
            report = kb.ingestor.ingest_files(
                ref,
                files,
                delete_missing=delete_missing,
                max_bytes=settings.knowledge.max_file_bytes,
                progress=lambda step: bar.advance(task, step),
            )
    finally:
        kb.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        console.print(
            f"{ref}: {report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged, {report.deleted} deleted, {len(report.failures)} failed; "
            f"{report.chunks} chunks in {report.seconds:.1f} s"
        )
        for failure in report.failures:
            console.print(f"  skipped {failure}", style="yellow", highlight=False)
        if report.delete_skipped:
            console.print("  --delete-missing skipped: some files failed to load", style="yellow")
    if report.failures:
        raise typer.Exit(2)


@app.command()
@one_line_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    collection: Annotated[str, typer.Option(help="Collection to search.")],
    tenant: TenantOption = None,
    mode: Annotated[SearchMode | None, typer.Option(help="bm25, dense or hybrid.")] = None,
    top_k: Annotated[int | None, typer.Option(help="Results to return.")] = None,
    rrf_k: Annotated[int | None, typer.Option(help="RRF constant (default 60).")] = None,
    rerank: Annotated[bool | None, typer.Option(help="Apply the re-ranker.")] = None,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="Metadata filter key=value (repeat).")
    ] = None,
    weights: Annotated[
        list[str] | None,
        typer.Option("--weight", help="RRF weight of a retriever, e.g. bm25=0.5 (repeat)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Search a collection: BM25, dense, or hybrid (RRF), then re-ranked."""
    settings = load_settings()
    kb = _open(settings)
    try:
        request = kb.request(
            query,
            mode=mode,
            top_k=top_k,
            rrf_k=rrf_k,
            rerank=rerank,
            filters=parse_filters(filters or []) or None,
            weights=parse_weights(weights or []) or None,
        )
        ref = _ref(settings, tenant, collection)
        result = kb.retriever.search(ref, request)
    finally:
        kb.close()
    if as_json:
        typer.echo(json.dumps([h.to_json() for h in result.hits], indent=2))
        return
    table = Table("#", "score", "ranks", "document", "text")
    for i, hit in enumerate(result.hits, start=1):
        ranks = " ".join(f"{k}:{v}" for k, v in hit.ranks.items())
        text = hit.stored.chunk.text.replace("\n", " ")
        table.add_row(
            str(i),
            f"{hit.score:.4f}",
            ranks,
            hit.stored.title or hit.stored.chunk.document_id,
            text[:160],
        )
    console.print(table)
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in result.timings_ms.items())
    console.print(f"{len(result.hits)} results; {timings}", highlight=False)


def parse_filters(pairs: list[str]) -> dict[str, MetadataValue | list[MetadataValue]]:
    """``key=value`` pairs; a key given twice means "any of these values"."""
    out: dict[str, MetadataValue | list[MetadataValue]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"bad --filter {pair!r}: expected key=value")
        value = _scalar(raw)
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def parse_weights(pairs: list[str]) -> dict[str, float]:
    """``retriever=weight`` pairs, e.g. ``bm25=0.5``."""
    out: dict[str, float] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        try:
            out[name] = float(raw)
        except ValueError:
            raise ValueError(
                f"bad --weight {pair!r}: expected bm25=NUMBER or dense=NUMBER"
            ) from None
    return out


def _scalar(raw: str) -> MetadataValue:
    if raw in ("true", "false"):
        return raw == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw


@collections_app.command("list")
@one_line_errors
def collections_list(
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Collections of a tenant, with document and chunk counts."""
    from switchboard.rag.store import open_store

    settings = load_settings()
    store = open_store(settings.knowledge_store)
    try:
        infos = store.list_collections(tenant or settings.knowledge.default_tenant)
    finally:
        store.close()
    rows = [
        {
            "name": i.ref.name,
            "documents": i.documents,
            "chunks": i.chunks,
            "model": i.embedding_model,
        }
        for i in infos
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "documents", "chunks", "embedding model")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


@collections_app.command("drop")
@one_line_errors
def collections_drop(
    name: Annotated[str, typer.Argument(help="The collection to delete.")],
    tenant: TenantOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask: delete at once.")] = False,
) -> None:
    """Delete a collection and everything in it, once its name is typed again (or --yes)."""
    from switchboard.rag.store import open_store

    settings = load_settings()
    store = open_store(settings.knowledge_store)
    try:
        ref = _ref(settings, tenant, name)
        info = store.get_collection(ref)
        if info is None:
            raise ValueError(f"collection {ref} does not exist")
        if not yes:
            _confirm_drop(info)
        store.drop_collection(ref)
    finally:
        store.close()
    typer.echo(f"dropped {ref}")


def _confirm_drop(info: CollectionInfo) -> None:
    """Ask for the collection's name at a terminal; ``ValueError`` unless it is typed."""
    if not sys.stdin.isatty():
        raise ValueError(
            f"not dropping {info.ref} without a confirmation: pass --yes (or run it in a terminal)"
        )
    typed = typer.prompt(
        f"Type its name to drop {info.ref} ({info.documents} documents, {info.chunks} chunks)"
    )
    if typed != info.ref.name:
        raise ValueError(f"not dropped: {typed!r} is not {info.ref.name!r}")


@bench_app.command("retrieval")
@one_line_errors
def bench_retrieval(
    dataset: Annotated[Path, typer.Option(help="A BEIR-layout folder.")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    chunk_sizes: Annotated[
        str, typer.Option(help="Comma-separated chunk sizes in tokens.")
    ] = "64,128,254",
    scale: Annotated[
        int | None, typer.Option(help="Also time queries over N synthetic chunks.")
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split.")] = "test",
) -> None:
    """nDCG@10 (standard and leaderboard-style), recall@10, MRR@10 and latency per mode."""
    from switchboard_bench.beir import load_beir
    from switchboard_bench.retrieval_bench import run_retrieval_bench

    settings = load_settings()
    try:
        sizes = [int(s) for s in chunk_sizes.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"bad --chunk-sizes {chunk_sizes!r}: expected e.g. 64,128,254") from None
    if json_path is not None and not json_path.parent.is_dir():
        raise ValueError(f"--json {json_path}: folder {json_path.parent} does not exist")
    data = load_beir(dataset, split=split)
    embedder = open_embedder(settings.knowledge.embedding, settings.models_dir, progress=True)
    with progress_bar() as bar, contextlib.closing(embedder):
        tasks: dict[str, Any] = {}

        def advance(phase: str, n: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=None)
            bar.advance(tasks[phase], n)

        result = run_retrieval_bench(
            data,
            dataset.name,
            settings.knowledge,
            embedder,
            chunk_sizes=sizes,
            scale=scale,
            advance=advance,
        )
    _print_retrieval(result)
    write_json(result, json_path)


@bench_app.command("entity-set")
@one_line_errors
def bench_entity_set(
    out: Annotated[Path, typer.Argument(help="Folder to write the BEIR files into.")],
    golden: Annotated[
        Path | None, typer.Option(help="Golden set JSONL whose questions query it.")
    ] = None,
) -> None:
    """Write an entity-centric BEIR set: the demo articles as title + one-line description,
    a golden set's questions as queries (for `bench retrieval --dataset OUT`)."""
    from switchboard.demo import shop_articles_dir
    from switchboard.evaluation.golden import default_golden_path, load_golden
    from switchboard_bench.entity_set import shop_entity_set, write_beir

    dataset = shop_entity_set(shop_articles_dir(), load_golden(golden or default_golden_path()))
    write_beir(dataset, out)
    console.print(f"wrote {out}: {len(dataset.corpus)} entries, {len(dataset.queries)} queries")


def _print_retrieval(result: dict[str, Any]) -> None:
    table = Table("chunks", "mode", "nDCG@10", "nDCG@10 lb", "R@10", "MRR@10", "p50 ms", "p99 ms")
    for size, block in result["chunk_sizes"].items():
        for mode, m in block["modes"].items():
            table.add_row(
                size,
                mode,
                f"{m['ndcg@10']:.4f}",
                f"{m['ndcg@10_leaderboard']:.4f}",
                f"{m['recall@10']:.4f}",
                f"{m['mrr@10']:.4f}",
                f"{m['latency_ms_p50']:.1f}",
                f"{m['latency_ms_p99']:.1f}",
            )
    console.print(table)
    for size, block in result["chunk_sizes"].items():
        console.print(f"{size}-token chunks: ingest {block['ingest']}", highlight=False)
    if "scale" in result:
        console.print(f"scale: {result['scale']}", highlight=False)
