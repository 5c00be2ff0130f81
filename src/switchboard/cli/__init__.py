"""``switchboard`` command line: serve, models, ingest, search, collections, bench, orders, demo,
eval, keys, assistant, assistants, ask, gateway, guard, cache, config.

Settings are read once here (file + env) and passed down. Every expected failure is
printed as one line on stderr with exit code 1.
"""

from switchboard.cli import (  # noqa: F401  (register commands)
    assistant_bench_cmds,
    assistant_cmds,
    assistants_cmds,
    cache_cmds,
    config_cmds,
    demo_cmds,
    engine_cmds,
    eval_candidates_cmds,
    eval_cmds,
    eval_compare_cmds,
    eval_report_cmds,
    gateway_cmds,
    guard_cmds,
    keys_cmds,
    knowledge_cmds,
    orders_cmds,
    soak_cmds,
)
from switchboard.cli.common import app

__all__ = ["app"]
