"""The per-process background flusher: buffered writes leave the request thread.

Hot paths keep some rows in process and write them in bulk: the rules' hit counts
and the rule match log (`trustconsole.rules.hitcounts`), the outbound check log
(`voicegate.policy.checklog`). Each registers its `flush` here. In a serving
process one daemon thread writes them every `RULES_HITS_FLUSH_SECONDS`, so no
request waits for a bulk write (a check used to pay it, 30–80 ms, once per period)
and rows are written even when no request comes.

Where it runs: a serving process says so with `enable()` — the WSGI application
module (gunicorn's sync workers, every path of the router, the plain ones too;
`runserver`) and the Celery worker (`worker_init`). The thread then starts at the
first `flush_due` of each process, so it is started after gunicorn or Celery
forked (a thread does not survive a fork) and never in a process that records
nothing. From then on `flush_due` is a no-op. Elsewhere — management commands,
tests, the shell — nothing starts unless asked (`start()`), and `flush_due`
writes in the request that finds a flush due, as it always did; so it does with a
period of 0 ("at once").

The thread holds its own database connection (Django's are per thread), recycled
around every flush as a request's is (`close_old_connections`: `CONN_MAX_AGE`, a
broken connection replaced), and closed when it stops. A flush that fails keeps
its rows for the next one (each log's own rule). When the process ends (`atexit`,
which gunicorn's `sys.exit` runs; Celery's `worker_process_shutdown` for its pool
children, which leave by `os._exit`) it writes once more and waits at most
`RULES_FLUSH_EXIT_SECONDS` for it; a process killed outright loses what it held.
`flush()` of each log stays callable directly (tests, a usage review's end).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)

_FLUSHES: dict[str, Callable[[], int]] = {}  # what it writes → its flush
_enabled = False
_flusher: Flusher | None = None
_start_lock = threading.Lock()
_atexit_registered = False


def register(what: str, flush: Callable[[], int]) -> None:
    """Have the flusher call `flush` (named `what` in its logs) every period."""
    _FLUSHES[what] = flush


def period() -> float:
    """Seconds between two flushes (`RULES_HITS_FLUSH_SECONDS`; 0: at once)."""
    return float(getattr(settings, "RULES_HITS_FLUSH_SECONDS", 10))


def exit_seconds() -> float:
    """How long a process that ends waits for its last flush."""
    return float(getattr(settings, "RULES_FLUSH_EXIT_SECONDS", 5))


def enable() -> None:
    """This is a serving process: start the flusher at the first `flush_due`."""
    global _enabled
    _enabled = True


def running() -> bool:
    """Does the flusher write this process's buffers? Started here when this
    process is a serving one and it is not running yet (cheap once it runs)."""
    if _flusher is not None:
        return True
    if not _enabled or period() <= 0:
        return False
    start()
    return True


def start() -> Flusher:
    """The running flusher of this process (started now if there is none)."""
    global _flusher, _atexit_registered
    with _start_lock:
        if _flusher is None:
            _flusher = Flusher()
            _flusher.start()
            if not _atexit_registered:  # a forked child inherits the handler
                atexit.register(_at_exit)
                _atexit_registered = True
        return _flusher


def stop(timeout: float | None = None) -> bool:
    """Stop the flusher after one last flush, waiting at most `timeout` seconds
    (`RULES_FLUSH_EXIT_SECONDS` by default); False if it was still writing."""
    global _flusher
    with _start_lock:
        flusher, _flusher = _flusher, None
    if flusher is None:
        return True
    return flusher.stop(exit_seconds() if timeout is None else timeout)


def flush_all() -> int:
    """Every registered flush once, each on its own (one that fails does not stop
    the others); rows written in all."""
    written = 0
    for what, flush in list(_FLUSHES.items()):
        try:
            written += flush()
        except Exception:  # noqa: BLE001 - its rows wait for the next flush
            logger.warning("could not flush %s", what, exc_info=True)
    return written


class Flusher(threading.Thread):
    """The thread: a flush every period, one more when stopped."""

    def __init__(self) -> None:
        super().__init__(name="trustconsole-flusher", daemon=True)
        self.stopping = threading.Event()
        self.flushes = 0  # flushes done (all buffers once), for tests and logs

    def run(self) -> None:
        from django.db import connections

        try:
            # At least 50 ms: a period of 0 means "at once", in the request.
            while not self.stopping.wait(max(period(), 0.05)):
                self.flush()
            self.flush()  # the last one: the process is ending
        finally:
            connections.close_all()  # this thread's own connections

    def flush(self) -> None:
        """One flush of every buffer, on a connection recycled like a request's."""
        from django.db import close_old_connections

        close_old_connections()
        try:
            flush_all()
        finally:
            close_old_connections()
            self.flushes += 1

    def stop(self, timeout: float) -> bool:
        """Ask for the last flush and wait for it at most `timeout` seconds."""
        self.stopping.set()
        self.join(timeout)
        if self.is_alive():
            logger.warning("the last flush did not finish within %.1f s", timeout)
            return False
        return True


def _at_exit() -> None:
    stop()


def _forget_after_fork() -> None:
    """A forked child has no flusher thread, whatever its parent had."""
    global _flusher, _start_lock
    _flusher = None
    _start_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
