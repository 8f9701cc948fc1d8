"""The Celery app: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready
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


@worker_ready.connect
def _announce_ready(**_: object) -> None:
    """Tell the supervisor (runconsole) that this worker takes tasks now.

    runconsole names the file in TRUSTCONSOLE_WORKER_READY_FILE and prints its banner
    once the file exists, so the URL and login come after the worker's start-up lines.
    """
    from pathlib import Path

    path = os.environ.get("TRUSTCONSOLE_WORKER_READY_FILE")
    if path:
        Path(path).write_text(str(os.getpid()), encoding="utf-8")
