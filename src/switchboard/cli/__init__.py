"""``switchboard`` command line: serve, models, ingest, search, collections, bench, orders, demo,
eval, keys, gateway.

Settings are read once here (file + env) and passed down. Every expected failure is
printed as one line on stderr with exit code 1.
"""

from switchboard.cli import (  # noqa: F401  (register commands)
    demo_cmds,
    engine_cmds,
    eval_cmds,
    gateway_cmds,
    keys_cmds,
    knowledge_cmds,
    orders_cmds,
)
from switchboard.cli.common import app

__all__ = ["app"]
