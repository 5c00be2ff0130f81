"""What a user or a packager reads before the code: the licence and the build's checks."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_licence_is_apache_2_in_full_and_declared() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
    assert "9. Accepting Warranty or Additional Liability." in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]


@pytest.mark.parametrize("version", ["Python 3.12.3", "Python 3.10.14", None])
def test_make_stops_before_installing_with_a_python_other_than_3_11(
    tmp_path: Path, version: str | None
) -> None:
    python = tmp_path / "python3"
    if version is not None:  # None: PYTHON names no program
        python.write_text(f"#!/bin/sh\necho '{version}'\n")
        python.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "install", f"PYTHON={python}", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: Switchboard needs Python 3.11, but PYTHON=")
    assert f"'{version or 'missing'}'" in first
    assert "make PYTHON=python3.11" in first
    assert not venv.exists()  # nothing was created
