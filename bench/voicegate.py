#!/usr/bin/env python
"""Benchmark of the inbound call gate against honest baselines, in one run.

Loads N visitors with phone identifiers into a fresh PostgreSQL database (1% of
them blacklisted), serves each scenario with gunicorn (2 sync workers) and drives
pre-signed Telnyx `call.initiated` events at it with wrk on loopback:

  (L) raw WSGI: read the body, Ed25519 check (PyNaCl), parse JSON, Python set,
      respond — no Django: the Python limit for this work (bench/gate_wsgi.py)
  (a) the gate: POST /voice/hooks/<token>/ — verify, decide, dedup, count, log,
      respond, and the reject command to a local stand-in for the Telnyx API
      answering at once
  (ar) the gate when the organisation has 100 live + 100 shadow inbound-call rules
      (the conditions of bench/rules.py; none of the live ones matches the bench's
      calls, so the traffic and the commands stay those of (a): the rules' cost
      alone). They are seeded before its gunicorn starts and turned off after it
  (a0) the gate with its per-token rate limit off (what the limiter costs)
  (a100) the gate when the stand-in answers in 100 ms (--slow-ms)
  (as) the gate sending reject commands in the request (VOICEGATE_REJECT_SENDERS=0);
      after (a) and (as), 100 blacklisted calls one at a time on the idle gate, each
      timed from its webhook to its command reaching the stand-in
  (ac) churn: the gate while one visitor a second is blacklisted, then cleared,
      through the real services (visitor_blacklist / visitor_clear_status)
  (b) naive gate: verify, one indexed ORM query per request, the project's own
      connection settings (persistent connections, CONN_MAX_AGE)
  (b1) the same naive gate with a new database connection per request (labelled:
      what Django does when nothing is configured)
  (c) bare Django view: parse the body, in-memory set, no signature
  (o) the outbound check over HTTP: POST /api/v1/voice/outbound-check with an
      operator API token, from an owned number to the same mix of destinations
  (w) the chat widget gate: POST /widget/v1/messages over the same visitors (each
      has a widget id too), 2 % blacklisted, 68 % known, 30 % new
  (wn) naive chat gate: one query per check, then the message stored as a first
      version would (bench/chat_gate.py)

Latency is taken twice: by wrk (client side) and in the server from the moment
the worker hands the request to the WSGI app until the response is written
(bench/gate_wsgi.py), so it includes the Redis round trip and the reject command.
The gate is driven only through its HTTP entry point: whatever the gate's
internals are, this measures them.

    python bench/voicegate.py --visitors 1000000 --duration 12

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432;
the database BENCH_DB_NAME, default tc_bench_voicegate, is dropped and created),
Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9; that database is
flushed) and wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import chat_gate, cpushare  # noqa: E402
from bench import outbound_http as outbound  # noqa: E402
from bench import rules as rules_bench  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "tc_bench_voicegate")
AREAS = (201, 202, 212, 213, 305, 312, 415, 617, 646, 718, 917, 206)


def phone(i: int) -> str:
    """The i-th distinct valid North American number."""
    area = AREAS[i % len(AREAS)]
    rest = i // len(AREAS)
    exchange = 200 + rest // 10_000 % 800
    return f"+1{area}{exchange:03d}{rest % 10_000:04d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_environment(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    import psycopg

    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    (data_dir / "staticfiles").mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": f"{base}/{DB_NAME}",
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        # A fresh Fernet key: the connection's credentials are encrypted at rest.
        "ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "TRUSTCONSOLE_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "bench.gate_settings",
    }
    os.environ.update(env)
    return env


def seed(visitors: int) -> tuple[object, list[str], list[str]]:
    """Organisation, a Telnyx connection and `visitors` visitors with a phone each."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from voicegate import services

    call_command("migrate", verbosity=0)
    org = Organisation.objects.create(name="Bench", slug="bench")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    conn = services.connection_create(
        actor=Actor.system_for(org, "bench"),
        name="Bench line",
        provider="telnyx_call_control",
        secret=base64.b64encode(public).decode(),
        api_key="KEY_bench",
    )
    now = timezone.now().isoformat()
    blacklisted: list[str] = []
    known: list[str] = []
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor() as cur:
            with cur.copy(
                "COPY visitors_visitor (id, public_id, organisation_id, name, "
                "name_search, status, status_reason, trust_score, band, "
                "blocked_attempts, created_at, last_seen_at) FROM STDIN"
            ) as copy:
                for i in range(1, visitors + 1):
                    black = i % 100 == 0
                    copy.write_row(
                        (
                            i, uuid.uuid4(), org.pk, f"Visitor {i}", f"visitor {i}",
                            "blacklisted" if black else "none", "",
                            30 if black else 100, "danger" if black else "safe",
                            0, now, now,
                        )
                    )  # fmt: skip
            with cur.copy(
                "COPY visitors_visitoridentifier (organisation_id, visitor_id, kind, "
                "value, created_at) FROM STDIN"
            ) as copy:
                for i in range(1, visitors + 1):
                    number = phone(i)
                    copy.write_row((org.pk, i, "phone", number, now))
                    (blacklisted if i % 100 == 0 else known).append(number)
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('visitors_visitor', 'id'), %s)",
                [visitors],
            )
            cur.execute("ANALYZE")
    raw.commit()
    print(f"seeded {visitors:,} visitors in {time.perf_counter() - started:.1f} s")
    conn.signing_key = key  # type: ignore[attr-defined]
    conn.org_id = org.pk  # type: ignore[attr-defined]
    return conn, blacklisted, known


def write_events(path: Path, key: object, callers: list[str]) -> None:
    """One signed call.initiated per caller: signature, timestamp, body."""
    ts = str(int(time.time()))
    with path.open("w") as out:
        for caller in callers:
            body = json.dumps(
                {
                    "data": {
                        "record_type": "event",
                        "event_type": "call.initiated",
                        "id": str(uuid.uuid4()),
                        "occurred_at": "2026-11-23T10:00:00.000000Z",
                        "payload": {
                            "call_control_id": "v3:" + uuid.uuid4().hex,
                            "call_leg_id": str(uuid.uuid4()),
                            "call_session_id": str(uuid.uuid4()),
                            "connection_id": "7267000000000000",
                            "direction": "incoming",
                            "from": caller,
                            "state": "parked",
                            "to": "+14155550100",
                        },
                    }
                },
                separators=(",", ":"),
            )
            signature = key.sign(f"{ts}|{body}".encode())  # type: ignore[attr-defined]
            out.write(f"{base64.b64encode(signature).decode()}\t{ts}\t{body}\n")


def callers_mix(n: int, blacklisted: list[str], known: list[str], rng) -> list[str]:
    """2% blacklisted callers, 68% known visitors, 30% numbers nobody has seen."""
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.02:
            out.append(rng.choice(blacklisted))
        elif roll < 0.70:
            out.append(rng.choice(known))
        else:
            out.append(phone(10_000_000 + rng.randrange(10_000_000)))
    return out


class TelnyxStandIn(BaseHTTPRequestHandler):
    """Answers reject commands like the Telnyx API does, after `delay` seconds."""

    delay = 0.0
    commands = 0
    received: dict[str, float] = {}  # call control id -> when its command arrived
    arrived = threading.Condition()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        call_id = unquote(self.path.split("/calls/", 1)[-1].split("/", 1)[0])
        with TelnyxStandIn.arrived:
            TelnyxStandIn.received[call_id] = time.time()
            TelnyxStandIn.arrived.notify_all()
        if TelnyxStandIn.delay:
            time.sleep(TelnyxStandIn.delay)
        TelnyxStandIn.commands += 1
        data = b'{"data":{"result":"ok"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


def serve(
    env: dict[str, str], log: Path, cwd: Path = ROOT, workers: int = 2
) -> tuple[subprocess.Popen, int]:
    """gunicorn (`workers` sync workers) serving the bench app of the tree at `cwd`."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "bench.gate_wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--backlog", "2048",
            "--no-control-socket",
        ],
        cwd=cwd, env={**os.environ, **env}, stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn did not start; see {log}")


def wrk(  # noqa: PLR0913
    port: int,
    path: str,
    events: Path,
    duration: int,
    conns: int,
    phase: str,
    extra: dict[str, str] | None = None,
) -> dict:
    env = {
        **os.environ,
        **(extra or {}),
        "WRK_PHASE": phase,
        "WRK_EVENTS": str(events),
        "WRK_PATH": path,
        "WRK_THREADS": "2",
    }
    out = subprocess.run(
        [
            "wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--latency",
            "--timeout", "10s",
            "-s", str(ROOT / "bench" / "wrk_events.lua"), f"http://127.0.0.1:{port}",
        ],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "requests": int(total.group(1)) if total else 0,
    }


def scenario(
    name: str,
    path: str,
    extra_env: dict[str, str],
    events: Path,
    warm: Path,
    args: argparse.Namespace,
    tmp: Path,
    during=None,
    wrk_env: dict[str, str] | None = None,
    probe=None,
) -> dict:
    """One gunicorn, a warm-up, then the measured wrk run (with `during`, a
    callable given a stop event and a dict for its figures, running in a thread
    meanwhile)."""
    timing = tmp / f"timing-{uuid.uuid4().hex[:8]}"
    timing.mkdir()
    env = {**extra_env, "BENCH_TIMING_DIR": str(timing)}
    proc, port = serve(
        env, tmp / f"gunicorn-{uuid.uuid4().hex[:8]}.log", workers=args.workers
    )
    extra: dict = {}
    try:
        wrk(port, path, warm, 2, args.connections, "warm", wrk_env)
        stop = threading.Event()
        worker = None
        if during is not None:
            worker = threading.Thread(target=during, args=(stop, extra))
            worker.start()
        cpu_before = cpushare.snapshot()
        result = wrk(
            port, path, events, args.duration, args.connections, "measure", wrk_env
        )
        cpu_line = cpushare.describe(
            cpu_before, cpushare.snapshot(), result["requests"], proc.pid
        )
        stop.set()
        if worker is not None:
            worker.join()
        if probe is not None:
            extra.update(probe(port, path))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    samples = sorted(
        int(line) for f in timing.iterdir() for line in f.read_text().split()
    )
    result["server_p50"] = percentile(samples, 0.50) / 1000
    result["server_p99"] = percentile(samples, 0.99) / 1000
    result["server_mean"] = sum(samples) / len(samples) / 1000 if samples else 0.0
    result["server_max"] = samples[-1] / 1000 if samples else 0.0
    counted = [int(n) for f in timing.glob("*.queries") for n in f.read_text().split()]
    if counted:
        result["queries"] = sum(counted) / len(counted)
    result.update(extra)
    print(
        f"{name:<58} {result['rps']:>7.0f} req/s  p50 {result['p50']:>6.2f} ms  "
        f"p99 {result['p99']:>7.2f} ms  server p50 {result['server_p50']:>6.2f} / "
        f"p99 {result['server_p99']:>7.2f} ms  ({result['requests']:,} requests, "
        f"{result['errors']} non-2xx; server mean {result['server_mean']:.2f}, "
        f"max {result['server_max']:.0f} ms)"
    )
    print(f"    {cpu_line}")
    return result


def idle_probe(key: object, blacklisted: list[str], n: int = 100):
    """After the load: `n` blacklisted calls one at a time, 20 ms apart (an idle
    gate), each timed from sending its webhook until its reject command reaches the
    stand-in."""

    def run(port: int, path: str) -> dict:
        import httpx

        events = Path(tempfile.mkdtemp()) / "probe.tsv"
        write_events(events, key, blacklisted[:n])
        lags = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for line in events.read_text().splitlines():
                signature, ts, body = line.split("\t", 2)
                call_id = json.loads(body)["data"]["payload"]["call_control_id"]
                sent = time.time()
                client.post(
                    path, content=body,
                    headers={"telnyx-signature-ed25519": signature,
                             "telnyx-timestamp": ts, "x-bench-phase": "warm",
                             "content-type": "application/json"},
                )  # fmt: skip
                with TelnyxStandIn.arrived:
                    TelnyxStandIn.arrived.wait_for(
                        lambda c=call_id: c in TelnyxStandIn.received, timeout=5
                    )
                if call_id in TelnyxStandIn.received:
                    lags.append(int((TelnyxStandIn.received[call_id] - sent) * 1e6))
                time.sleep(0.02)
        lags.sort()
        out = {"idle_lag_p50": percentile(lags, 0.5) / 1000,
               "idle_lag_p99": percentile(lags, 0.99) / 1000}  # fmt: skip
        print(f"    idle gate, webhook to reject command: p50 "
              f"{out['idle_lag_p50']:.1f} ms, p99 {out['idle_lag_p99']:.1f} ms "
              f"({len(lags)} of {n} calls)")  # fmt: skip
        return out

    return run


def command_lag(received: dict[str, float]) -> dict[str, float]:
    """How long after its decision was logged each reject command reached the
    stand-in (the webhook's row is written before the command is handed off)."""
    from voicegate.models import CallDecision

    if not received:
        return {}
    logged = dict(
        CallDecision.objects.filter(call_id__in=list(received)).values_list(
            "call_id", "created_at"
        )
    )
    lags = sorted(
        int((received[call] - at.timestamp()) * 1e6)
        for call, at in logged.items()
        if call in received
    )
    lag = {
        "lag_p50": percentile(lags, 0.5) / 1000,
        "lag_p99": percentile(lags, 0.99) / 1000,
    }
    print(f"    reject command after its logged decision: p50 {lag['lag_p50']:.1f} ms, "
          f"p99 {lag['lag_p99']:.1f} ms ({len(lags)} commands)")  # fmt: skip
    return lag


def percentile(samples: list[int], q: float) -> float:
    """The q-quantile of sorted samples (nan if none)."""
    if not samples:
        return float("nan")
    return samples[min(len(samples) - 1, int(len(samples) * q))]


def churn(org_id: int, visitors: list[str]):
    """Blacklist a visitor, a second later clear it, and so on, through the real
    services, until stopped; counts the changes made."""

    def run(stop: threading.Event, extra: dict) -> None:
        from django.db import close_old_connections

        from trustconsole.core.actor import Actor
        from trustconsole.core.models import Organisation
        from visitors import services
        from visitors.models import VisitorIdentifier

        actor = Actor.system_for(Organisation.objects.get(pk=org_id), "bench churn")
        rng = random.Random(3)
        changes, slowest = 0, 0.0
        while not stop.is_set():
            ident = VisitorIdentifier.objects.select_related("visitor").get(
                organisation_id=org_id, kind="phone", value=rng.choice(visitors)
            )
            for change in (services.visitor_blacklist, services.visitor_clear_status):
                started = time.monotonic()
                change(actor=actor, visitor=ident.visitor, reason="bench churn")
                changes += 1
                took = time.monotonic() - started
                slowest = max(slowest, took)
                if stop.wait(max(0.0, 1.0 - took)):
                    break
                ident.visitor.refresh_from_db()
        close_old_connections()
        extra["changes"] = changes
        extra["slowest_change_s"] = slowest

    return run


def rules_on(org_id: int) -> None:
    """100 live + 100 shadow inbound-call rules (bench/rules.py's conditions)."""
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.rules.models import Rule
    from trustconsole.rules.services import rule_set_mode

    org = Organisation.objects.get(pk=org_id)
    seeded = Rule.objects.filter(organisation=org, name__startswith="inbound_call ")
    if not seeded.exists():
        rules_bench.seed_rules(
            org, "inbound_call", rules_bench.call_condition, {"reject": True}
        )
        return
    actor = Actor.system_for(org, "bench")  # a later round: the same rules again
    for rule in seeded:
        mode = "live" if int(rule.name.rsplit(" ", 1)[1]) < 100 else "shadow"
        rule_set_mode(actor=actor, rule=rule, mode=mode)


def rules_off(org_id: int) -> dict[str, int]:
    """Turn the bench's rules off; the hits the gate counted, per mode."""
    from django.db.models import Sum

    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.rules.models import Rule, RuleHitCount
    from trustconsole.rules.services import rule_set_mode

    hits = {
        mode: RuleHitCount.objects.filter(
            rule__organisation_id=org_id, mode=mode
        ).aggregate(n=Sum("hits"))["n"]
        or 0
        for mode in ("live", "shadow")
    }
    actor = Actor.system_for(Organisation.objects.get(pk=org_id), "bench")
    for rule in Rule.objects.filter(organisation_id=org_id).exclude(mode="off"):
        rule_set_mode(actor=actor, rule=rule, mode="off")
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=12, help="seconds per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="gunicorn sync workers for every scenario (the Dockerfile runs 3)",
    )
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the selected scenarios this many times in turn; medians reported",
    )
    parser.add_argument(
        "--slow-ms", type=float, default=100.0, help="the slow stand-in's answer time"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated scenario keys (L,a,a0,…)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="tc-bench-voice-"))
    env = prepare_environment(args, tmp)
    import django

    django.setup()
    connection, blacklisted, known = seed(args.visitors)
    widget_key, chat_blocked, chat_known = chat_gate.seed_chat(
        connection.org_id, args.visitors
    )
    dialer_token = outbound.seed_dialer(connection.org_id)
    token = connection.webhook_token
    rng = random.Random(7)

    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), TelnyxStandIn)
    stand_in.daemon_threads = True
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    api_base = f"http://127.0.0.1:{stand_in.server_address[1]}/v2"
    blocked_file = tmp / "blocked.txt"
    blocked_file.write_text("\n".join(blacklisted))
    common = {
        **env,
        "VOICEGATE_TELNYX_API_BASE": api_base,
        "BENCH_TELNYX_PUBLIC_KEY": connection.secret,
        "BENCH_ORGANISATION_ID": str(connection.org_id),
        "BENCH_BARE_BLOCKED_FILE": str(blocked_file),
        # The per-token rate limit is checked on every request but set high
        # enough that wrk's single token is never refused.
        "VOICEGATE_HOOK_RATE": "100000000/60",
    }
    print(
        f"wrk -t2 -c{args.connections} -d{args.duration}s on loopback, "
        f"gunicorn {args.workers} sync workers, PostgreSQL + Redis; "
        f"load average {load()}\n"
    )
    hook = f"/voice/hooks/{token}/"
    # Every message comes from 127.0.0.1 with one key: the widget's rate limits
    # are checked but set so that they never refuse.
    chat_env = {
        "VISITORS_WIDGET_RATE_PER_KEY": "100000000/60",
        "VISITORS_WIDGET_RATE_PER_IP": "100000000/60",
        "BENCH_COUNT_QUERIES": "1",
    }
    runs = [
        ("L", "(L) raw WSGI: Ed25519 (PyNaCl) + JSON + set, no Django", hook,
         {"BENCH_RAW_WSGI": "1"}, 0.0, None),
        ("a", "(a) trustconsole gate, stand-in answers at once", hook, {}, 0.0, None),
        ("ar", "(ar) the gate, 100 live + 100 shadow inbound-call rules", hook, {},
         0.0, None),
        ("a0", "(a0) the gate, webhook rate limit off", hook,
         {"VOICEGATE_HOOK_RATE": "0/60"}, 0.0, None),
        ("a100", f"(a100) the gate, stand-in answers in {args.slow_ms:.0f} ms", hook,
         {}, args.slow_ms / 1000, None),
        ("as", "(as) the gate, rejects sent in the request (no sender threads)",
         hook, {"VOICEGATE_REJECT_SENDERS": "0"}, 0.0, None),
        ("ac", "(ac) the gate, 1 blacklist/clear a second (churn)", hook, {}, 0.0,
         churn(connection.org_id, known)),
        ("b", "(b) naive gate: ORM query, own settings (CONN_MAX_AGE)",
         f"/bench/naive/{token}/", {}, 0.0, None),
        ("b1", "(b1) naive gate: new DB connection per request",
         f"/bench/naive/{token}/", {"BENCH_NEW_CONNECTION_PER_REQUEST": "1"}, 0.0,
         None),
        ("c", "(c) bare Django view: parse + in-memory set", f"/bench/bare/{token}/",
         {}, 0.0, None),
        ("o", "(o) outbound check over HTTP (API token)",
         "/api/v1/voice/outbound-check", {}, 0.0, None),
        ("w", "(w) chat widget gate: POST /widget/v1/messages", "/widget/v1/messages",
         chat_env, 0.0, None),
        ("wn", "(wn) naive chat gate: one query per check", "/bench/naive-chat/",
         chat_env, 0.0, None),
    ]  # fmt: skip
    only = set(filter(None, args.only.split(",")))
    rounds: list[dict] = []
    for key, name, path, extra, delay, during in [
        run for _ in range(args.rounds) for run in runs
    ]:
        if only and key not in only:
            continue
        if not rounds or key in rounds[-1]:  # the selection starts again
            rounds.append({})
            if args.rounds > 1:
                print(f"-- round {len(rounds)} of {args.rounds}, load {load()}")
        results = rounds[-1]
        events, warm = tmp / "events.tsv", tmp / "warm.tsv"
        TelnyxStandIn.delay = delay
        before = TelnyxStandIn.commands
        if key == "o":
            outbound.write_checks(warm, callers_mix(2_000, blacklisted, known, rng))
            outbound.write_checks(
                events, callers_mix(args.events, blacklisted, known, rng)
            )
            results[key] = scenario(
                name, path, {**common, **extra}, events, warm, args, tmp,
                wrk_env={"WRK_HEADER": f"Authorization: Bearer {dialer_token}"},
            )  # fmt: skip
            continue
        if key in ("w", "wn"):
            chat_gate.write_messages(warm, 2_000, chat_blocked, chat_known, rng)
            chat_gate.write_messages(events, args.events, chat_blocked, chat_known, rng)
            results[key] = scenario(
                name, path, {**common, **extra}, events, warm, args, tmp,
                wrk_env={"WRK_HEADER": f"X-Widget-Key: {widget_key}"},
            )  # fmt: skip
            continue
        if key == "ar":  # before its gunicorn starts: read at the first call
            rules_on(connection.org_id)
        # Fresh signatures per run: they must be within Telnyx's 300 s window.
        write_events(
            warm, connection.signing_key, callers_mix(2_000, blacklisted, known, rng)
        )
        write_events(
            events,
            connection.signing_key,
            callers_mix(args.events, blacklisted, known, rng),
        )
        results[key] = scenario(
            name, path, {**common, **extra}, events, warm, args, tmp, during,
            probe=idle_probe(connection.signing_key, blacklisted)
            if key in ("a", "as") else None,
        )  # fmt: skip
        results[key]["commands"] = TelnyxStandIn.commands - before
        if key == "ar":  # the scenarios after it run without them
            results[key]["rule_hits"] = rules_off(connection.org_id)
        results[key].update(command_lag(TelnyxStandIn.received))
        TelnyxStandIn.received = {}
    TelnyxStandIn.delay = 0.0
    report(medians(rounds), args)
    if len(rounds) > 1:
        for top, bottom in RATIOS:
            if top in rounds[0] and bottom in rounds[0]:
                each = [f"{r[top]['rps'] / r[bottom]['rps']:.0%}" for r in rounds]
                print(f"({top}) / ({bottom}) in each round: {', '.join(each)}")
    stand_in.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


RATIOS = (("a", "L"), ("ar", "a"), ("a100", "a"), ("ac", "a"), ("o", "a"),
          ("w", "a"), ("w", "wn"))  # fmt: skip


def medians(rounds: list[dict]) -> dict:
    """Each scenario's figures as the median over the rounds (one round: as is)."""
    import statistics

    out: dict = {}
    for key in rounds[0] if rounds else ():
        runs = [r[key] for r in rounds if key in r]
        out[key] = {
            field: statistics.median(run.get(field, value) for run in runs)
            if isinstance(value, (int, float)) else value
            for field, value in runs[0].items()
        }  # fmt: skip
    return out


def load() -> str:
    """Load averages (1, 5, 15 min)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def report(r: dict, args: argparse.Namespace) -> None:
    """The ratios the targets are stated in, all from this run."""
    print(f"\nload average at the end: {load()}")

    def ratio(top: str, bottom: str, fmt: str = ".0%") -> str:
        if top not in r or bottom not in r:
            return "(not run)"
        return format(r[top]["rps"] / r[bottom]["rps"], fmt)

    print(f"(a) / (L) raw-WSGI limit: {ratio('a', 'L')} (target >= 55%)")
    print(f"(a) / (c) bare Django view: {ratio('a', 'c')}")
    print(f"(a) / (b) naive, own connection settings: {ratio('a', 'b', '.2f')}x")
    print(f"(a) / (b1) naive, new connection per request (labelled): "
          f"{ratio('a', 'b1', '.2f')}x")  # fmt: skip
    if "ar" in r:
        hits = r["ar"].get("rule_hits", {})
        print(f"(ar) / (a) with 100 live + 100 shadow rules: {ratio('ar', 'a')} "
              f"(target >= 85%); {r['ar']['rps']:.0f} vs "
              f"{r['a']['rps'] if 'a' in r else 0:.0f} req/s; reject commands "
              f"{r['ar']['commands']:,} vs {r['a']['commands'] if 'a' in r else 0:,} "
              f"((a)'s include its idle probe's 100); "
              f"rule hits flushed: {hits.get('live', 0):,} live, "
              f"{hits.get('shadow', 0):,} shadow")  # fmt: skip
    print(f"(a0) / (a): {ratio('a0', 'a')} (the rate limit's cost)")
    print(f"(a) / (as): {ratio('a', 'as')} (sender threads vs rejects in the request)")
    if "a100" in r and "a" in r:
        print(f"(a100) / (a): {ratio('a100', 'a')} of the req/s with the stand-in at "
              f"{args.slow_ms:.0f} ms (target >= 90%); reject commands received "
              f"{r['a100']['commands']:,} vs {r['a']['commands']:,}")  # fmt: skip
    for key in ("w", "wn"):
        if key in r and "queries" in r[key]:
            print(f"({key}) SQL statements per message: {r[key]['queries']:.2f}")
    print(f"(w) / (wn) naive chat gate: {ratio('w', 'wn', '.2f')}x")
    print(f"(w) / (a) call gate: {ratio('w', 'a')} (target >= 40%)")
    print(f"(o) / (a) outbound check over HTTP: {ratio('o', 'a')} (target >= 100%)")
    if "ac" in r and "a" in r:
        ac, a = r["ac"], r["a"]
        print(f"(ac) churn, {ac.get('changes', 0)} blacklist/clear changes: req/s "
              f"{ac['rps'] / a['rps']:.0%} of steady (target >= 90%); p99 "
              f"{ac['p99'] / a['p99']:.1f}x steady (target <= 2x), server p99 "
              f"{ac['server_p99'] / a['server_p99']:.1f}x; slowest change "
              f"{ac.get('slowest_change_s', 0):.2f} s")  # fmt: skip


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
