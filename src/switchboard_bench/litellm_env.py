"""LiteLLM's proxy as a benchmark baseline: installed from PyPI into its own virtual
environment (cached, reused when present), configured and launched as a subprocess.

Nothing here imports LiteLLM: it lives in its own venv so that its many pinned dependencies
never meet ours. The proxy runs without a database (its spend logs need PostgreSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from switchboard.errors import DependencyUnavailableError

REQUIREMENT = "litellm[proxy]"
HEALTH_PATH = "/health/liveliness"
INSTALL_TIMEOUT_S = 1800.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class LiteLLMInstall:
    venv: Path
    version: str
    install_s: float | None  # None when an existing install was reused

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "litellm"


def _version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not (python.exists() and (venv / "bin" / "litellm").exists()):
        return None
    probe = "import importlib.metadata as m; print(m.version('litellm'))"
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _run_logged(argv: list[str], log: Path, say: Say) -> None:
    """Run one install step, output to ``log``; raise with its last lines if it fails."""
    say(" ".join(argv[-3:]))
    with log.open("ab") as out:
        done = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S, check=False
        )
    if done.returncode != 0:
        lines = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if line.strip() and not line.startswith("WARNING: Location")
        ]
        tail = " | ".join(lines[-3:])
        raise DependencyUnavailableError(f"installing {REQUIREMENT} failed: {tail} (see {log})")


def ensure_litellm(venv: Path, say: Say) -> LiteLLMInstall:
    """Reuse the LiteLLM install in ``venv`` or create it (``pip install 'litellm[proxy]'``).

    Raises ``DependencyUnavailableError`` saying why when it cannot be installed.
    """
    version = _version(venv)
    if version is not None:
        say(f"LiteLLM {version}: reusing {venv}")
        return LiteLLMInstall(venv, version, None)
    say(f"installing {REQUIREMENT} into {venv} (about 2 minutes, once)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = venv.parent / "litellm-install.log"
    log.write_text("")
    start = time.perf_counter()
    try:
        _run_logged([sys.executable, "-m", "venv", "--clear", str(venv)], log, say)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run_logged([*pip, "install", "-q", REQUIREMENT], log, say)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DependencyUnavailableError(f"installing {REQUIREMENT} failed: {exc}") from exc
    version = _version(venv)
    if version is None:
        raise DependencyUnavailableError(f"{REQUIREMENT} installed but litellm does not import")
    elapsed = time.perf_counter() - start
    say(f"LiteLLM {version} installed in {elapsed:.0f} s")
    return LiteLLMInstall(venv, version, round(elapsed, 1))


def render_config(models: Mapping[str, str], master_key: str) -> str:
    """LiteLLM proxy YAML: each alias → ``openai/fake`` at its ``api_base``; auth by master key.

    Strings are written as JSON, which YAML reads as quoted scalars.
    """
    lines = ["model_list:"]
    for alias, api_base in models.items():
        lines += [
            f"  - model_name: {json.dumps(alias)}",
            "    litellm_params:",
            '      model: "openai/fake"',
            f"      api_base: {json.dumps(api_base)}",
            '      api_key: "fake"',
        ]
    lines += [
        "general_settings:",
        f"  master_key: {json.dumps(master_key)}",
        "  disable_spend_logs: true",
        "litellm_settings:",
        "  set_verbose: false",
        "  telemetry: false",
    ]
    return "\n".join(lines) + "\n"


def proxy_command(install: LiteLLMInstall, config: Path, port: int) -> list[str]:
    """The command line of one proxy worker on loopback (LiteLLM's default: one worker)."""
    return [
        str(install.executable),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def proxy_env() -> dict[str, str]:
    """Quiet logs (no access log per request) and the bundled cost map (no network fetch)."""
    return {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
