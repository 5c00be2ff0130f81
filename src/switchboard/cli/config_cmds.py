"""Commands about the settings: config reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchboard.cli.common import app, command_group, one_line_errors

config_app = command_group("The settings (switchboard.toml, SWITCHBOARD_* variables).")
app.add_typer(config_app, name="config")


@config_app.command("reference")
@one_line_errors
def reference(
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            help="Replace the generated block of this Markdown file (docs/configuration.md) "
            "instead of printing.",
        ),
    ] = None,
) -> None:
    """Every setting with its default and what it does, as a commented switchboard.toml."""
    from switchboard.config_reference import markdown, reference, replace_block

    if write is None:
        typer.echo(reference(), nl=False)
        return
    write.write_text(replace_block(write.read_text(), markdown()))
    typer.echo(f"wrote the settings reference into {write}")
