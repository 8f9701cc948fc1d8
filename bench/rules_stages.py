"""Where an in-process rules decision spends its time, stage by stage.

Runs the decisions of `bench/rules.py` (the 100 live + 100 shadow rules, or the
default rule set with --plain) with the engine's stages wrapped in this thread's
CPU clock, and prints each stage's calls and p50 / p90 / p99 in µs. The wrappers
cost about a microsecond each, so read the shares and the differences, not the
sums.

    python bench/rules_stages.py call          # inbound calls
    python bench/rules_stages.py chat --plain  # chat, default rule set
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rules as bench  # noqa: E402 - bench/rules.py, next to this file

STAGES = {
    "voicegate.gate": ("decide",),
    "trustconsole.policy.decide": ("decide",),
    "trustconsole.rules.engine": ("rule_set", "evaluate", "_fast", "_run",
                                  "_context_reused", "_one_by_one"),
    "trustconsole.rules.facts": ("build",),
    "trustconsole.rules.twins": ("run",),
    "trustconsole.rules.hooks": ("inbound_call", "inbound_call_count",
                                 "chat_message", "chat_matches_record"),
    "trustconsole.rules.hitcounts": ("count_hits",),
}  # fmt: skip


def _wrap(owner: Any, name: str, label: str, took: dict[str, list[int]]) -> None:
    real = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return real(*args, **kwargs)
        finally:
            took.setdefault(label, []).append(time.thread_time_ns() - started)

    setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=("call", "chat"))
    parser.add_argument("--plain", action="store_true", help="default rule set")
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        bench.setup(Path(tmp))
        import importlib

        from django.conf import settings

        from trustconsole.core.models import Organisation
        from trustconsole.rules import pins

        settings.RULES_HITS_FLUSH_SECONDS = 3600
        settings.RULES_TIME_BUDGET_US = 1_000_000
        org = Organisation.objects.create(name="Bench", slug="bench")
        if not args.plain:
            bench.seed_rules(
                org, "inbound_call", bench.call_condition, {"reject": True}
            )
            bench.seed_rules(org, "chat_message", bench.chat_condition, {"block": True})
        bench.collector("serving")  # as a serving process: trustconsole.lib.gctune
        run = bench.time_calls if args.path == "call" else bench.time_chat
        run(org.pk, 2000)  # compiled, caches warm
        took: dict[str, list[int]] = {}
        for module, names in STAGES.items():
            owner = importlib.import_module(module)
            for name in names:
                _wrap(owner, name, f"{module.rsplit('.', 1)[1]}.{name}", took)
        _wrap(pins.PinIndex, "candidates", "pins.candidates", took)
        r = run(org.pk, args.events)
        print(
            f"whole decision: p50 {r.p50:.1f} p99 {r.p99:.1f} p99.9 {r.p999:.1f} µs "
            f"(CPU {r.cpu50:.1f} / {r.cpu99:.1f}); collections inside decisions "
            f"{r.gc_timed}, slowest 1 % switched out {r.preempted:.0%}"
        )
        for label, samples in took.items():
            samples.sort()
            n = len(samples)
            print(
                f"{label:<28} {n:>6} p50 {samples[n // 2] / 1000:7.1f} "
                f"p90 {samples[int(n * 0.9)] / 1000:7.1f} "
                f"p99 {samples[int(n * 0.99)] / 1000:7.1f}"
            )


if __name__ == "__main__":
    main()
