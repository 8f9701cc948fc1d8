"""Settings of the call-gate benchmark: the console's, plus the comparison views.

BENCH_DEFAULT_CONNECTIONS=1 gives Django's default connection handling (a new
database connection per request), as a naive deployment would have.
"""

from __future__ import annotations

import os

from trustconsole.settings import *  # noqa: F403
from trustconsole.settings import DATABASES

ROOT_URLCONF = "bench.gate_urls"

if os.environ.get("BENCH_DEFAULT_CONNECTIONS") == "1":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
