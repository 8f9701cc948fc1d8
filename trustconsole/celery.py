"""The Celery app: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery

from trustconsole.lib import broker  # noqa: F401 - registers atomicfs://

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")

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
