"""``switchboard eval [GOLDEN] [--assistant NAME]``: a golden set through an assistant's
real pipeline (default: the demo shop's, over its articles and golden set), with each rate's
bootstrap 95% interval. ``eval`` is a group: its other commands (``switchboard eval compare``)
are named; anything else runs the golden set (``eval run``), as before."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from switchboard.cli.common import (
    app,
    console,
    load_settings,
    model_path,
    one_line_errors,
    progress_bar,
    write_json,
)
from switchboard.config import Settings
from switchboard.evaluation.golden import GoldenCase

if TYPE_CHECKING:
    from switchboard.evaluation.runner import EvalTarget

GoldenArg = Annotated[
    Path | None,
    typer.Argument(help="Golden set JSONL (default: the demo assistant's own)."),
]
AssistantOpt = Annotated[
    str | None, typer.Option(help="The assistant to evaluate (default: the served default).")
]
ArticlesOpt = Annotated[
    Path | None,
    typer.Option(help="Folder of the articles its collection is built from (default: the "
                 "demo assistant's own)."),
]  # fmt: skip
ModelOpt = Annotated[
    list[str] | None, typer.Option(help="Model to evaluate (repeat; default: configured).")
]
ChunkOpt = Annotated[
    str | None, typer.Option(help="Chunk sizes to compare, e.g. 64,128,254 (default: configured).")
]
TagOpt = Annotated[list[str] | None, typer.Option(help="Only cases with this tag (repeat).")]
SplitOpt = Annotated[
    str | None,
    typer.Option(help="Only cases of this split: dev (tuned on) or test (held out)."),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the results here.")]
HtmlOpt = Annotated[
    Path | None,
    typer.Option("--html", help="Write the report here: one self-contained HTML page."),
]


RUN = "run"


class EvalGroup(TyperGroup):
    """``switchboard eval [GOLDEN] [OPTIONS]`` runs the golden set: arguments that do not start
    with one of the group's command names go to ``eval run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's own click
        first = args[0] if args else None
        if first not in self.commands and first not in ctx.help_option_names:
            args = [RUN, *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=EvalGroup,
    rich_markup_mode=None,
    help="Golden-set evaluation: `eval [GOLDEN] [OPTIONS]` (same as `eval run`) runs it; "
    "`eval compare BASELINE CANDIDATE` is the regression gate; `eval report RUN --html FILE` "
    "writes a run's report page; `eval candidates --out FILE` exports thumbed-down answers "
    "as draft cases.",
)
app.add_typer(eval_app, name="eval")


@eval_app.command(RUN)
@one_line_errors
def eval_golden(
    golden: GoldenArg = None,
    assistant: AssistantOpt = None,
    articles: ArticlesOpt = None,
    model: ModelOpt = None,
    chunk_tokens: ChunkOpt = None,
    tag: TagOpt = None,
    split: SplitOpt = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N cases selected (a fast subset).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Retrieval hit@k.")] = 5,
    json_path: JsonOpt = None,
    html_path: HtmlOpt = None,
    generate: Annotated[
        bool, typer.Option(help="--no-generate: route and search only, no model (seconds).")
    ] = True,
) -> None:
    """Intent accuracy, retrieval hit@k, citations, key facts, forbidden facts, handoffs,
    latency, tokens per turn and the answer paths taken, for each model and chunk size."""
    from switchboard.evaluation.golden import SPLITS, load_golden
    from switchboard.evaluation.runner import evaluate

    settings = load_settings()
    for option, path in (("--json", json_path), ("--html", html_path)):
        if path is not None and not path.parent.is_dir():
            raise ValueError(f"{option}: no such folder {path.parent}")
    if html_path is not None and not generate:
        raise ValueError("--html reports answers: drop --no-generate")
    target, default_golden = _target(settings, assistant, articles)
    if golden is None and default_golden is None:
        raise ValueError(f"assistant {target.definition.name!r} has no demo golden set: name one")
    cases = load_golden(golden or default_golden)  # type: ignore[arg-type]
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
        cases = [c for c in cases if c.split == split]
    if tag:
        cases = [c for c in cases if set(tag) & set(c.tags)]
    if not cases:
        raise ValueError("no golden case matches --split/--tag")
    cases = cases[:limit]
    sizes = _sizes(chunk_tokens, settings.knowledge.chunking.chunk_tokens)
    if not generate:
        _eval_routing(settings, target, cases, sizes, k, json_path)
        return
    names = model or [settings.model]
    models = [(name, model_path(settings, name)) for name in names]
    with progress_bar() as bar:
        task = bar.add_task("starting", total=len(cases) * len(models) * len(sizes))

        def progress(text: str, step: bool) -> None:
            bar.update(task, description=text, advance=1 if step else 0)

        result = evaluate(settings, target, cases, models, sizes, k=k, progress=progress)
    result = {**result, "split": split, "tags": tag or [], "limit": limit}
    _print(result)
    write_json(result, json_path)
    if html_path is not None:
        write_html(result, html_path)


def write_html(result: dict[str, Any], path: Path) -> None:
    """The run's report page (``evaluation.report``) at ``path``."""
    from switchboard.evaluation.report import render

    path.write_text(render(result), encoding="utf-8")
    console.print(f"wrote {path}")


def _target(
    settings: Settings, name: str | None, articles: Path | None
) -> tuple[EvalTarget, Path | None]:
    """The assistant to evaluate, the articles of its collection and its demo golden set."""
    from switchboard.assistant.service import default_name, served_definitions
    from switchboard.demo import demo_corpus
    from switchboard.evaluation.runner import eval_target

    definitions = served_definitions(settings)
    name = name or default_name(settings, list(definitions))
    if name not in definitions:
        raise ValueError(f"--assistant: no assistant {name!r} (served: {', '.join(definitions)})")
    corpus = demo_corpus(name)
    folder = articles or (corpus[0] if corpus else None)
    if folder is None:
        raise ValueError(f"--articles: the folder assistant {name!r}'s collection is built from")
    if not folder.is_dir():
        raise ValueError(f"--articles: no such folder {folder}")
    return eval_target(settings, definitions[name], folder), corpus[1] if corpus else None


def _eval_routing(
    settings: Settings,
    target: EvalTarget,
    cases: list[GoldenCase],
    sizes: list[int],
    k: int,
    json_path: Path | None,
) -> None:
    from switchboard.evaluation.retrieval_eval import evaluate_retrieval

    with progress_bar() as bar:
        task = bar.add_task("starting", total=len(sizes))

        def progress(text: str, step: bool) -> None:
            bar.update(task, description=text, advance=1 if step else 0)

        result = evaluate_retrieval(settings, target, cases, sizes, k=k, progress=progress)
    table = Table(title=f"golden set, no generation: {result['cases']} cases, hit@{k}")
    table.add_column("")
    for run in result["runs"]:
        table.add_column(f"{run['chunk_tokens']}-token chunks", justify="right")
    for label, key in _ROUTING_ROWS:
        table.add_row(label, *(_pct(run["summary"][key]) for run in result["runs"]))
    console.print(table)
    write_json(result, json_path)


_ROUTING_ROWS = (
    ("intent accuracy", "intent_accuracy"),
    ("confident share", "confident_share"),
    ("confident accuracy", "confident_accuracy"),
    ("retrieval hit@k", "retrieval_hit_at_k"),
    ("retrieval MRR@k", "retrieval_mrr_at_k"),
)


def _sizes(text: str | None, default: int) -> list[int]:
    if text is None:
        return [default]
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"bad --chunk-tokens {text!r}: expected e.g. 64,128,254") from None
    if not sizes or any(not 16 <= s <= 254 for s in sizes):
        raise ValueError(f"bad --chunk-tokens {text!r}: each size must be 16..254")
    return sizes


_ROWS = (  # label, summary key, format
    ("intent accuracy", "intent_accuracy", "pct"),
    ("retrieval hit@k", "retrieval_hit_at_k", "pct"),
    ("citation precision", "citation_precision", "pct"),
    ("key-fact recall", "key_fact_recall", "pct"),
    ("forbidden-fact rate", "forbidden_fact_rate", "pct"),
    ("cross-customer leaks", "cross_customer_leaks", "int"),
    ("invented statuses", "invented_statuses", "int"),
    ("handoff accuracy", "handoff_accuracy", "pct"),
    ("first token p50 / p95 ms (answers)", "first_token_ms", "pair"),
    ("model TTFT p50 / p95 ms", "ttft_ms", "pair"),
    ("end-to-end p50 / p95 ms", "latency_ms", "pair"),
    ("overhead p50 / p95 ms", "overhead_ms", "pair"),
    ("tokens per turn", "tokens_per_turn", "num"),
    ("prompt tokens computed per model call", "prefill_tokens_per_call", "num"),
    ("prompt tokens reused per model call", "reused_tokens_per_call", "num"),
    ("answer paths", "answer_paths", "mix"),
    ("errors", "errors", "int"),
)


def _print(result: dict[str, Any]) -> None:
    """One column per run (model, chunk size), one row per figure."""
    table = Table(title=f"golden set: {result['cases']} cases, hit@{result['k']}")
    table.add_column("")
    for run in result["runs"]:
        table.add_column(f"{run['model']}\n{run['chunk_tokens']}-token chunks", justify="right")
    for label, key, kind in _ROWS:
        table.add_row(label, *(_cell(run["summary"], key, kind) for run in result["runs"]))
    console.print(table)
    console.print("(95% bootstrap intervals in brackets)")
    sweep = Table(title="router threshold: share confident, accuracy of those")
    for column in ("threshold", "confident", "accuracy"):
        sweep.add_column(column, justify="right")
    for row in result["router"]["sweep"]:
        sweep.add_row(
            f"{row['threshold']:.2f}", _pct(row["confident_share"]), _pct(row["confident_accuracy"])
        )
    console.print(sweep)


def _cell(summary: dict[str, Any], key: str, kind: str) -> str:
    """A figure, and its interval where it has one."""
    text = _format(summary[key], kind)
    interval = summary.get("intervals", {}).get(key)
    return f"{text} [{interval[0]:.1%}, {interval[1]:.1%}]" if interval else text


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return _pct(value)
    if kind == "pair":
        return f"{value['p50']:.0f} / {value['p95']:.0f}"
    if kind == "num":
        return f"{value:.0f}"
    if kind == "mix":
        return "\n".join(f"{path} {share:.0%}" for path, share in value.items()) or "-"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
