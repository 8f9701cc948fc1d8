#!/usr/bin/env python
"""The garbage collector in a serving process: call-gate webhooks, before and after.

Seeds the organisation as bench/gate_profile.py does, imports the console's WSGI
module (`trustconsole.wsgi`, as each gunicorn worker does) and calls its
application with signed Telnyx `call.initiated` events, in blocks that alternate
the collector as serving processes had it before 2026-12-04 (`defaults`: CPython's
thresholds, nothing frozen) and as `trustconsole.lib.gctune` sets it now
(`serving`). Per mode: the webhooks' wall p50 / p99 / p99.9 / max, the collections
by generation (`gc.callbacks`), their total and longest pause, and how many
webhooks had a collection inside them.

    BENCH_DB_NAME=tc_rules_h BENCH_REDIS_URL=redis://127.0.0.1:6379/13 \\
        python bench/gc_serving.py --calls 8000 --blocks 4

Needs PostgreSQL and Redis like bench/voicegate.py (BENCH_DB_NAME is dropped and
created; BENCH_REDIS_URL is flushed).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_gc_serving")

from bench import gate_profile  # noqa: E402
from bench import rules as rules_bench  # noqa: E402
from bench import voicegate as bench  # noqa: E402


class Pauses:
    """Every collection's generation and wall-clock pause (ns)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []
        self._started = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            self._started = now
        else:
            self.seen.append((info["generation"], now - self._started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8000, help="per block")
    parser.add_argument("--blocks", type=int, default=4, help="alternating modes")
    parser.add_argument("--visitors", type=int, default=10_000)
    args = parser.parse_args()

    stand_in, tmp, connection, blacklisted, known = gate_profile.in_process(
        args, "tc-gc-serving-"
    )
    from trustconsole.wsgi import application

    rng = random.Random(7)
    callers = bench.callers_mix(200 + args.calls * args.blocks, blacklisted, known, rng)
    lines, path = gate_profile.signed_calls(tmp, connection, callers)
    start_response = gate_profile.start_response

    pauses = Pauses()
    took: dict[str, list[int]] = {"defaults": [], "serving": []}
    inside: dict[str, int] = {"defaults": 0, "serving": 0}
    by_mode: dict[str, list[tuple[int, int]]] = {"defaults": [], "serving": []}

    def run(batch: list[str], mode: str | None) -> None:
        for line in batch:
            before = len(pauses.seen)
            started = time.perf_counter_ns()
            result = application(gate_profile.environ_for(line, path), start_response)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()
            if mode is not None:
                took[mode].append(time.perf_counter_ns() - started)
                inside[mode] += len(pauses.seen) > before

    run(lines[:200], None)  # warm: state loaded, connections open
    at = 200
    for block in range(args.blocks):
        mode = rules_bench.MODES[block % 2]
        rules_bench.collector(mode)
        start = len(pauses.seen)
        run(lines[at : at + args.calls], mode)
        by_mode[mode] += pauses.seen[start:]
        at += args.calls
    print(
        f"{'gc':<9} {'calls':>6} {'p50 ms':>7} {'p99':>7} {'p99.9':>7} {'max':>7} "
        f"{'gen0/1/2':>12} {'gc ms':>7} {'longest':>8} {'calls w/ gc':>11}"
    )
    for mode in rules_bench.MODES:
        wall = sorted(took[mode])
        n = len(wall)
        gens = [sum(1 for g, _ in by_mode[mode] if g == k) for k in range(3)]
        total = sum(ns for _, ns in by_mode[mode]) / 1e6
        longest = max((ns for _, ns in by_mode[mode]), default=0) / 1e6
        print(
            f"{mode:<9} {n:>6} {wall[n // 2] / 1e6:>7.3f} "
            f"{wall[int(n * 0.99)] / 1e6:>7.3f} {wall[int(n * 0.999)] / 1e6:>7.3f} "
            f"{wall[-1] / 1e6:>7.2f} {'/'.join(map(str, gens)):>12} {total:>7.1f} "
            f"{longest:>8.2f} {inside[mode]:>11}"
        )
    print(f"load {bench.load()}; GC_GEN0_THRESHOLD {gc.get_threshold()[0]} (serving)")
    stand_in.shutdown()


if __name__ == "__main__":
    main()
