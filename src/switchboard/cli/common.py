"""What every command shares: the Typer apps, settings read once at the edge, one-line
errors (exit code 1), model resolution, progress bars and JSON output."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from switchboard import __version__
from switchboard.config import Settings

if TYPE_CHECKING:
    from switchboard.models import ModelRegistry
from switchboard.errors import ModelFileError, SwitchboardError


def command_group(help: str) -> typer.Typer:
    """A group of commands whose help is printed as written: Rich markup would eat words in
    brackets (``[gateway]``) and label every flag ``<bool>``."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


app = command_group("Switchboard: grounded LLM assistants, self-hosted.")
models_app = command_group("Named models from pinned PyPI packages.")
bench_app = command_group("Benchmarks; figures are written as JSON.")
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
console = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"switchboard {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The options before any command."""


P = ParamSpec("P")
R = TypeVar("R")


def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (SwitchboardError, ValueError, OSError, sqlite3.Error) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def load_settings() -> Settings:
    return Settings()


def registry(settings: Settings) -> ModelRegistry:
    from switchboard.models import ModelRegistry  # imports llama.cpp: only when needed

    return ModelRegistry(settings.models_dir, settings.engine.n_threads)


def model_path(settings: Settings, name: str) -> Path:
    """Resolve a registry name or GGUF path, pulling a registry model on first use."""
    from switchboard.models.registry import is_path

    models = registry(settings)
    try:
        path = models.resolve(name)
    except ModelFileError:
        if is_path(name):
            raise
        path = models.pull(name, progress=True)
    return path


def draft_model_path(settings: Settings) -> Path | None:
    """The draft model's file when the engine speculates with one (pulled on first use)."""
    draft = settings.engine.draft_model
    if settings.engine.speculative != "draft" or draft is None:
        return None
    return model_path(settings, draft)


def progress_bar() -> Progress:
    """A "description, bar, done/total, elapsed" progress display on stderr."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def write_json(result: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {path}")
