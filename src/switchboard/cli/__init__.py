"""``switchboard`` command line: serve, models, ingest, search, collections, bench.

Settings are read once here (file + env) and passed down. Every expected failure is
printed as one line on stderr with exit code 1.
"""

from switchboard.cli import engine_cmds, knowledge_cmds  # noqa: F401  (register commands)
from switchboard.cli.common import app

__all__ = ["app"]
