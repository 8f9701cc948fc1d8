#!/usr/bin/env python
"""Where one chat widget message spends its time, in process (no HTTP server).

Seeds the organisation, its visitors and their widget ids (as bench/voicegate.py
does), then calls the console's WSGI application (`trustconsole.wsgi.application`)
with `POST /widget/v1/messages` bodies (the same mix: 2 % blacklisted, 68 % known,
30 % new visitors) and prints the mean wall and CPU time per message, the SQL
statements and PostgreSQL round trips per message, then a cProfile of the same
messages:

    python bench/widget_profile.py --messages 2000 --visitors 10000 [--sort tottime]

Needs PostgreSQL and Redis like bench/voicegate.py (BENCH_DB_NAME, default
tc_bench_widget_profile, is dropped and created; BENCH_REDIS_URL is flushed).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_widget_profile")

from bench import chat_gate  # noqa: E402
from bench import voicegate as bench  # noqa: E402


def environ_for(body: str, key: str) -> dict[str, object]:
    """The WSGI environ gunicorn would hand over for one widget message."""
    raw = body.encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/widget/v1/messages",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_X_WIDGET_KEY": key,
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


class Statements:
    """Counts the SQL statements the ORM and the gate's statements send."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) the PostgreSQL backend `pid` has used, read
    from /proc (the server runs on this machine); -inf when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("-inf")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tc-widget-profile-"))
    os.environ["VISITORS_WIDGET_RATE_PER_KEY"] = "100000000/60"
    os.environ["VISITORS_WIDGET_RATE_PER_IP"] = "100000000/60"
    # One connection (and so one backend to read the CPU of) for the whole run.
    os.environ["CONN_MAX_AGE"] = "3600"
    bench.prepare_environment(args, tmp)
    import django

    django.setup()
    connection, _blacklisted, _known = bench.seed(args.visitors)
    key, blocked, known = chat_gate.seed_chat(connection.org_id, args.visitors)
    from django.db import connections

    from trustconsole.wsgi import application

    db = connections["default"]
    rng = random.Random(7)
    messages = tmp / "messages.jsonl"
    chat_gate.write_messages(messages, 200 + 3 * args.messages, blocked, known, rng)
    lines = messages.read_text().splitlines()

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        if not status.startswith("202"):
            raise SystemExit(f"unexpected answer {status}")

    def run(batch: list[str]) -> None:
        for line in batch:
            result = application(environ_for(line, key), start_response)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()

    run(lines[:200])  # warm: state loaded, connections open
    start = 200
    timed = lines[start : start + args.messages]
    backend = db.connection.info.backend_pid
    server_cpu = backend_cpu(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    run(timed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_cpu = backend_cpu(backend) - server_cpu
    if db.connection is None or db.connection.info.backend_pid != backend:
        server_cpu = float("nan")  # the connection was replaced meanwhile
    print(
        f"{args.messages} messages: {wall / args.messages * 1e3:.3f} ms wall, "
        f"{cpu / args.messages * 1e3:.3f} ms CPU per message here, "
        f"{server_cpu / args.messages * 1e3:.3f} ms CPU in the PostgreSQL "
        f"backend (pid {backend}); load {bench.load()}"
    )
    start += args.messages
    statements = Statements()
    health = [0]
    raw_is_usable = type(db).is_usable

    def is_usable(self):  # type: ignore[no-untyped-def]
        health[0] += 1
        return raw_is_usable(self)

    type(db).is_usable = is_usable  # type: ignore[method-assign]
    with db.execute_wrapper(statements):
        run(lines[start : start + args.messages])
    type(db).is_usable = raw_is_usable  # type: ignore[method-assign]
    start += args.messages
    print(
        f"per message: {statements.count / args.messages:.2f} SQL statements, "
        f"{health[0] / args.messages:.2f} health checks (SELECT 1)"
    )
    profiler = cProfile.Profile()
    profiler.enable()
    run(lines[start : start + args.messages])
    profiler.disable()
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
