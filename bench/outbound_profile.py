#!/usr/bin/env python
"""Where one outbound check over HTTP spends its time, in process (no HTTP server).

Seeds a small organisation and a dialer (as bench/voicegate.py's (o) does), then
calls the console's WSGI application (`trustconsole.wsgi.application`) with the
bench's outbound-check bodies and operator token, alternating batches between the
plain path (the router, `trustconsole/outpath.py`) and the router's Django path
(`HotRouter.short`: Django's request, the hot middlewares, the view's short path),
and prints the median wall and CPU time per check of each, then a cProfile of the
plain path. With `--gate`, batches of the call gate's signed Telnyx webhooks (the
same caller mix, bench/gate_profile.py's requests) alternate with them, so that
the two hot paths are compared in the same process at the same moment:

    python bench/outbound_profile.py --calls 3000 --visitors 10000 [--gate]
        [--sort tottime] [--callees] [--refused]

With `--refused` every check goes to a blacklisted visitor's number (the bench's
2 % refusals: the denial row, the denial count, the refused-call rules), so the
figures and the profile are those of a refusal alone.

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
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_outbound_profile")

from bench import outbound_http as outbound  # noqa: E402
from bench import voicegate as bench  # noqa: E402
from bench.gate_profile import environ_for as environ_for_hook  # noqa: E402

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
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "body": body,  # read from a fresh wsgi.input on each call
    }


def gate_environ(line: str, path: str) -> dict[str, object]:
    """A signed Telnyx webhook's environ, as bench/gate_profile.py builds it."""
    environ = environ_for_hook(line, path)
    environ["body"] = environ.pop("wsgi.input").getvalue()  # type: ignore[attr-defined]
    return environ


def main() -> None:  # noqa: PLR0915 - one straight script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--callees", action="store_true")
    parser.add_argument(
        "--gate", action="store_true", help="alternate with the call gate's webhooks"
    )
    parser.add_argument(
        "--refused", action="store_true", help="only refused checks (see above)"
    )
    args = parser.parse_args()

    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), bench.TelnyxStandIn)
    stand_in.daemon_threads = True
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    os.environ["VOICEGATE_TELNYX_API_BASE"] = (
        f"http://127.0.0.1:{stand_in.server_address[1]}/v2"
    )
    os.environ["VOICEGATE_HOOK_RATE"] = "100000000/60"
    tmp = Path(tempfile.mkdtemp(prefix="tc-outbound-profile-"))
    bench.prepare_environment(args, tmp)
    import django

    django.setup()
    connection, blacklisted, known = bench.seed(args.visitors)
    token = outbound.seed_dialer(connection.org_id)
    from trustconsole.wsgi import application

    rng = random.Random(7)
    total = args.calls * 3 + 200
    checks = tmp / "checks.jsonl"
    destinations = (
        [rng.choice(blacklisted) for _ in range(total)]
        if args.refused
        else bench.callers_mix(total, blacklisted, known, rng)
    )
    outbound.write_checks(checks, destinations)
    check_environs = [
        environ_for(line.encode(), token) for line in checks.read_text().splitlines()
    ]
    # name: (WSGI app, its requests)
    paths: dict[str, tuple[Any, list[dict[str, object]]]] = {
        "plain": (application, check_environs),
        "django": (application.short, check_environs),
    }
    if args.gate:
        events = tmp / "events.tsv"
        callers = bench.callers_mix(total, blacklisted, known, rng)
        bench.write_events(events, connection.signing_key, callers)
        hook = f"/voice/hooks/{connection.webhook_token}/"
        paths["gate"] = (
            application,
            [gate_environ(line, hook) for line in events.read_text().splitlines()],
        )

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"unexpected answer {status}")

    def run(app: Any, environs: list[dict[str, object]]) -> None:
        for environ in environs:
            result = app(dict(environ, **{"wsgi.input": io.BytesIO(environ["body"])}),
                         start_response)  # fmt: skip
            b"".join(result)
            if hasattr(result, "close"):
                result.close()

    for app, environs in paths.values():  # warm: state loaded, connections open
        run(app, environs[:100])
    per_call: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name in paths
    }
    for first in range(200, 200 + args.calls, args.batch):
        for name, (app, environs) in paths.items():
            batch = environs[first : min(first + args.batch, 200 + args.calls)]
            wall, cpu = time.perf_counter(), time.process_time()
            run(app, batch)
            per_call[name]["wall"].append((time.perf_counter() - wall) / len(batch))
            per_call[name]["cpu"].append((time.process_time() - cpu) / len(batch))
    for name, figures in per_call.items():
        print(
            f"{name:>6}: {statistics.median(figures['wall']) * 1e6:,.0f} µs wall, "
            f"{statistics.median(figures['cpu']) * 1e6:,.0f} µs CPU per request "
            f"(median of {len(figures['cpu'])} batches of {args.batch})"
        )
    print(f"load {bench.load()}")
    profiler = cProfile.Profile()
    profiler.enable()
    run(application, check_environs[200 + args.calls : 200 + 2 * args.calls])
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.callees:  # what the plain path spends around the check itself
        stats.print_callees(
            r"outpath.py:\d+\((__call__|_answer|_respond|_request_finished)\)"
            r"|hot.py:\d+\(check_token\)|auth.py:\d+\(token_\w+\)"
        )
    stand_in.shutdown()


if __name__ == "__main__":
    main()
