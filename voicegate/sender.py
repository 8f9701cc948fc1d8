"""Reject commands sent beside the request, so provider latency never reaches a caller.

The webhook request claims the event and opens its outbox item (leased to this
process, `outbox.LEASE`) and hands the command to this process's sender: a bounded
queue served by VOICEGATE_REJECT_SENDERS threads. The request answers at once; a
sender thread posts the command and records how it fared, as the request used to.

Nothing is lost: a command still waiting when the process dies keeps its outbox
item, whose lease runs out, and the beat drain sends it (exactly once: the item is
the only claim on the event). When the queue is full, or VOICEGATE_REJECT_SENDERS
is 0, the request sends the command itself as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

from trustconsole.lib import dbhealth

logger = logging.getLogger(__name__)

Job = Callable[[], None]


class Sender:
    """A bounded queue of jobs and the threads that run them, per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.busy = 0

    def _start(self, threads: int, size: int) -> None:
        """Threads are started in the process that uses them (after a fork)."""
        with self.lock:
            if self.pid == os.getpid():
                return
            self.jobs = queue.Queue(maxsize=size)
            self.busy = 0
            self.threads = [
                threading.Thread(
                    target=self._serve, name=f"reject-sender-{n}", daemon=True
                )
                for n in range(threads)
            ]
            for thread in self.threads:
                thread.start()
            self.pid = os.getpid()

    def submit(self, job: Job) -> bool:
        """Queue `job`; False when it must run in the caller (senders off, or full)."""
        threads = settings.VOICEGATE_REJECT_SENDERS
        if threads <= 0:
            return False
        if self.pid != os.getpid():
            self._start(threads, settings.VOICEGATE_REJECT_QUEUE)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            logger.warning("reject sender queue full: sending in the request")
            return False
        return True

    def _serve(self) -> None:
        # This thread's connections, as a request's: recycled after each job, and
        # one used a moment ago not asked `SELECT 1` first (`dbhealth`).
        recent = dbhealth.RecentUse()
        while True:
            job = self.jobs.get()
            with self.lock:
                self.busy += 1
            try:
                recent.settle()
                job()
            except Exception:  # the outbox item stays leased; the drain retries it
                logger.exception("reject sender job failed")
            finally:
                recent.noted()
                close_old_connections()
                with self.lock:
                    self.busy -= 1
                self.jobs.task_done()

    def pending(self) -> int:
        """Jobs queued or running in this process."""
        if self.pid != os.getpid():
            return 0
        with self.lock:
            return self.jobs.qsize() + self.busy

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued job has run (at exit, in tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True


sender = Sender()


@atexit.register
def _flush_at_exit() -> None:
    # A worker stopping on purpose sends what it holds; one that is killed leaves
    # it to the outbox drain once the items' leases run out.
    if sender.pending() and not sender.drain(timeout=5.0):
        logger.warning("reject sender stopped with %d commands left", sender.pending())
