#!/usr/bin/env python
"""The call gate's CPU per webhook in process, steadier than wall clocks on a
shared machine, and per stage.

Seeds as bench/gate_profile.py does (the same caller mix, BENCH_DB_NAME and
BENCH_REDIS_URL), calls the console's WSGI application with signed Telnyx
`call.initiated` events and prints this thread's CPU time per call, over
batches of 250 calls (min, p25, median: a batch that shared its core with
another process's work shows it, the min the least). With `--stages`, named
functions of the path are wrapped with CPU-time counters (inclusive, each
wrapper adding ~1 µs); with `--rules`, the organisation gets bench/rules.py's
100 live + 100 shadow inbound-call rules, as scenario (ar) does; with
`--ab-claim`, the batches alternate between the claim on the thread's own
Redis connection (`gate_state.script_run`) and redis-py's ordinary call, in
the same process (the steady way to compare them on a shared machine):

    python bench/gate_stages.py --calls 4000 --visitors 100000 [--rules] [--stages]
    python bench/gate_stages.py --calls 6000 --ab-claim
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB_NAME", "tc_bench_gate_profile")

from bench import voicegate as bench  # noqa: E402
from bench.gate_profile import (  # noqa: E402
    environ_for,
    in_process,
    signed_calls,
    start_response,
)

BATCH = 250
totals: dict[str, float] = defaultdict(float)
counts: dict[str, int] = defaultdict(int)


def wrap(owner: Any, name: str) -> None:
    """Count the CPU time of `owner.name` (module function or method)."""
    fn = getattr(owner, name)
    label = f"{owner.__name__.rsplit('.', 1)[-1]}.{name}"

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] += time.thread_time() - started
            counts[label] += 1

    setattr(owner, name, timed)


def stages() -> None:
    from trustconsole import hookpath
    from trustconsole.lib import jsonbody, logs, metrics, ratelimit
    from trustconsole.rules import engine, facts
    from trustconsole.rules import hooks as rule_hooks
    from voicegate import gate, signatures, webhooks

    for owner, name in [
        (hookpath.PlainHooks, "plain"),
        (hookpath, "close_old_connections"),
        (logs, "request_id_for"),
        (ratelimit, "hit"),
        (gate, "context_for_token"),
        (signatures, "telnyx_verify"),
        (jsonbody, "parse"),
        (webhooks, "_decide"),
        (gate, "decide"),
        (rule_hooks, "inbound_call"),
        (engine, "evaluate"),
        (facts, "build"),
        (facts, "_country"),
        (gate, "call_record"),
        (gate, "_claim"),
        (gate, "spool_note"),
        (metrics, "call_decided"),
        (webhooks, "_reject"),
        (gate, "call_count_rules"),
        (hookpath.PlainHooks, "_respond"),
    ]:
        wrap(owner, name)


def ab_claim(run: Any, timed: list[str]) -> None:
    """Batches alternating between the two ways of sending the claim."""
    from voicegate import gate, gate_state

    def ordinary(client: Any, script: Any, keys: list[Any], args: list[Any]) -> Any:
        return script(keys=keys, args=args, client=client)

    ways = {"own connection": gate_state.script_run, "ordinary call": ordinary}
    found: dict[str, list[float]] = {name: [] for name in ways}
    for n, start in enumerate(range(0, len(timed), BATCH)):
        name = list(ways)[n % 2]
        gate.script_run = ways[name]  # type: ignore[assignment]
        found[name].append(run(timed[start : start + BATCH]) * 1e6)
    gate.script_run = gate_state.script_run
    for name, per_call in found.items():
        per_call.sort()
        print(
            f"claim by {name}: thread CPU µs per call, min {per_call[0]:.1f}, "
            f"p25 {per_call[len(per_call) // 4]:.1f}, "
            f"median {per_call[len(per_call) // 2]:.1f} ({len(per_call)} batches); "
            f"load {bench.load()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--rules", action="store_true")
    parser.add_argument("--stages", action="store_true")
    parser.add_argument("--ab-claim", action="store_true")
    args = parser.parse_args()

    stand_in, tmp, connection, blacklisted, known = in_process(args, "tc-gate-stages-")
    if args.rules:
        bench.rules_on(connection.org_id)
    from trustconsole.wsgi import application

    callers = bench.callers_mix(args.calls + 400, blacklisted, known, random.Random(7))
    lines, path = signed_calls(tmp, connection, callers)

    def run(batch: list[str]) -> float:
        started = time.thread_time()
        for line in batch:
            result = application(environ_for(line, path), start_response)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()
        return (time.thread_time() - started) / len(batch)

    run(lines[:400])  # warm: state loaded, connections open, script loaded
    if args.stages:
        stages()
    timed = lines[400:]
    if args.ab_claim:
        ab_claim(run, timed)
        stand_in.shutdown()
        return
    per_call = sorted(run(timed[i : i + BATCH]) for i in range(0, len(timed), BATCH))
    print(
        f"{len(timed)} calls{' with 100 + 100 rules' if args.rules else ''}, "
        f"thread CPU µs per call over batches of {BATCH}: "
        f"min {per_call[0] * 1e6:.1f}, p25 {per_call[len(per_call) // 4] * 1e6:.1f}, "
        f"median {per_call[len(per_call) // 2] * 1e6:.1f}; load {bench.load()}"
    )
    for label, total in sorted(totals.items(), key=lambda item: -item[1]):
        each = total / len(timed) * 1e6
        print(f"  {label:36s} {each:8.1f} µs/call ({counts[label]} calls)")
    stand_in.shutdown()


if __name__ == "__main__":
    main()
