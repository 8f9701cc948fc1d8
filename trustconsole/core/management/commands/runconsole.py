"""runconsole: web (gunicorn), Celery worker and beat together; Ctrl-C stops all.

A child that dies is started again after a back-off (1 s, doubling to 30 s), so one
crash does not take the console down. Only a child that keeps dying within seconds
of every start (a port in use, a broken configuration) stops the console.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from trustconsole.core.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

# A child that ran this long before dying counts as healthy: back-off starts over.
STABLE_SECONDS = 30.0
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0
# This many deaths in a row, each within STABLE_SECONDS of its start: give up.
MAX_QUICK_FAILURES = 5


@dataclass
class Child:
    """One supervised process and its restart bookkeeping."""

    name: str
    command: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float | None = None
    backoff: float = FIRST_BACKOFF
    quick_failures: int = 0
    restarts: int = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, env=self.env)
        self.started, self.restart_at = time.monotonic(), None

    def died(self, now: float) -> float:
        """Record a death; return the delay before the next start."""
        if now - self.started >= STABLE_SECONDS:
            self.backoff, self.quick_failures = FIRST_BACKOFF, 0
        self.quick_failures += 1
        delay = self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        self.restart_at = now + delay
        return delay


class Command(BaseCommand):
    """Supervise the three processes of the console until Ctrl-C."""

    help = "Start web, worker and beat; restart one that dies; stop all on Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not settings.DEBUG:
            # Production storage serves hashed names from a manifest that only
            # collectstatic writes; without it every page is a 500.
            self.stdout.write("Collecting static files…")
            call_command("collectstatic", interactive=False, verbosity=0)
        py = sys.executable
        env = _child_env(host, port)
        ready_file = Path(settings.DATA_DIR) / f"worker-ready-{os.getpid()}"
        ready_file.unlink(missing_ok=True)
        env["TRUSTCONSOLE_WORKER_READY_FILE"] = str(ready_file)
        commands = {
            "web": [
                py, "-m", "gunicorn", "trustconsole.wsgi",
                "--config", "python:trustconsole.gunicorn_conf",
                "--bind", f"{host}:{port}",
                "--workers", str(options["web_workers"]),
                "--no-control-socket",
                "--access-logfile", "-",
            ],
            # One worker: nothing to synchronise with (mingle) or gossip about.
            "worker": [
                py, "-m", "celery", "-A", "trustconsole", "worker",
                "--loglevel", "INFO", "--concurrency", "2",
                "--without-gossip", "--without-mingle", *_worker_queues(),
            ],
            "beat": [
                py, "-m", "celery", "-A", "trustconsole", "beat",
                "--loglevel", "INFO",
                "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }  # fmt: skip
        children = [Child(name, cmd, env) for name, cmd in commands.items()]
        for child in children:
            child.start()
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        url = f"http://{host}:{port}/"
        announced = False
        web_up: float | None = None
        exit_code = 0
        while not stopping:
            now = time.monotonic()
            for child in children:
                if child.restart_at is not None:
                    if now >= child.restart_at and not stopping:
                        child.restarts += 1
                        self.stderr.write(
                            f"{child.name}: starting again (restart {child.restarts})."
                        )
                        child.start()
                    continue
                assert child.proc is not None
                if child.proc.poll() is None:
                    continue
                delay = child.died(now)
                if child.quick_failures >= MAX_QUICK_FAILURES:
                    self.stderr.write(
                        f"{child.name} stopped (exit {child.proc.returncode}) "
                        f"{child.quick_failures} times in a row within "
                        f"{STABLE_SECONDS:.0f} s of starting; stopping all."
                    )
                    stopping, exit_code = True, 1
                    break
                self.stderr.write(
                    f"{child.name} stopped (exit {child.proc.returncode}); "
                    f"restarting in {delay:.0f} s."
                )
            if web_up is None and _answers(f"{url}healthz"):
                web_up = time.monotonic()
            # The banner comes last: after the worker's start-up output, so the URL
            # and login are not buried under it (at most BANNER_WAIT seconds late).
            if (
                not announced
                and web_up is not None
                and (ready_file.exists() or time.monotonic() - web_up > BANNER_WAIT)
            ):
                announced = True
                time.sleep(1)  # the worker logs "ready." right after the marker
                self.stdout.write(
                    self.style.SUCCESS(
                        "\nCtrl-C stops web, worker and beat.\n"
                        f"trustconsole is running at {url}\n"
                        f"Log in as {DEMO_USERS[0][0]} / {DEMO_PASSWORD} (also "
                        + ", ".join(email for email, _ in DEMO_USERS[1:])
                        + ")"
                    )
                )
                self.stdout.flush()
            time.sleep(0.3)
        _terminate([c.proc for c in children if c.proc is not None])
        ready_file.unlink(missing_ok=True)
        sys.exit(exit_code)


def _child_env(host: str, port: int) -> dict[str, str]:
    """The processes' environment: workers reach the sandbox provider on this web."""
    env = dict(os.environ)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    env.setdefault(
        "REMEDIATION_SANDBOX_URL", f"http://{reachable}:{port}/sandbox/telnyx/v2"
    )
    return env


def _worker_queues() -> list[str]:
    """The default queue, plus the remediation queue when one is configured."""
    if not settings.REMEDIATION_QUEUE:
        return []
    from trustconsole.celery import app

    return ["--queues", f"{app.conf.task_default_queue},{settings.REMEDIATION_QUEUE}"]


# The worker writes its ready file from Celery's worker_ready signal. A worker that
# is slow to start (a loaded machine) delays the banner up to this long after the web
# answers; past it the banner is printed anyway so the URL is never withheld.
BANNER_WAIT = 120


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
            return response.status in (200, 503)
    except OSError:
        return False


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child; SIGKILL one still running after 20 s; reap them all."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
