#!/usr/bin/env python
"""Fault matrix of the call gate: Redis down, PostgreSQL down, worker killed, broker
restarted, each while signed Telnyx events keep arriving.

The stack is real and on loopback, as `runconsole` runs it: gunicorn (2 sync
workers) serving the console, a Celery worker (prefork, 2 processes) and beat
(decision flusher and outbox drain), a
`redis-server` of its own on a free port (no persistence, as a cache/broker often
runs), PostgreSQL behind a TCP proxy that can be cut (the shared server itself is
never touched), a stand-in for the Telnyx API and one for the downstream voice app.

Per scenario: 4 client threads send a mix of events (10 % blacklisted callers, 60 %
other callers, 30 % `call.hangup`) for `--before` seconds, the fault lasts
`--outage` seconds under the same load, then `--after` seconds of load with a
redelivery of every event answered before the fault. Then it waits until the call
log, the reject commands and the forwards settle, and prints per scenario: requests,
non-2xx answers, decisions answered vs logged (every answered event exactly once in
CallDecision), rejects answered vs sent (each blocked event's command exactly once),
forwards due vs delivered.

    python bench/faults.py                       # every scenario
    python bench/faults.py --only redis_down --outage 5

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432;
the database BENCH_DB_NAME, default tc_bench_faults, is dropped and re-created) and
`redis-server` on the PATH.
"""

from __future__ import annotations

import argparse
import base64
import collections
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The stand-ins live in bench/loopback.py (the fault tests use them too).
from bench.loopback import (  # noqa: E402
    RedisServer,
    StandIn,
    TcpProxy,
    free_port,
    wait_until,
)


class Stack:
    """gunicorn, a Celery worker and beat, sharing one environment.

    Supervised as `runconsole` (and the compose file's restart policy) supervises
    them in production: a worker or beat that exits on its own is started again
    after a second. The Celery worker can exit on a broker connection lost at the
    wrong moment (kombu's redis transport, "Unrecoverable error: AttributeError
    ... 'hostname'" while it closes its channel); the promise is kept by the
    restart. Restarts are counted in `restarts` and written to the process's log.
    """

    def __init__(self, env: dict[str, str], workdir: Path, *, workers: int = 2) -> None:
        self.env = env
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        self.restarts: dict[str, int] = {"worker": 0, "beat": 0}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.start_web()
        self.start_worker()
        self.start_beat()
        self.watcher = threading.Thread(target=self._supervise, daemon=True)
        self.watcher.start()

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            for name in ("worker", "beat"):
                with self.lock:
                    proc = getattr(self, name)
                    if proc is None or proc.poll() is None:
                        continue
                    with (self.workdir / f"{name}.log").open("a") as log:
                        log.write(
                            f"stack: the {name} exited with {proc.returncode}; "
                            "starting it again in 1 s, as runconsole does\n"
                        )
                    if self.stopping.wait(1.0):
                        return
                    self.restarts[name] += 1
                    getattr(self, f"start_{name}")()

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "trustconsole.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--no-control-socket", "--graceful-timeout", "5",
            ],
            cwd=ROOT, env=self.env, stdout=(self.workdir / "web.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code in (
                    200,
                    503,
                )
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "gunicorn to answer")

    def start_worker(self) -> None:
        """The worker as `runconsole` runs it (prefork, 2 processes)."""
        self.worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "trustconsole", "worker",
                "--concurrency", "2", "--loglevel", "INFO", "--without-gossip",
                "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env=self.env, stdout=(self.workdir / "worker.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_beat(self) -> None:
        self.beat = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "trustconsole", "beat",
                "--loglevel", "WARNING",
                "--schedule", str(self.workdir / "beat-schedule"),
            ],
            cwd=ROOT, env=self.env, stdout=(self.workdir / "beat.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def add_web_worker(self) -> None:
        """One more gunicorn worker: a process that has cached nothing yet."""
        if self.web is not None:
            os.kill(self.web.pid, signal.SIGTTIN)

    def remove_web_worker(self) -> None:
        if self.web is not None:
            os.kill(self.web.pid, signal.SIGTTOU)

    def kill_worker(self) -> None:
        """Kill the worker on purpose (not started again until `start_worker`)."""
        with self.lock:
            if self.worker is not None:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(timeout=10)
                self.worker = None

    def stop(self) -> None:
        self.stopping.set()
        if self.watcher is not None:
            self.watcher.join(timeout=10)
        for proc in (self.web, self.worker, self.beat):
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


# --- Events --------------------------------------------------------------------------


@dataclass
class Event:
    event_id: str
    kind: str  # "blocked" | "allowed" | "hangup"
    body: bytes
    call_control_id: str


class Signer:
    """Signs bodies like Telnyx: Ed25519 over `{timestamp}|{body}`."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.key = Ed25519PrivateKey.generate()

    @property
    def public_b64(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        signature = self.key.sign(ts.encode() + b"|" + body)
        return {
            "content-type": "application/json",
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "telnyx-timestamp": ts,
        }


def make_event(kind: str, caller: str) -> Event:
    event_id = str(uuid.uuid4())
    call_control_id = "v3:" + uuid.uuid4().hex
    event = {
        "data": {
            "record_type": "event",
            "event_type": "call.hangup" if kind == "hangup" else "call.initiated",
            "id": event_id,
            "occurred_at": "2026-11-23T10:00:00.000000Z",
            "payload": {
                "call_control_id": call_control_id,
                "connection_id": "7267000000000000",
                "direction": "incoming",
                "from": caller,
                "state": "parked",
                "to": "+14155550100",
            },
        },
        "meta": {"attempt": 1, "delivered_to": "https://console.example.com"},
    }
    return Event(event_id, kind, json.dumps(event).encode(), call_control_id)


@dataclass
class Tally:
    """What the gate answered, per event."""

    requests: int = 0
    non_2xx: int = 0
    errors: list[str] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: Event, status: int, answer: dict[str, Any] | None) -> None:
        with self.lock:
            self.requests += 1
            if not 200 <= status < 300:
                self.non_2xx += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{status} {answer}")
                return
            self.events[event.event_id] = event
            previous = self.answers.get(event.event_id)
            if previous is None or "decision" in (answer or {}):
                self.answers[event.event_id] = answer or {}


class Driver:
    """Client threads posting signed events to one webhook URL."""

    def __init__(
        self,
        url: str,
        signer: Signer,
        blocked: list[str],
        tally: Tally,
        *,
        threads: int = 4,
        seed: int = 7,
    ) -> None:
        self.url = url
        self.signer = signer
        self.blocked = blocked
        self.tally = tally
        self.threads = threads
        self.rng = random.Random(seed)
        self.stop_at = 0.0

    def next_event(self) -> Event:
        roll = self.rng.random()
        if roll < 0.10:
            return make_event("blocked", self.rng.choice(self.blocked))
        caller = f"+1415{self.rng.randrange(2_000_000, 9_999_999):07d}"
        return make_event("allowed" if roll < 0.70 else "hangup", caller)

    def post(self, client: Any, event: Event) -> None:
        import httpx

        try:
            response = client.post(
                self.url, content=event.body, headers=self.signer.headers(event.body)
            )
        except httpx.HTTPError as exc:
            self.tally.record(event, 599, {"error": type(exc).__name__})
            return
        try:
            answer = response.json()
        except ValueError:
            answer = {"raw": response.text[:200]}
        self.tally.record(event, response.status_code, answer)

    def run_for(self, seconds: float) -> None:
        import httpx

        stop_at = time.monotonic() + seconds
        lock = threading.Lock()

        def loop() -> None:
            with httpx.Client(timeout=15) as client:
                while time.monotonic() < stop_at:
                    with lock:
                        event = self.next_event()
                    self.post(client, event)

        workers = [threading.Thread(target=loop) for _ in range(self.threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

    def redeliver(self, events: list[Event]) -> None:
        import httpx

        with httpx.Client(timeout=15) as client:
            for event in events:
                self.post(client, event)


# --- Accounting ----------------------------------------------------------------------


@dataclass
class Outcome:
    """What was answered against what reached the call log, Telnyx and downstream."""

    requests: int
    non_2xx: int
    answered: int
    logged: int
    logged_rows: int
    rejects_answered: int
    rejects_sent: int
    rejects_sent_twice: int
    forwards_due: int
    forwards_delivered: int
    forwards_twice: int
    errors: list[str]

    @property
    def ok(self) -> bool:
        return self.non_2xx == 0 and self.settled

    @property
    def settled(self) -> bool:
        """Everything answered has landed (whatever the non-2xx count)."""
        return (
            self.logged == self.answered == self.logged_rows
            and self.rejects_sent == self.rejects_answered
            and self.rejects_sent_twice == 0
            and self.forwards_delivered == self.forwards_due
            and self.forwards_twice == 0
        )


def account(
    tally: Tally, telnyx: StandIn, downstream: StandIn, logged: Callable[[], list[str]]
) -> Outcome:
    """Count once: `logged()` returns the event ids of CallDecision rows."""
    from voicegate.telnyx import command_id_for

    decided = {
        eid: a for eid, a in tally.answers.items() if tally.events[eid].kind != "hangup"
    }
    blocked = {eid for eid, a in decided.items() if a.get("decision") == "reject"}
    rows = [eid for eid in logged() if eid in decided]
    sent = collections.Counter(
        json.loads(body).get("command_id") for body in telnyx.bodies()
    )
    wanted = {command_id_for(eid) for eid in blocked}
    forwarded = collections.Counter(
        json.loads(body)["data"]["id"] for body in downstream.bodies()
    )
    due = {
        eid
        for eid, a in tally.answers.items()
        if a.get("decision") == "allow" or tally.events[eid].kind == "hangup"
    }
    return Outcome(
        requests=tally.requests,
        non_2xx=tally.non_2xx,
        answered=len(decided),
        logged=len(set(rows)),
        logged_rows=len(rows),
        rejects_answered=len(blocked),
        rejects_sent=len(wanted & set(sent)),
        rejects_sent_twice=sum(1 for c in wanted if sent[c] > 1),
        forwards_due=len(due),
        forwards_delivered=len(due & set(forwarded)),
        forwards_twice=sum(1 for e in due if forwarded[e] > 1),
        errors=tally.errors,
    )


def settle(
    tally: Tally,
    telnyx: StandIn,
    downstream: StandIn,
    logged: Callable[[], list[str]],
    timeout: float = 90,
) -> Outcome:
    """Wait until everything answered has landed (or the timeout), then count."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = account(tally, telnyx, downstream, logged)
        if outcome.settled or time.monotonic() > deadline:
            return outcome
        time.sleep(0.5)


# --- The matrix ----------------------------------------------------------------------

SCENARIOS = ("redis_down", "postgres_down", "worker_killed", "broker_restarted")


def run_scenario(
    name: str,
    *,
    stack: Stack,
    redis: RedisServer,
    proxy: TcpProxy | None,
    telnyx: StandIn,
    downstream: StandIn,
    driver: Driver,
    logged: Callable[[], list[str]],
    before: float,
    outage: float,
    after: float,
) -> Outcome:
    """Load, fault under load, recovery under load with redeliveries, then settle."""
    driver.run_for(before)
    answered_before = list(driver.tally.events.values())
    fault = threading.Thread(target=driver.run_for, args=(outage,))
    if name == "redis_down":
        # Redis crashes, the Telnyx API is unreachable at the same time, and
        # gunicorn starts a worker that has cached nothing during the outage.
        redis.kill()
        telnyx.stop()
        stack.add_web_worker()
        fault.start()
        fault.join()
        redis.start()
        telnyx.start()
        stack.remove_web_worker()
    elif name == "postgres_down":
        assert proxy is not None
        proxy.cut()
        fault.start()
        fault.join()
        proxy.resume()
    elif name == "worker_killed":
        stack.kill_worker()
        fault.start()
        fault.join()
        stack.start_worker()
    elif name == "broker_restarted":
        redis.kill()
        redis.start()
        fault.start()
        fault.join()
    driver.run_for(after / 2)
    driver.redeliver(answered_before)
    driver.run_for(after / 2)
    return settle(driver.tally, telnyx, downstream, logged)


def _prepare_database(name: str) -> str:
    import psycopg

    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


def seed(
    signer: Signer, telnyx: StandIn, downstream: StandIn, blocked: int = 50
) -> tuple[Any, list[str]]:
    """An organisation, a Telnyx Call Control connection, blacklisted callers."""
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from visitors.services import visitor_blacklist, visitor_upsert
    from voicegate import services

    org = Organisation.objects.create(
        name="Faults", slug=f"faults-{uuid.uuid4().hex[:6]}"
    )
    actor = Actor.system_for(org, "fault matrix")
    connection = services.connection_create(
        actor=actor,
        name="Telnyx line",
        provider="telnyx_call_control",
        secret=signer.public_b64,
        api_key="KEY_faults",
        downstream_url=downstream.url + "/voice-app",
    )
    numbers = [f"+1202555{i:04d}" for i in range(blocked)]
    for number in numbers:
        visitor = visitor_upsert(actor=actor, phones=[number])
        visitor_blacklist(actor=actor, visitor=visitor, reason="fault matrix")
    return connection, numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=SCENARIOS, action="append")
    parser.add_argument("--before", type=float, default=4)
    parser.add_argument("--outage", type=float, default=5)
    parser.add_argument("--after", type=float, default=6)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tc-faults-"))
    database_url = _prepare_database(os.environ.get("BENCH_DB_NAME", "tc_bench_faults"))
    host_port = database_url.rsplit("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = TcpProxy((host, int(port or 5432)))
    proxy.start()
    proxied_url = database_url.replace(host_port, f"127.0.0.1:{proxy.port}")
    redis = RedisServer(tmp / "redis")
    redis.start()
    telnyx, downstream = StandIn(), StandIn()
    telnyx.start()
    downstream.start()
    env = {
        **os.environ,
        "DATABASE_URL": proxied_url,
        "REDIS_URL": redis.url,
        "DEBUG": "false",
        "SECRET_KEY": "faults-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "TRUSTCONSOLE_DATA_DIR": str(tmp),
        "VOICEGATE_TELNYX_API_BASE": telnyx.url + "/v2",
        "VOICEGATE_TELNYX_TIMEOUT": "1.0",
        "CONN_MAX_AGE": "60",
        # The downstream stand-in is on loopback (development switch of the guard).
        "OUTBOUND_ALLOW_PRIVATE": "true",
    }
    os.environ.update(
        {k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")}
    )
    os.environ["DATABASE_URL"] = database_url  # this process: never through the proxy
    os.environ["TRUSTCONSOLE_DATA_DIR"] = str(tmp)
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from voicegate.models import CallDecision

    stack = Stack(env, tmp)
    stack.start()
    results: dict[str, Outcome] = {}
    try:
        for name in args.only or SCENARIOS:
            signer = Signer()
            connection, blocked = seed(signer, telnyx, downstream)
            tally = Tally()
            driver = Driver(
                f"{stack.url}/voice/hooks/{connection.webhook_token}/",
                signer,
                blocked,
                tally,
                threads=args.threads,
            )

            def logged(conn_id: int = connection.pk) -> list[str]:
                return list(
                    CallDecision.objects.filter(connection_id=conn_id).values_list(
                        "event_id", flat=True
                    )
                )

            started = time.monotonic()
            results[name] = run_scenario(
                name,
                stack=stack,
                redis=redis,
                proxy=proxy,
                telnyx=telnyx,
                downstream=downstream,
                driver=driver,
                logged=logged,
                before=args.before,
                outage=args.outage,
                after=args.after,
            )
            o = results[name]
            print(
                f"{name:<17} {o.requests:>6} requests {o.non_2xx:>4} non-2xx | "
                f"decisions answered {o.answered:>5} logged {o.logged:>5} "
                f"(rows {o.logged_rows}) | rejects answered {o.rejects_answered:>4} "
                f"sent {o.rejects_sent:>4} twice {o.rejects_sent_twice} | forwards due "
                f"{o.forwards_due:>5} delivered {o.forwards_delivered:>5} twice "
                f"{o.forwards_twice} | {'OK' if o.ok else 'FAILED'} "
                f"({time.monotonic() - started:.0f} s)"
            )
            if o.errors:
                print("   first errors:", o.errors)
    finally:
        stack.stop()
        redis.kill()
        telnyx.stop()
        downstream.stop()
        proxy.cut()
    print(f"logs in {tmp}")
    if not all(o.ok for o in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
