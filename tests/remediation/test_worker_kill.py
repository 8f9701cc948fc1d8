"""A worker killed with SIGKILL while it holds a request loses nothing.

Real processes throughout: worker A is started, made to hang inside a poll (the
sandbox delays its answer), and killed with `kill -9` while it holds the request's
lease. Worker B and a real `celery beat` are started; once A's lease runs out, the
tick hands the request to B, which completes it. Each status change is applied
exactly once.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remediation import services
from remediation.choices import RemediationStatus
from remediation.models import SandboxFault
from remediation.selectors import request_results, settings_for
from tests.conftest import ROOT, child_env, wait_for
from tests.remediation.conftest import make_enterprise, own
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.worker

BATCH = [f"+1202555030{d}" for d in range(10)]


class Processes:
    """Celery processes started by the test; all stopped at the end."""

    def __init__(self, tmp_path: Path, env: dict[str, str], queue: str) -> None:
        self.tmp_path, self.env, self.queue = tmp_path, env, queue
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "trustconsole", *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running.append(proc)
        return proc, log

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        proc, log = self.start(
            name, "worker", "--pool", "solo", "--queues", self.queue,
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--hostname", f"{name}-{self.queue}@%h",
        )  # fmt: skip
        wait_for(
            lambda: b"ready." in log.read_bytes() or proc.poll() is not None,
            what=f"worker {name} to start",
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        return proc

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def processes(
    transactional_db: None, tmp_path: Path, settings: Any
) -> Iterator[Processes]:
    queue = f"test-kill-{uuid.uuid4().hex[:10]}"
    settings.REMEDIATION_QUEUE = queue  # where this process sends the first task
    env = child_env(
        REMEDIATION_QUEUE=queue,
        REMEDIATION_LEASE_SECONDS="3",
        REMEDIATION_TICK_SECONDS="1",
        REMEDIATION_POLL_INITIAL_SECONDS="1",
        REMEDIATION_POLL_MAX_SECONDS="2",
        REMEDIATION_HTTP_TIMEOUT="60",
        REMEDIATION_HTTP_RETRIES="0",
        # The organisation's API base is the live server on loopback.
        OUTBOUND_ALLOW_PRIVATE="true",
    )
    running = Processes(tmp_path, env, queue)
    yield running
    running.stop_all()


def test_a_worker_killed_mid_poll_loses_nothing(
    processes, live_server, settings, org, actor_for
) -> None:
    """GIVEN worker A hanging in a poll while it holds the lease WHEN A is killed
    with SIGKILL and worker B plus beat start THEN the request still completes,
    its results are stored, and every status change happened exactly once."""
    settings.REMEDIATION_SANDBOX_PENDING_SECONDS = 1
    settings.REMEDIATION_SANDBOX_TIER1_SECONDS = 2
    settings.REMEDIATION_SANDBOX_TIER2_SECONDS = 3
    row = settings_for(organisation=org)
    row.api_base = f"{live_server.url}/sandbox/telnyx/v2"
    row.save()
    enterprise = make_enterprise(org)
    own(enterprise, BATCH)
    key = hashlib.sha256(f"sandbox-{org.public_id}".encode()).hexdigest()
    # The first poll (a GET) hangs in the sandbox long enough to be killed in.
    hang = SandboxFault.objects.create(
        account_key=key, kind="delay", delay_seconds=12, method="GET"
    )

    worker_a = processes.worker("a")
    request = services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=BATCH,
        call_purpose="Appointment reminders",
    )

    def hanging_in_a_poll() -> bool:
        request.refresh_from_db()
        hang.refresh_from_db()
        return bool(request.upstream_id and request.claim_token and hang.hits == 1)

    wait_for(hanging_in_a_poll, timeout=60, what="worker A to hang in a poll")
    held_by_a = request.claim_token
    os.kill(worker_a.pid, signal.SIGKILL)
    worker_a.wait(timeout=10)
    assert worker_a.returncode == -signal.SIGKILL
    request.refresh_from_db()
    assert request.claim_token == held_by_a  # killed while holding the lease
    assert request.status == RemediationStatus.PENDING

    processes.worker("b")
    processes.start(
        "beat", "beat", "--loglevel", "INFO",
        "--schedule", str(processes.tmp_path / "beat-schedule"),
    )  # fmt: skip

    def finished() -> bool:
        request.refresh_from_db()
        return request.is_terminal

    wait_for(finished, timeout=90, what="the request to finish after the kill")
    assert request.status == RemediationStatus.COMPLETED
    assert request.claim_token == ""
    assert request_results(request=request) == {
        "remediated": BATCH[0:5],
        "not_flagged": BATCH[5:7],
        "requires_review": BATCH[7:9],
        "ineligible": [],
        "refused": BATCH[9:10],
    }
    changes = AuditEntry.objects.filter(
        action="remediation.status_change", target_id=str(request.public_id)
    )
    steps = [(c.before["status"], c.after["status"]) for c in changes.reverse()]
    # Forward only, each status reached once, ending in completed (B may have
    # first looked after the sandbox had finished: then it is one step).
    assert steps[0][0] == "pending" and steps[-1][1] == "completed"
    assert all(a[1] == b[0] for a, b in zip(steps, steps[1:], strict=False))
    assert len({after for _, after in steps}) == len(steps)
