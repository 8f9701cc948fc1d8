#!/usr/bin/env python
"""Benchmark of the inbound call gate against a naive gate and a bare view.

Loads N visitors with phone identifiers into a fresh PostgreSQL database (1% of
them blacklisted), serves the console with gunicorn (2 sync workers) and drives
pre-signed Telnyx `call.initiated` events at it with wrk on loopback:

  (a) the gate:  POST /voice/hooks/<token>/  verify, decide in memory, log, respond
                 (and send the reject command to a local stand-in for the Telnyx API)
  (b) naive:     verify, one ORM query per request, Django's default connection
                 handling (a new database connection per request), respond
  (c) bare:      parse the body, look the caller up in an in-memory set, respond

then times the decision in-process (snapshot check + decide) over many callers.

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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
    """Answers reject commands like the Telnyx API does."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = b'{"data":{"result":"ok"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "trustconsole.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--backlog", "2048",
        ],
        cwd=ROOT, env={**os.environ, **env}, stdout=log.open("wb"),
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


def wrk(port: int, path: str, events: Path, duration: int, conns: int) -> dict:
    env = {
        **os.environ,
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
) -> dict:
    proc, port = serve(extra_env, tmp / f"gunicorn-{name}.log")
    try:
        wrk(port, path, warm, 2, args.connections)
        result = wrk(port, path, events, args.duration, args.connections)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(
        f"{name:<44} {result['rps']:>8.0f} req/s  p50 {result['p50']:>7.2f} ms  "
        f"p99 {result['p99']:>7.2f} ms  ({result['requests']:,} requests, "
        f"{result['errors']} non-2xx)"
    )
    return result


def in_process(token: str, callers: list[str]) -> dict[str, float]:
    """Decision latency in this process.

    decide: the in-memory decision alone. claim: decide plus the one Redis round
    trip that checks the state was current, marks the event seen, counts the
    caller and logs the decision.
    """
    from voicegate import gate
    from voicegate.gate import CallFacts

    connection, ctx = gate.context_for_token(token)
    alone, claim = [], []
    for caller in callers:
        t0 = time.perf_counter_ns()
        gate.decide(ctx.org, caller)
        t1 = time.perf_counter_ns()
        facts = CallFacts(
            ctx.organisation_id, connection.id, "telnyx_call_control",
            str(uuid.uuid4()), "v3:x", caller, "+14155550100",
        )  # fmt: skip
        t2 = time.perf_counter_ns()
        gate.decide_and_claim(
            gate.context_for_token(token)[1],
            facts,
            started_us=t2 // 1000,
            refresh=lambda: gate.context_for_token(token, fresh=True)[1],
        )
        t3 = time.perf_counter_ns()
        alone.append((t1 - t0) / 1000)
        claim.append((t3 - t2) / 1000)
    q = statistics.quantiles
    return {
        "decide_p50": q(alone, n=100)[49],
        "decide_p99": q(alone, n=100)[98],
        "claim_p50": q(claim, n=100)[49],
        "claim_p99": q(claim, n=100)[98],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=12, help="seconds per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--events", type=int, default=60_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="tc-bench-voice-"))
    env = prepare_environment(args, tmp)
    import django

    django.setup()
    connection, blacklisted, known = seed(args.visitors)
    token = connection.webhook_token
    rng = random.Random(7)

    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), TelnyxStandIn)
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
    }
    print(
        f"wrk -t2 -c{args.connections} -d{args.duration}s on loopback, "
        "gunicorn 2 sync workers, PostgreSQL + Redis\n"
    )
    results = {}
    runs = [
        ("(a) trustconsole gate", f"/voice/hooks/{token}/", {}),
        ("(b) naive gate: ORM per request, default conns", f"/bench/naive/{token}/",
         {"BENCH_DEFAULT_CONNECTIONS": "1"}),
        ("(c) bare view: parse + in-memory set", f"/bench/bare/{token}/", {}),
    ]  # fmt: skip
    for name, path, extra in runs:
        # Fresh signatures per run: they must be within Telnyx's 300 s window.
        events, warm = tmp / "events.tsv", tmp / "warm.tsv"
        write_events(
            warm, connection.signing_key, callers_mix(2_000, blacklisted, known, rng)
        )
        write_events(
            events,
            connection.signing_key,
            callers_mix(args.events, blacklisted, known, rng),
        )
        results[name] = scenario(
            name, path, {**common, **extra}, events, warm, args, tmp
        )

    from django.db.models import Count

    from voicegate import gate
    from voicegate.models import CallDecision

    while gate.decisions_flush():
        pass
    latencies = sorted(CallDecision.objects.values_list("latency_us", flat=True))
    by_decision = dict(
        CallDecision.objects.values_list("decision").annotate(n=Count("id"))
    )
    inproc = in_process(token, callers_mix(50_000, blacklisted, known, rng))

    a, b, c = results.values()
    print()
    print(f"(a)/(c) = {a['rps'] / c['rps']:.0%} (target >= 50%)")
    print(f"(a)/(b) = {a['rps'] / b['rps']:.1f}x (target >= 5x)")
    if latencies:
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[int(len(latencies) * 0.99)]
        print(
            f"(a) logged decisions: {len(latencies):,} ({by_decision}); verify+decide "
            f"in the server p50 {p50} us, p99 {p99} us"
        )
    print(
        f"in-process: decide p50 {inproc['decide_p50']:.1f} us, "
        f"p99 {inproc['decide_p99']:.1f} us (target p99 < 1000 us); "
        f"decide + the Redis round trip that checks and logs it: "
        f"p50 {inproc['claim_p50']:.0f} us, p99 {inproc['claim_p99']:.0f} us"
    )
    stand_in.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
