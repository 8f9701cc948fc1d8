"""Python's cyclic garbage collector in a serving process.

A web or worker process loads Django, every app, the URL conf and the hot paths'
modules: about 150,000 objects the collector tracks, none of them garbage. Left
alone, CPython walks all of them in each full (generation 2) collection, and
whichever request is running when one comes due pays for it: 70–80 ms of CPU in
the console's WSGI process (measured with `gc.collect()` after importing
`trustconsole.wsgi`, 2026-12-04; 0.01 ms once they are frozen). So a serving process
calls `serving_process()` once it is loaded:

* `gc.collect()` then `gc.freeze()`: what is loaded moves to the permanent
  generation, which no collection walks (and, in a parent that forks, whose pages a
  collection no longer writes to). Objects made later (caches, compiled rule sets)
  are still collected as usual. `GC_FREEZE=false` turns this off.
* The first generation's threshold is `GC_GEN0_THRESHOLD` (CPython's default 700;
  ours 10,000): a young collection then runs once per 10,000 more container objects
  alive rather than 700. On the call gate's webhooks (`bench/gc_serving.py`) that
  is one collection per ~3,300 webhooks instead of one per ~200, each about 2 ms
  instead of 0.2 ms, and 30–60 % less time in the collector overall. The older
  generations' thresholds are left as they are.

Where it is called: the WSGI module (`trustconsole.wsgi`, imported by each
gunicorn worker after it forks, and by `runserver`) and the Celery worker's
`worker_init` (the main process, before its pool forks: the children inherit the
frozen objects and the thresholds). Nothing else calls it: tests, management
commands and the shell keep CPython's defaults.
"""

from __future__ import annotations

import gc

from django.conf import settings


def serving_process() -> None:
    """Tune the collector for a process that has loaded the application."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(settings.GC_GEN0_THRESHOLD, older, oldest)
    if settings.GC_FREEZE:
        gc.collect()  # garbage left by the imports is freed, not frozen
        gc.freeze()
