#!/usr/bin/env python
"""Where one outbound check over HTTP spends its time, in process (no HTTP server).

Seeds a small organisation and a dialer (as bench/voicegate.py's (o) does), then
calls the console's WSGI application (`trustconsole.wsgi.application`) with the
bench's outbound-check bodies and operator token, alternating batches between the
plain path (the router, `trustconsole/outpath.py`) and the router's Django path
(`HotRouter.short`: Django's request, the hot middlewares, the view's short path),
and prints the median wall and CPU time per check of each, then a cProfile of the
plain path:

    python bench/outbound_profile.py --calls 3000 --visitors 10000 [--sort tottime]

Needs PostgreSQL and Redis like bench/voicegate.py (BENCH_DB_NAME, default
tc_bench_outbound_profile, is dropped and created; BENCH_REDIS_URL is flushed).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_outbound_profile")

from bench import outbound_http as outbound  # noqa: E402
from bench import voicegate as bench  # noqa: E402

PATH = "/api/v1/voice/outbound-check"


def environ_for(body: bytes, token: str) -> dict[str, object]:
    """The WSGI environ gunicorn would hand over for one check."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": PATH,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--callees", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tc-outbound-profile-"))
    bench.prepare_environment(args, tmp)
    import django

    django.setup()
    connection, blacklisted, known = bench.seed(args.visitors)
    token = outbound.seed_dialer(connection.org_id)
    from trustconsole.wsgi import application

    rng = random.Random(7)
    checks = tmp / "checks.jsonl"
    outbound.write_checks(
        checks, bench.callers_mix(args.calls * 3 + 200, blacklisted, known, rng)
    )
    bodies = [line.encode() for line in checks.read_text().splitlines()]

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"unexpected answer {status}")

    def run(app, batch: list[bytes]) -> None:
        for body in batch:
            result = app(environ_for(body, token), start_response)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()

    paths = {"plain": application, "django": application.short}
    run(application, bodies[:100])  # warm: state loaded, connections open
    run(application.short, bodies[100:200])
    timed = bodies[200 : 200 + args.calls * 2]
    per_call: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name in paths
    }
    for start in range(0, len(timed), args.batch * 2):
        for offset, (name, app) in enumerate(paths.items()):
            first = start + offset * args.batch
            batch = timed[first : first + args.batch]
            if not batch:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            run(app, batch)
            per_call[name]["wall"].append((time.perf_counter() - wall) / len(batch))
            per_call[name]["cpu"].append((time.process_time() - cpu) / len(batch))
    for name, figures in per_call.items():
        print(
            f"{name:>6}: {statistics.median(figures['wall']) * 1e6:,.0f} µs wall, "
            f"{statistics.median(figures['cpu']) * 1e6:,.0f} µs CPU per check "
            f"(median of {len(figures['cpu'])} batches of {args.batch})"
        )
    print(f"load {bench.load()}")
    profiler = cProfile.Profile()
    profiler.enable()
    run(application, bodies[200 + args.calls * 2 :])
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.callees:  # what the plain path spends around the check itself
        stats.print_callees(
            r"outpath.py:\d+\((__call__|_answer|_respond|_request_finished)\)"
            r"|hot.py:\d+\(check_token\)|auth.py:\d+\(token_\w+\)"
        )


if __name__ == "__main__":
    main()
