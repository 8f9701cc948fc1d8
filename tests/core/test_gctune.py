"""Serving processes keep what they loaded out of the cyclic garbage collector's
walks (`trustconsole.lib.gctune`): a process that imports the WSGI module — what
each gunicorn worker does after it forks — or a Celery worker at `worker_init` has
the configured young-generation threshold and the loaded application frozen."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, child_env

PROBE = """
import gc, json, sys
{load}
print(json.dumps({{
    "threshold": gc.get_threshold(),
    "frozen": gc.get_freeze_count(),
    "loaded_objects": len(gc.get_objects()),
    "app_walked": any(o is app for o in gc.get_objects()),
}}))
"""
WSGI = "from trustconsole.wsgi import application as app"
CELERY = (
    "from celery import signals\n"
    "from trustconsole.celery import app\n"
    "signals.worker_init.send(sender=None)"
)


def _probe(load: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(load=load)],
        cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_wsgi_module_freezes_the_loaded_application() -> None:
    seen = _probe(WSGI, GC_GEN0_THRESHOLD="12345")
    assert seen["threshold"][0] == 12345
    # Most of what the import made is frozen, the application among it: no
    # collection walks it any more.
    assert seen["frozen"] > 50_000
    assert seen["frozen"] > 10 * seen["loaded_objects"]
    assert not seen["app_walked"]


def test_the_default_threshold_is_ten_thousand() -> None:
    env = child_env()
    env.pop("GC_GEN0_THRESHOLD", None)
    env.pop("GC_FREEZE", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(load=WSGI)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["threshold"][0] == 10_000
    assert seen["frozen"] > 50_000


def test_gc_freeze_false_leaves_everything_to_the_collector() -> None:
    seen = _probe(WSGI, GC_FREEZE="false", GC_GEN0_THRESHOLD="2000")
    assert seen["threshold"][0] == 2000
    assert seen["frozen"] == 0
    assert seen["app_walked"]


def test_the_celery_worker_freezes_before_its_pool_forks() -> None:
    seen = _probe(CELERY, GC_GEN0_THRESHOLD="4321")
    assert seen["threshold"][0] == 4321
    assert seen["frozen"] > 50_000
    assert not seen["app_walked"]


def test_a_threshold_too_low_is_refused_at_start() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(load=WSGI)],
        cwd=ROOT, env=child_env(GC_GEN0_THRESHOLD="5"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "GC_GEN0_THRESHOLD=5 must be at least 100" in done.stderr


def test_processes_that_do_not_serve_keep_the_defaults() -> None:
    seen = _probe(
        "import django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'trustconsole.settings')\n"
        "django.setup()\n"
        "app = object()",
        GC_GEN0_THRESHOLD="12345",
    )
    assert seen["threshold"][0] == 700
    assert seen["frozen"] == 0
