"""Dependencies point one way: every import of ``src/switchboard`` (lazy and type-only
imports included) goes from a higher layer to a lower one.

    utilities and data  errors, config, names, models, demo, web, sqlite helpers, ...
    components          engine, rag, guard, cache, orders, observability, tools (never each other)
    stages              the guard and cache stages every endpoint runs
    services            gateway, assistant (never each other)
    entry points        api, evaluation  <  the benchmarks  <  cli  <  __main__

The benchmarks are a package of their own, ``switchboard_bench``, beside the runtime: only
the command line (``switchboard bench ...``) imports them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "switchboard"
BENCH = PACKAGE.parent / "switchboard_bench"

LAYERS: list[set[str]] = [
    {
        "__init__",
        "backoff",
        "circuit_breaker",
        "config",
        "config_reference",
        "demo",
        "errors",
        "health",
        "models",
        "names",
        "order_ids",
        "periods",
        "request_body",
        "sqlite_file",
        "sqlite_tx",
        "thread_connections",
        "web",
    },
    {"cache", "engine", "guard", "observability", "orders", "rag", "tools"},
    {"stages"},
    {"assistant", "gateway"},
    {"api", "evaluation"},
    {"switchboard_bench"},
    {"cli"},
    {"__main__"},
]
SHARED = 0  # only the utilities may import each other within their layer


def layer_of(part: str) -> int:
    for number, members in enumerate(LAYERS):
        if part in members:
            return number
    raise LookupError(f"switchboard.{part} is in no layer: add it to LAYERS in {__file__}")


def imports(path: Path, package: Path) -> Iterator[tuple[int, str]]:
    """``(line, top-level part)`` of every switchboard module ``path`` imports."""
    here = path.relative_to(package.parent).with_suffix("").parts  # ("switchboard", ...)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here[: len(here) - node.level]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "switchboard" and len(parts) > 1:
                yield node.lineno, parts[1]
            elif parts[0] == "switchboard_bench":
                yield node.lineno, "switchboard_bench"


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        own = relative.parts[0].removesuffix(".py")
        level = layer_of(own)
        for line, target in imports(path, package):
            if target == own:
                continue
            other = layer_of(target)
            if other > level or (other == level and level != SHARED):
                found.append(f"{relative}:{line} imports switchboard.{target}")
    return found


def test_every_import_points_to_a_lower_layer() -> None:
    assert violations(PACKAGE) == []


def test_the_benchmarks_import_only_what_is_below_the_command_line() -> None:
    level = layer_of("switchboard_bench")
    upward = [
        f"{path.relative_to(BENCH)}:{line} imports switchboard.{target}"
        for path in sorted(BENCH.rglob("*.py"))
        for line, target in imports(path, BENCH)
        if target != "switchboard_bench" and layer_of(target) >= level
    ]
    assert upward == []


def test_every_top_level_module_has_a_layer() -> None:
    for path in PACKAGE.iterdir():
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            layer_of(path.name.removesuffix(".py"))


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "switchboard"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_upward_lazy_and_relative_imports_are_caught(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "engine/__init__.py": "",
            "engine/a.py": "def f():\n    from switchboard.gateway import x\n",
            "rag/__init__.py": "",
            "rag/b.py": "from ..cache import y\n",
            "cache/c.py": "import switchboard.errors\n",
            "cli/d.py": "from switchboard.api import app\n",
        },
    )
    assert violations(package) == [
        "engine/a.py:2 imports switchboard.gateway",
        "rag/b.py:1 imports switchboard.cache",
    ]


def test_a_module_outside_the_layers_is_named() -> None:
    with pytest.raises(LookupError, match=r"switchboard\.plugins is in no layer"):
        layer_of("plugins")
