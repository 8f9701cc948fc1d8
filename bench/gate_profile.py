#!/usr/bin/env python
"""Where one call-gate webhook spends its time, in process (no HTTP server).

Seeds a small organisation (as bench/voicegate.py does), then calls the console's
WSGI application (`trustconsole.wsgi.application`) with signed Telnyx
`call.initiated` events (the same caller mix) and prints the mean wall and CPU
time per call, then a cProfile of the same calls:

    python bench/gate_profile.py --calls 3000 --visitors 10000 [--sort tottime]

Needs PostgreSQL and Redis like bench/voicegate.py (BENCH_DB_NAME, default
tc_bench_gate_profile, is dropped and created; BENCH_REDIS_URL is flushed).
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
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_gate_profile")

from bench import voicegate as bench  # noqa: E402


def environ_for(line: str, path: str) -> dict[str, object]:
    """The WSGI environ gunicorn would hand over for one line of the events file."""
    signature, stamp, body = line.rstrip("\n").split("\t", 2)
    raw = body.encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_TELNYX_SIGNATURE_ED25519": signature,
        "HTTP_TELNYX_TIMESTAMP": stamp,
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def signed_calls(
    tmp: Path, connection: Any, callers: list[str]
) -> tuple[list[str], str]:
    """Signed `call.initiated` events for `callers` (lines of the events file)
    and the connection's webhook path."""
    events = tmp / "events.tsv"
    bench.write_events(events, connection.signing_key, callers)
    return events.read_text().splitlines(), f"/voice/hooks/{connection.webhook_token}/"


def start_response(status: str, headers: list[tuple[str, str]]) -> None:
    """The server's half of a WSGI call: anything but a 200 stops the bench."""
    if not status.startswith("200"):
        raise SystemExit(f"unexpected answer {status}")


def in_process(
    args: argparse.Namespace, prefix: str
) -> tuple[Any, Path, Any, Any, Any]:
    """The Telnyx stand-in on a thread, the bench settings, Django set up and the
    organisation seeded (`args.visitors`): (scratch dir, connection, blacklisted,
    known), as bench/voicegate.py seeds them; the stand-in first."""
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), bench.TelnyxStandIn)
    stand_in.daemon_threads = True
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["VOICEGATE_TELNYX_API_BASE"] = (
        f"http://127.0.0.1:{stand_in.server_address[1]}/v2"
    )
    os.environ["VOICEGATE_HOOK_RATE"] = "100000000/60"
    bench.prepare_environment(args, tmp)
    import django

    django.setup()
    connection, blacklisted, known = bench.seed(args.visitors)
    return stand_in, tmp, connection, blacklisted, known


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    stand_in, tmp, connection, blacklisted, known = in_process(args, "tc-gate-profile-")
    from trustconsole.wsgi import application

    rng = random.Random(7)
    callers = bench.callers_mix(args.calls * 2, blacklisted, known, rng)
    lines, path = signed_calls(tmp, connection, callers)

    def run(batch: list[str]) -> None:
        for line in batch:
            result = application(environ_for(line, path), start_response)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()

    run(lines[:200])  # warm: state loaded, connections open
    timed = lines[200 : 200 + args.calls]
    wall, cpu = time.perf_counter(), time.process_time()
    run(timed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{args.calls} calls: {wall / args.calls * 1e3:.3f} ms wall, "
        f"{cpu / args.calls * 1e3:.3f} ms CPU per call; load {bench.load()}"
    )
    profiler = cProfile.Profile()
    profiler.enable()
    run(lines[200 + args.calls : 200 + 2 * args.calls])
    profiler.disable()
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    stand_in.shutdown()


if __name__ == "__main__":
    main()
