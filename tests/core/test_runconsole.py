"""`make run`'s last step: web, worker and beat come up together and stop together."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT, child_env, wait_for
from trustconsole.core.models import WorkerHeartbeat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


@pytest.mark.worker
def test_runconsole_serves_health_runs_beat_and_stops_on_ctrl_c(
    transactional_db, tmp_path
) -> None:
    port = free_port()
    log = (tmp_path / "console.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runconsole",
            "--port",
            str(port),
            "--web-workers",
            "1",
        ],
        cwd=ROOT,
        env=child_env(HOUSEKEEPING_INTERVAL="5"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        health = wait_for(lambda: healthz(port), timeout=60, what="/healthz to answer")
        assert health["status"] == "ok"
        # beat schedules housekeeping, the worker runs it
        wait_for(
            lambda: WorkerHeartbeat.objects.exists(), timeout=60, what="beat + worker"
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert healthz(port) is None
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    output = (tmp_path / "console.log").read_text()
    banner = output.index(f"trustconsole is running at http://127.0.0.1:{port}/")
    assert "Log in as admin@demo.test / trustconsole-demo" in output[banner:]
    # The URL and login come after the worker's start-up output, not under it.
    assert output.index(" ready.") < banner
