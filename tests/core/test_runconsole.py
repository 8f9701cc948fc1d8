"""`make run`'s last step: web, worker and beat come up together, survive a child's
death, serve their static files in production mode and stop together on Ctrl-C.

Every console here gets a data directory of its own (broker folders, beat schedule,
cache, collected static files), and the tests that start one share an xdist group,
so two consoles never consume each other's tasks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import ROOT, child_env
from tests.waiting import wait_until
from trustconsole.core.models import WorkerHeartbeat

CONSOLE = pytest.mark.xdist_group("console")
pytestmark = [pytest.mark.worker, CONSOLE]


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


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def ticks_run(log: str) -> int:
    """How many beat ticks of the remediation poller the worker has finished."""
    return len(re.findall(r"remediation\.tick\[[^\]]+\] succeeded", log))


class Console:
    """A `manage.py runconsole` process with its own port, data dir and log."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port, self.data_dir = free_port(), data_dir
        self.interrupted = False
        self.log_path = data_dir.with_suffix(".log")
        data_dir.mkdir(parents=True, exist_ok=True)
        environment = child_env(TRUSTCONSOLE_DATA_DIR=str(data_dir), **env)
        for name, value in env.items():
            if value == "":  # "" means: unset in the console's environment
                environment.pop(name)
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "runconsole", "--port", str(self.port),
                 "--web-workers", "1"],
                cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_up(self) -> dict:
        return wait_until(
            lambda: self.proc.poll() is None and healthz(self.port),
            timeout=90,
            what=f"runconsole's /healthz on port {self.port} ({self.log_path})",
        )

    def children(self) -> dict[str, int]:
        """Pid of each supervised child ("web", "worker", "beat")."""
        found = {}
        task = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        for pid in task.read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            for name in ("worker", "beat"):
                if name.encode() in cmdline:
                    found[name] = int(pid)
            if b"gunicorn" in cmdline:
                found["web"] = int(pid)
        return found

    def interrupt(self) -> None:
        """Press Ctrl-C once (a second press may land after the handler is gone)."""
        if not self.interrupted and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.interrupted = True

    def stop(self) -> int:
        """Ctrl-C, then wait; the exit status."""
        self.interrupt()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"runconsole ignored Ctrl-C for 60 s:\n{self.log()[-3000:]}")


def test_runconsole_serves_health_runs_beat_and_stops_on_ctrl_c(
    transactional_db, tmp_path
) -> None:
    console = Console(tmp_path / "console", HOUSEKEEPING_INTERVAL="5")
    try:
        health = console.wait_up()
        assert health["status"] == "ok"
        # beat schedules housekeeping, the worker runs it
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(name="housekeeping").exists(),
            timeout=60,
            what="beat + worker to record a housekeeping heartbeat",
        )
        assert console.stop() == 0
        assert healthz(console.port) is None
    finally:
        console.stop()
    output = console.log()
    banner = output.index(
        f"trustconsole is running at http://127.0.0.1:{console.port}/"
    )
    assert "Log in as admin@demo.test / trustconsole-demo" in output[banner:]
    # The URL and login come after the worker's start-up output, not under it.
    assert output.index(" ready.") < banner


def test_a_worker_that_dies_is_started_again_while_web_stays_up(
    transactional_db, tmp_path
) -> None:
    """GIVEN a running console WHEN its worker is killed (SIGKILL) THEN runconsole
    logs it and starts a new worker after a back-off; web answers throughout and
    the new worker runs beat's tasks; Ctrl-C still stops everything."""
    console = Console(tmp_path / "console", REMEDIATION_TICK_SECONDS="1")
    try:
        console.wait_up()
        worker = wait_until(
            lambda: console.children().get("worker"), what="the worker process"
        )
        wait_until(
            lambda: ticks_run(console.log()) >= 1,
            timeout=60,
            what="the first worker to run a beat tick",
        )
        os.kill(worker, signal.SIGKILL)
        wait_until(
            lambda: "worker: starting again (restart 1)" in console.log(),
            timeout=30,
            what="runconsole to start the worker again",
        )
        assert f"worker stopped (exit -{int(signal.SIGKILL)}); restarting in 1 s" in (
            console.log()
        )
        assert healthz(console.port) is not None
        restarted = console.children()["worker"]
        assert restarted != worker
        WorkerHeartbeat.objects.filter(name="remediation.tick").delete()
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(name="remediation.tick").exists(),
            timeout=60,
            what="the new worker to run a beat tick",
        )
        children = console.children()
        assert console.stop() == 0
    finally:
        console.stop()
    assert not [pid for pid in children.values() if Path(f"/proc/{pid}").exists()]


def test_production_mode_collects_static_files_before_serving(
    transactional_db, tmp_path
) -> None:
    """GIVEN DEBUG=false and a data dir where collectstatic never ran WHEN the
    console starts THEN pages render (no "Missing staticfiles manifest entry" 500)
    and the hashed favicon they link is served."""
    data_dir = tmp_path / "console"
    console = Console(
        data_dir,
        DEBUG="false",
        SECRET_KEY="a-test-only-key-that-is-long-enough-for-production-checks",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert not (data_dir / "staticfiles").exists()
    try:
        console.wait_up()
        status, html = get(console.port, "/login/")
        assert status == 200, html[-2000:]
        favicon = re.search(r'href="(/static/favicon\.[0-9a-f]{12}\.svg)"', html)
        assert favicon, html[:2000]
        assert get(console.port, favicon[1])[0] == 200
    finally:
        status = console.stop()
    assert status == 0, console.log()[-3000:]
    assert (data_dir / "staticfiles" / "staticfiles.json").exists()
