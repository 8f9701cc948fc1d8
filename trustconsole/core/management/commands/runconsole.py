"""runconsole: web (gunicorn), Celery worker and beat together; Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from trustconsole.core.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    """Supervise the three processes of the console until one stops or Ctrl-C."""

    help = "Start web, worker and beat; stop all of them on Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        py = sys.executable
        env = _child_env(host, port)
        commands = {
            "web": [
                py, "-m", "gunicorn", "trustconsole.wsgi",
                "--bind", f"{host}:{port}",
                "--workers", str(options["web_workers"]),
                "--no-control-socket",
                "--access-logfile", "-",
            ],
            "worker": [
                py, "-m", "celery", "-A", "trustconsole", "worker",
                "--loglevel", "INFO", "--concurrency", "2", *_worker_queues(),
            ],
            "beat": [
                py, "-m", "celery", "-A", "trustconsole", "beat",
                "--loglevel", "INFO",
                "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }  # fmt: skip
        procs = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
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
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(
                        f"{name} stopped (exit {proc.returncode}); stopping all."
                    )
                    stopping, exit_code = True, 1
            if web_up is None and _answers(f"{url}healthz"):
                web_up = time.monotonic()
            # The banner comes last: after the worker's start-up output, so the URL
            # and login are not buried under it (at most BANNER_WAIT seconds late).
            if (
                not announced
                and web_up is not None
                and (_worker_ready() or time.monotonic() - web_up > BANNER_WAIT)
            ):
                announced = True
                time.sleep(1)  # let the worker finish its "ready" lines
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
        _terminate(procs)
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


BANNER_WAIT = 30


def _worker_ready() -> bool:
    """True once a Celery worker answers a ping on the broker."""
    from trustconsole.celery import app

    try:
        return bool(app.control.ping(timeout=1))
    except Exception:  # noqa: BLE001 - broker not up yet: not ready
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
            return response.status in (200, 503)
    except OSError:
        return False


def _terminate(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
