"""The settings reference is generated from the settings models and kept in the docs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.config import Settings
from switchboard.config_reference import (
    BEGIN,
    END,
    MissingDescriptionError,
    markdown,
    reference,
    replace_block,
)

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_docs_hold_the_current_reference() -> None:
    assert markdown() in DOCS.read_text(), (
        "docs/configuration.md is stale: run `switchboard config reference --write "
        "docs/configuration.md`"
    )


def test_the_reference_is_a_toml_file_of_the_defaults() -> None:
    """Every key it sets is a real setting, at its default value."""
    written = tomllib.loads(reference())
    assert Settings(**written).model_dump() == Settings().model_dump()
    assert written["engine"]["max_model_len"] == Settings().engine.max_model_len
    assert written["assistant"]["answer_mode"] == "quote"


def test_every_key_says_what_it_does() -> None:
    text = reference()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith("# "):
            assert lines[i - 1].startswith("# "), f"{line!r} has no description above it"
    assert "# n_threads = (the number of CPUs)" in text  # not this machine's count


class _Target(BaseModel):
    provider: str = Field(description="Who serves it.")
    weight: float = Field(1.0, description="Its share.")


class _Nested(BaseModel):
    """Nested things. More words."""

    depth: int = Field(3, description="How deep.")


class _Root(BaseModel):
    name: str = Field("x", description="A name.")
    seed: int | None = Field(None, description="Unset by default.")
    nested: _Nested = Field(default_factory=_Nested)
    remote: _Nested | None = Field(None, description="Optional table.")
    targets: list[_Target] = Field(default_factory=list, description="Tried in order.")
    routes: dict[str, _Target] = Field(default_factory=dict, description="By alias.")


def test_tables_and_examples() -> None:
    assert reference(_Root) == (
        "# A name.\n"
        'name = "x"\n'
        "# Unset by default.\n"
        "# seed = (unset)\n\n"
        "# Nested things.\n"
        "[nested]\n"
        "# How deep.\n"
        "depth = 3\n\n"
        "# Optional table.\n"
        "# [remote]\n"
        "# How deep.\n"
        "# depth = 3\n\n"
        "# Tried in order.\n"
        "# [[targets]]\n"
        "# Who serves it.\n"
        "# provider = (required)\n"
        "# Its share.\n"
        "# weight = 1.0\n\n"
        "# By alias.\n"
        "# [routes.NAME]\n"
        "# Who serves it.\n"
        "# provider = (required)\n"
        "# Its share.\n"
        "# weight = 1.0\n"
    )


def test_a_setting_without_a_description_is_refused() -> None:
    class Bare(BaseModel):
        size: int = 3

    with pytest.raises(MissingDescriptionError, match="setting size has no description"):
        reference(Bare)


def test_the_block_is_replaced_between_its_markers() -> None:
    document = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert replace_block(document, "new") == "intro\nnew\noutro\n"
    with pytest.raises(ValueError, match="no generated settings reference block"):
        replace_block("no markers here", "new")


def test_the_command_prints_and_writes_the_reference(tmp_path: Path) -> None:
    printed = CliRunner().invoke(app, ["config", "reference"])
    assert printed.exit_code == 0
    assert printed.output == reference()

    doc = tmp_path / "configuration.md"
    doc.write_text(f"# Configuration\n\n{BEGIN}\nstale\n{END}\n\nmore\n")
    written = CliRunner().invoke(app, ["config", "reference", "--write", str(doc)])
    assert written.exit_code == 0
    assert doc.read_text() == f"# Configuration\n\n{markdown()}\n\nmore\n"

    doc.write_text("no markers")
    refused = CliRunner().invoke(app, ["config", "reference", "--write", str(doc)])
    assert refused.exit_code == 1
    assert "error: the document has no generated settings reference block" in refused.output
