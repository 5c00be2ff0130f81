"""What a running process holds, read from ``/proc``: resident memory, open file descriptors
(and how many of them are SQLite files or sockets), threads.

A soak compares these over time: a leak shows as a line that keeps rising.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

SQLITE_MARK = ".sqlite3"  # the stores' files, their -wal and -shm included


@dataclass(frozen=True)
class ProcSample:
    """One process at one moment."""

    pid: int
    rss_mb: float
    fds: int
    sqlite_fds: int  # descriptors on *.sqlite3* files: open SQLite connections and their WAL
    sockets: int
    threads: int
    sqlite_files: dict[str, int] = field(default_factory=dict)  # file name -> descriptors

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "rss_mb": round(self.rss_mb, 1),
            "fds": self.fds,
            "sqlite_fds": self.sqlite_fds,
            "sockets": self.sockets,
            "threads": self.threads,
            "sqlite_files": dict(sorted(self.sqlite_files.items())),
        }


def fd_targets(pid: int) -> list[str]:
    """What each open descriptor of ``pid`` points at (a path, ``socket:[n]``, ``pipe:[n]``);
    descriptors closed while they are read are left out."""
    directory = Path(f"/proc/{pid}/fd")
    targets = []
    for name in os.listdir(directory):
        try:
            targets.append(os.readlink(directory / name))
        except FileNotFoundError:
            continue
    return targets


def sqlite_files(targets: Sequence[str]) -> dict[str, int]:
    """Descriptors per SQLite file name (``knowledge.sqlite3-wal``: 3)."""
    return dict(Counter(Path(t).name for t in targets if SQLITE_MARK in Path(t).name))


def sample_process(pid: int) -> ProcSample:
    """RSS, descriptors and threads of ``pid`` now; ``psutil.NoSuchProcess`` if it is gone."""
    process = psutil.Process(pid)
    with process.oneshot():
        rss, threads = process.memory_info().rss, process.num_threads()
    targets = fd_targets(pid)
    files = sqlite_files(targets)
    return ProcSample(
        pid=pid,
        rss_mb=rss / 2**20,
        fds=len(targets),
        sqlite_fds=sum(files.values()),
        sockets=sum(t.startswith("socket:") for t in targets),
        threads=threads,
        sqlite_files=files,
    )


def find_child(pid: int, words: Sequence[str]) -> int | None:
    """The first descendant of ``pid`` whose command line holds every one of ``words``
    (e.g. ``("orders", "serve")``), or None; found again on every call, so a restarted
    child is followed."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if all(word in cmdline for word in words):
            return int(child.pid)
    return None
