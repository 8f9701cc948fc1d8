"""gunicorn settings of the console: `gunicorn -c python:trustconsole.gunicorn_conf`.

Read by gunicorn's master before it starts workers. With `LOG_FORMAT=json` (from
the environment or `.env`, as the app reads it) gunicorn's error and access logs
are JSON lines like the app's (`trustconsole.lib.gunicorn_log`); otherwise they
keep gunicorn's formats. Command-line options (bind, workers) still apply.
"""

from __future__ import annotations

import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")

if settings.LOG_FORMAT == "json":
    logger_class = "trustconsole.lib.gunicorn_log.JsonLogger"
