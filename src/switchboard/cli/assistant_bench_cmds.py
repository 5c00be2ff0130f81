"""``switchboard bench assistant``: the golden set per model under each way of answering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from switchboard.cli.common import (
    bench_app,
    console,
    load_settings,
    one_line_errors,
    progress_bar,
    registry,
)
from switchboard.config import Settings
from switchboard_bench.answer_settings import ANSWER_SETTINGS

_SETTINGS_HELP = "; ".join(f"{s.name}: {s.about}" for s in ANSWER_SETTINGS)


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def shop_evaluate(settings: Settings, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``evaluate`` of the demo shop's assistant over its articles, as the settings of one
    bench run say (the shop's definition overrides none of them)."""
    from switchboard.assistant.definition import demo_definition
    from switchboard.demo import shop_articles_dir
    from switchboard.evaluation.runner import eval_target, evaluate

    target = eval_target(settings, demo_definition("shop"), shop_articles_dir())
    return evaluate(settings, target, *args, **kwargs)


def _check_folder(option: str, path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise ValueError(f"{option}: no such folder {path.parent}")


@bench_app.command("assistant")
@one_line_errors
def bench_assistant(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the rows here, after each run.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Also write the table here.")] = None,
    models: Annotated[
        str | None, typer.Option(help="Pulled models, e.g. smollm2-135m:q8_0,qwen2.5-0.5b.")
    ] = None,
    settings_names: Annotated[
        str | None,
        typer.Option("--settings", help=f"Comma-separated (default: all). {_SETTINGS_HELP}."),
    ] = None,
    splits: Annotated[str, typer.Option(help="Golden-set splits, comma-separated.")] = "dev,test",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N cases of each split.")
    ] = None,
) -> None:
    """Key facts, citations, forbidden facts, leaks, invented statuses, handoffs, the
    answer-path mix, first token and end-to-end latency of answers from the articles, model
    TTFT and prompt tokens per call: per model, setting and split, one run after the other."""
    from switchboard.evaluation.golden import SPLITS, default_golden_path, load_golden
    from switchboard_bench.answer_settings import apply_setting, pick_settings
    from switchboard_bench.assistant_bench import (
        BenchPlan,
        BenchReport,
        markdown_table,
        run_bench,
        split_cases,
        write_atomically,
    )

    settings = load_settings()
    _check_folder("--json", json_path)
    _check_folder("--markdown", markdown)
    chosen = pick_settings(_names(settings_names) or [s.name for s in ANSWER_SETTINGS])
    for setting in chosen:
        apply_setting(settings, setting)  # a bad override fails here, before any run
    wanted = list(dict.fromkeys(_names(splits) or []))
    bad = [s for s in wanted if s not in SPLITS]
    if bad or not wanted:
        raise ValueError(f"--splits: unknown split {splits!r}; known: {', '.join(SPLITS)}")
    found = registry(settings)
    names = _names(models) or [settings.model]
    plan = BenchPlan(
        models=[(name, found.resolve(name)) for name in dict.fromkeys(names)],  # never pulls
        settings=chosen,
        cases=split_cases(load_golden(default_golden_path()), wanted, limit),
    )
    book = BenchReport(plan, json_path)
    with progress_bar() as bar:
        task = bar.add_task("starting", total=plan.total_cases)

        def progress(text: str, step: bool) -> None:
            bar.update(task, description=text, advance=1 if step else 0)

        interrupted = False
        try:
            book.record(run_bench(settings, plan, progress, shop_evaluate))
        except KeyboardInterrupt:
            interrupted = True
    table = markdown_table(book.rows)
    console.print(table, markup=False, highlight=False, soft_wrap=True)
    if markdown is not None:
        write_atomically(markdown, table)
    for path in (json_path, markdown):
        if path is not None:
            console.print(f"wrote {path}")
    if interrupted:
        console.print(f"interrupted: the {len(book.rows)} finished runs are kept")
        raise typer.Exit(130)
