"""The Celery app: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
# The embedded broker (no REDIS_URL): kombu's file-system transport, atomic writes.
TRANSPORT_ALIASES.setdefault("trustconsole-fs", "trustconsole.lib.broker:Transport")

app = Celery("trustconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _ensure_broker_dirs(sender: Celery, **_: object) -> None:
    """The file-system broker needs its folders to exist before anyone connects."""
    from pathlib import Path

    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@signals.worker_ready.connect
def _announce_ready(**_: object) -> None:
    """Tell the supervisor (runconsole) that this worker takes tasks now.

    runconsole names the file in TRUSTCONSOLE_WORKER_READY_FILE and prints its banner
    once the file exists, so the URL and login come after the worker's start-up lines.
    """
    from pathlib import Path

    path = os.environ.get("TRUSTCONSOLE_WORKER_READY_FILE")
    if path:
        Path(path).write_text(str(os.getpid()), encoding="utf-8")


# --- Buffered writes: the background flusher (trustconsole.lib.flusher) -------------


@signals.worker_init.connect
def _flusher_enabled(**_: object) -> None:
    """Tasks record rule hit counts and matches: in a worker (each pool child, once
    forked) a background thread writes them, not the task that finds them due."""
    from trustconsole.lib import flusher

    flusher.enable()


@signals.worker_init.connect
def _gc_tuned(**_: object) -> None:
    """Freeze what the worker loaded out of the collector's reach before the pool
    forks (`trustconsole.lib.gctune`): the children inherit it."""
    from trustconsole.lib import gctune

    gctune.serving_process()


@signals.worker_process_shutdown.connect
def _flusher_stopped(**_: object) -> None:
    """A pool child leaves by os._exit (no atexit): its last flush is here."""
    from trustconsole.lib import flusher

    flusher.stop()


# --- Logs and metrics: task ids on log lines, task outcomes counted -----------------


@signals.task_prerun.connect
def _task_prerun(task_id: str = "", task: Any = None, **_: object) -> None:
    from trustconsole.lib import logs

    logs.task_started(task_id, getattr(task, "name", ""))


@signals.task_postrun.connect
def _task_postrun(**_: object) -> None:
    from trustconsole.lib import logs

    logs.task_ended()


@signals.task_success.connect
def _task_success(sender: Any = None, **_: object) -> None:
    from trustconsole.lib import metrics

    metrics.task_finished(task=getattr(sender, "name", ""), outcome="success")


@signals.task_failure.connect
def _task_failure(sender: Any = None, **_: object) -> None:
    from trustconsole.lib import metrics

    metrics.task_finished(task=getattr(sender, "name", ""), outcome="failure")


@signals.task_retry.connect
def _task_retry(sender: Any = None, **_: object) -> None:
    from trustconsole.lib import metrics

    metrics.task_finished(task=getattr(sender, "name", ""), outcome="retry")
