"""Keep the Order API running beside ``switchboard serve``.

The supervisor listens on the Order API's port itself (a free one by default; a configured
one that is taken fails the start) and hands that socket to each child it starts, so no
other process can take the port between a crash and the restart, and calls made meanwhile
wait in the socket's backlog. The service token is a fresh secret per start
(``secrets.token_urlsafe(32)``), given to the child in its environment and to the caller's
order client through ``token``. A child that exits is restarted after a ``RestartBackoff``
delay, logged; ``health()`` is what ``/health`` shows::

    starting ──► up ──(exits)──► down ──(backoff)──► restarting ──► up
                                   ▲                     │ (fails)
                                   └─────────────────────┘
"""

from __future__ import annotations

import enum
import logging
import random
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from switchboard.backoff import RestartBackoff
from switchboard.config import OrdersSettings
from switchboard.errors import ServiceStartError
from switchboard.orders import process

log = logging.getLogger(__name__)


class OrderApiState(enum.StrEnum):
    STARTING = "starting"
    UP = "up"
    DOWN = "down"  # exited; waiting out the backoff
    RESTARTING = "restarting"  # a new child is starting
    STOPPED = "stopped"


@dataclass(frozen=True)
class OrderApiHealth:
    state: OrderApiState
    url: str | None
    pid: int | None
    restarts: int
    last_error: str | None


class OrderApiSupervisor:
    def __init__(
        self,
        settings: OrdersSettings,
        *,
        db_path: Path | None = None,
        backoff: RestartBackoff | None = None,
        start_timeout_s: float = process.START_TIMEOUT_S,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """``db_path`` overrides the child's configured database; ``quiet`` drops its log."""
        self.token = secrets.token_urlsafe(32)
        self._settings = settings
        self._db_path = db_path
        self._backoff = backoff or RestartBackoff()
        self._start_timeout_s = start_timeout_s
        self._quiet = quiet
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._state = OrderApiState.STARTING
        self._restarts = 0
        self._last_error: str | None = None

    @property
    def url(self) -> str:
        if self._sock is None:
            raise RuntimeError("the Order API is not started")
        return process.url_of(self._sock)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Listen, start the child and wait until it answers; ``ServiceStartError`` (with
        the port released) if it cannot. Then watch it from a thread."""
        self._sock = process.listen(self._settings.host, self._settings.port)
        try:
            proc = self._spawn_healthy()
        except BaseException:
            self._sock.close()
            raise
        self._set(OrderApiState.UP)
        self._thread = threading.Thread(
            target=self._watch, args=(proc,), name="order-api-supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the child and the watching, then release the port."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None:
            process.stop(proc)
        if self._thread is not None:
            self._thread.join()
        if self._sock is not None:
            self._sock.close()
        self._set(OrderApiState.STOPPED)

    def health(self) -> OrderApiHealth:
        with self._lock:
            url = None if self._sock is None or self._sock.fileno() < 0 else self.url
            return OrderApiHealth(self._state, url, self.pid, self._restarts, self._last_error)

    # -- the watching thread -------------------------------------------------------------

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        started = self._clock()
        while True:
            code = proc.wait()
            if self._stopping.is_set():
                return
            ran_s = self._clock() - started
            self._set(OrderApiState.DOWN, process.exit_reason(code))
            log.warning("the Order API %s after %.1f s", process.exit_reason(code), ran_s)
            restarted = self._restart(ran_s)
            if restarted is None:
                return
            proc, started = restarted, self._clock()

    def _restart(self, ran_s: float) -> subprocess.Popen[bytes] | None:
        """Wait out the backoff and start a child until one answers (None: stopping)."""
        while True:
            delay = self._backoff.next_delay(ran_s, self._rand())
            log.warning("restarting the Order API in %.1f s", delay)
            if self._stopping.wait(delay):
                return None
            self._set(OrderApiState.RESTARTING)
            try:
                proc = self._spawn_healthy()
            except (ServiceStartError, OSError) as exc:  # OSError: it could not be started
                if self._stopping.is_set():
                    return None
                self._set(OrderApiState.DOWN, str(exc))
                log.warning("%s", exc)
                ran_s = 0.0
                continue
            with self._lock:
                self._restarts += 1
            self._set(OrderApiState.UP)
            log.info("the Order API is up again (pid %d)", proc.pid)
            return proc

    def _spawn_healthy(self) -> subprocess.Popen[bytes]:
        sock = self._sock
        if sock is None:
            raise RuntimeError("the Order API is not listening")
        with self._lock:
            if self._stopping.is_set():
                raise ServiceStartError("the Order API is stopping")
            proc = process.spawn(sock, self.token, self._db_path, quiet=self._quiet)
            self._proc = proc
        try:
            process.wait_healthy(proc, self.url, self._start_timeout_s)
        except BaseException:
            process.stop(proc)
            raise
        return proc

    def _set(self, state: OrderApiState, error: str | None = None) -> None:
        with self._lock:
            self._state = state
            if error is not None:
                self._last_error = error


@contextmanager
def order_service(
    settings: OrdersSettings,
    db_path: Path | None = None,
    timeout_s: float = process.START_TIMEOUT_S,
    *,
    quiet: bool = False,
) -> Iterator[OrderApiSupervisor]:
    """The running, supervised Order API (``url``, ``token``, ``health()``); stopped when
    the block exits, however it exits. ``db_path`` overrides the child's database."""
    supervisor = OrderApiSupervisor(
        settings, db_path=db_path, start_timeout_s=timeout_s, quiet=quiet
    )
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.stop()
