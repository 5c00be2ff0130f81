"""``python -m switchboard``: the same command line as ``switchboard``."""

from switchboard.cli import app

app()
