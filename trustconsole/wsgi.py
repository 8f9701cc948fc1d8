"""WSGI entry point (gunicorn trustconsole.wsgi).

Provider webhooks, the outbound check and the chat widget's messages take a short
path to their views (`trustconsole.hotpath`); everything else is the Django
application. A process serving it is a serving process: its buffered writes (rule
hit counts, the match log, the check log) are written by a background thread,
started after gunicorn forks (`trustconsole.lib.flusher`).
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
django_application = get_wsgi_application()

from trustconsole.hotpath import HotRouter  # noqa: E402 - after Django is set up
from trustconsole.lib import flusher, gctune  # noqa: E402

application = HotRouter(django_application)
flusher.enable()
gctune.serving_process()
