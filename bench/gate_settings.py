"""Settings of the call-gate benchmark: the console's, plus the comparison views.

The console's own connection settings apply (CONN_MAX_AGE, 60 s by default) unless
BENCH_NEW_CONNECTION_PER_REQUEST=1: then CONN_MAX_AGE=0, a new database connection
per request (Django's default when nothing is configured), a labelled variant.
"""

from __future__ import annotations

import os

from trustconsole.settings import *  # noqa: F403
from trustconsole.settings import DATABASES

ROOT_URLCONF = "bench.gate_urls"

if os.environ.get("BENCH_NEW_CONNECTION_PER_REQUEST") == "1":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
