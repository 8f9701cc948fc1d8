#!/usr/bin/env python
"""The outbound check over HTTP against another tree's, and against the call gate,
in alternating rounds on one machine at one moment.

bench/voicegate.py runs each scenario once, one after the other: on a shared
machine whose load moves within minutes, (o) / (a) of one run swings by tens of
points. This script seeds the same data (bench/voicegate.py's visitors, dialer
and destination mix), starts gunicorn (2 sync workers each) for this tree and for
`--before` (a checkout of the code to compare with, e.g. `git archive` of the base
commit), and then, for `--rounds` rounds, drives with wrk in turn: (o) this tree,
(o) the other tree, (a) the call gate of this tree. It prints each round and the
median of each, with the ratios:

    python bench/outbound_ab.py --before /tmp/base --rounds 5 --duration 5

Needs what bench/voicegate.py needs (BENCH_DB_NAME, default tc_bench_outbound_ab,
dropped and created; BENCH_REDIS_URL flushed; wrk).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_outbound_ab")

from bench import outbound_http as outbound  # noqa: E402
from bench import voicegate as bench  # noqa: E402

CHECK = "/api/v1/voice/outbound-check"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tc-outbound-ab-"))
    env = bench.prepare_environment(args, tmp)
    import django

    django.setup()
    connection, blacklisted, known = bench.seed(args.visitors)
    token = outbound.seed_dialer(connection.org_id)
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), bench.TelnyxStandIn)
    stand_in.daemon_threads = True
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    common = {
        **env,
        "VOICEGATE_TELNYX_API_BASE": f"http://127.0.0.1:{stand_in.server_address[1]}/v2",
        "VOICEGATE_HOOK_RATE": "100000000/60",
    }
    rng = random.Random(7)
    checks = tmp / "checks.jsonl"
    outbound.write_checks(
        checks, bench.callers_mix(args.events, blacklisted, known, rng)
    )
    auth = {"WRK_HEADER": f"Authorization: Bearer {token}"}
    hook = f"/voice/hooks/{connection.webhook_token}/"
    servers = {
        "o": bench.serve(common, tmp / "after.log", ROOT),
        "o before": bench.serve(common, tmp / "before.log", args.before.resolve()),
    }
    servers["a"] = servers["o"]  # the gate of this tree, on the same gunicorn
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.rounds} rounds; "
          f"load {bench.load()}")  # fmt: skip
    rps: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for name, (_, port) in servers.items():  # warm: state loaded
            if name != "a":
                bench.wrk(port, CHECK, checks, 2, args.connections, "warm", auth)
        for round_no in range(1, args.rounds + 1):
            events = tmp / "events.tsv"  # signed now: within Telnyx's 300 s
            callers = bench.callers_mix(args.events, blacklisted, known, rng)
            bench.write_events(events, connection.signing_key, callers)
            figures = []
            for name, (_, port) in servers.items():
                if name == "a":
                    result = bench.wrk(
                        port, hook, events, args.duration, args.connections, "measure"
                    )
                else:
                    result = bench.wrk(
                        port, CHECK, checks, args.duration, args.connections,
                        "measure", auth,
                    )  # fmt: skip
                if result["errors"]:
                    raise SystemExit(f"{name}: {result['errors']} non-2xx answers")
                rps[name].append(result["rps"])
                figures.append(f"({name}) {result['rps']:,.0f}")
            o, a, before = rps["o"][-1], rps["a"][-1], rps["o before"][-1]
            print(f"round {round_no}: " + ", ".join(figures) + " req/s; "
                  f"(o)/(a) {o / a:.0%}, (o)/(o before) {o / before:.0%}; "
                  f"load {bench.load()}")  # fmt: skip
    finally:
        for proc, _ in (servers["o"], servers["o before"]):
            proc.terminate()
            proc.wait(timeout=20)
        stand_in.shutdown()
    median = {name: statistics.median(values) for name, values in rps.items()}
    print("median: " + ", ".join(f"({n}) {v:,.0f}" for n, v in median.items())
          + f" req/s; (o)/(a) {median['o'] / median['a']:.0%}, (o before)/(a) "
          f"{median['o before'] / median['a']:.0%}, (o)/(o before) "
          f"{median['o'] / median['o before']:.0%}")  # fmt: skip
    ratios = [o / a for o, a in zip(rps["o"], rps["a"], strict=True)]
    print(f"(o)/(a) per round: {', '.join(f'{r:.0%}' for r in ratios)}")


if __name__ == "__main__":
    main()
