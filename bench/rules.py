"""Rules as data on the hot paths: 100 live + 100 shadow rules vs the default set.

Measures, in one run, the in-process decision (decision core + the organisation's
rules, `trustconsole.rules.hooks`) for
  * an inbound call (`voicegate.gate.decide`, `hooks.inbound_call`, then
    `hooks.inbound_call_count` with the count the gate's claim returns), and
  * a chat message (`decide` for the chat channel then `hooks.chat_message`),
each with the default rule set every organisation starts with (on calls "Repeated
calls", reading the gate's own count: no round trip; on chat "Flagged keywords"
and "Message velocity") and with 100 live + 100 shadow rules more, p50/p99 over a
mix of callers and messages, in wall-clock and in the thread's CPU time (which
leaves out waiting for a core on a busy machine). The chat gate reads the decision
core's version and the velocity window's count in one shared-cache round trip
before it decides (`visitors.gate.chat_state`); the chat rows time the decision
after it, and two more rows time it with that round trip included. The rules read
identity, number, STIR/SHAKEN, message-text and local-time facts; a last line adds
one rule that reads a sliding-window count of calls. Shared cache: Redis with
REDIS_URL (as deployed), else the file cache.

Each in-process case runs twice, one after the other, with the garbage collector
as serving processes had it before 2026-12-04 (`defaults`: CPython's thresholds,
nothing frozen) and as they have it now (`serving`: `trustconsole.lib.gctune`,
what the WSGI module and the Celery worker call: the loaded objects frozen, the
young generation's threshold `GC_GEN0_THRESHOLD`). Each row gives p50 / p99 /
p99.9 (wall), the CPU p99, how many collections ran inside timed decisions (and
during the whole loop), the share of the slowest 1 % of decisions during which
the thread was switched out involuntarily (`getrusage`'s `ru_nivcsw`: another
process took the core), and the p99 of the decisions that kept their core. With
Redis, one more pair times the inbound decisions with a round trip between two of
them (not timed), so that the process waits on a socket between decisions as a
server does, instead of running a CPU-bound loop.

    python bench/rules.py                  # 20,000 decisions per case
    python bench/rules.py --events 5000    # quicker

Rules are compiled once (the first decision after a change); the timed loop
never parses a condition.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COUNTRIES = ("US", "GB", "NG", "GH", "IN", "PK", "BR", "DE", "FR", "PH")
CALLERS = (
    "+14155550123", "+442079460000", "+2348012345678", "+233201234567",
    "+919812345678", "+923001234567", "+5511912345678", "+4915112345678",
    "+33612345678", "+639171234567", "anonymous",
)  # fmt: skip
WORDS = ("hello", "order", "refund", "casino", "gift card", "bitcoin", "late")


def setup(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
    os.environ["DEBUG"] = "true"
    os.environ["TRUSTCONSOLE_DATA_DIR"] = str(tmp)
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def call_condition(i: int) -> str:
    country = COUNTRIES[i % len(COUNTRIES)]
    return [
        f'caller.country == "{country}" && call.attestation == "C"',
        f"caller.anonymous && local.hour < {i % 24}",
        f'caller.e164.startsWith("+{200 + i}") || callee.country == "{country}"',
        'call.verstat == "TN-Validation-Failed" && caller.status != "whitelisted"',
        f'caller.country in ["{country}", "XX"] && !caller.valid',
    ][i % 5]


def chat_condition(i: int) -> str:
    word = WORDS[i % len(WORDS)]
    return [
        f'contains_any(message.text, ["{word}{i}", "{word} now"])',
        f"visitor.trust_score < {10 + i % 50} && message.length > {i % 40}",
        f'visitor.email_domain == "spam{i}.example" || visitor.phone_country == "NG"',
        f'matches_re(message.text, "\\\\b{word}\\\\s+{i}\\\\b")',
        f'local.weekday == {1 + i % 7} && visitor.status == "flagged"',
    ][i % 5]


def seed_rules(org: Any, channel: str, condition: Any, effect: dict) -> None:
    from trustconsole.core.actor import Actor
    from trustconsole.rules.services import rule_create

    actor = Actor.system_for(org, "bench")
    for i in range(200):
        rule_create(
            actor=actor,
            name=f"{channel} {i}",
            channel=channel,
            condition=condition(i),
            effect=effect,
            mode="live" if i < 100 else "shadow",
            order=i,
        )


def _at(samples: list[int], share: float) -> float:
    """The `share` quantile of sorted ns samples, in µs (0.0 when empty)."""
    if not samples:
        return 0.0
    return samples[min(len(samples) - 1, int(len(samples) * share))] / 1000


class _Collections:
    """Counts the cyclic collector's runs (`gc.callbacks`), by generation."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.runs[info["generation"]] += 1

    def total(self) -> int:
        return sum(self.runs)


COLLECTIONS = _Collections()


@dataclass
class Result:
    """What one timed loop showed (µs, and counts over its timed decisions)."""

    p50: float
    p99: float
    p999: float
    cpu50: float
    cpu99: float
    gc_timed: int  # collections that ran inside a timed decision
    gc_loop: int  # collections during the whole loop (inside the decisions or not)
    full_timed: int  # of gc_timed, full (generation 2) collections
    preempted: float  # share of the slowest 1 % with an involuntary context switch
    p99_kept_core: float  # p99 of the decisions with no involuntary switch

    def __iter__(self):  # p50, p99, CPU p50, CPU p99: what callers unpacked before
        return iter((self.p50, self.p99, self.cpu50, self.cpu99))


class Timer:
    """Wall-clock and this thread's CPU time per timed decision (ns); CPU time
    leaves out the time the process waited for a core on a busy machine. Also per
    decision: whether a garbage collection ran inside it (`gc.callbacks`) and
    whether the thread was switched out involuntarily around it (`getrusage`'s
    `ru_nivcsw`, read just outside the timed span)."""

    def __init__(self) -> None:
        self.wall: list[int] = []
        self.cpu: list[int] = []
        self.switched: list[bool] = []
        self.gc_timed = self.full_timed = 0
        self._at = (0, 0)
        self._gc = (0, 0)
        self._switches = 0
        self._loop_gc = COLLECTIONS.total()

    def start(self) -> None:
        self._switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        self._gc = (COLLECTIONS.total(), COLLECTIONS.runs[2])
        self._at = (time.perf_counter_ns(), time.thread_time_ns())

    def stop(self, *, keep: bool) -> None:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        runs, full = COLLECTIONS.total(), COLLECTIONS.runs[2]
        switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        if not keep:
            self._loop_gc = runs
            return
        self.wall.append(wall - self._at[0])
        self.cpu.append(cpu - self._at[1])
        self.switched.append(switches != self._switches)
        self.gc_timed += runs - self._gc[0]
        self.full_timed += full - self._gc[1]

    def result(self) -> Result:
        order = sorted(range(len(self.wall)), key=self.wall.__getitem__)
        wall = [self.wall[i] for i in order]
        slowest = order[int(len(order) * 0.99) :]
        kept = [self.wall[i] for i in order if not self.switched[i]]
        cpu = sorted(self.cpu)
        return Result(
            p50=statistics.median(wall) / 1000,
            p99=_at(wall, 0.99),
            p999=_at(wall, 0.999),
            cpu50=statistics.median(cpu) / 1000,
            cpu99=_at(cpu, 0.99),
            gc_timed=self.gc_timed,
            gc_loop=COLLECTIONS.total() - self._loop_gc,
            full_timed=self.full_timed,
            preempted=sum(self.switched[i] for i in slowest) / max(1, len(slowest)),
            p99_kept_core=_at(kept, 0.99),
        )


MODES = ("defaults", "serving")


def collector(mode: str) -> None:
    """Set this process's garbage collector as a serving process had it before
    (`defaults`: CPython's thresholds, nothing frozen) or has it now (`serving`:
    `trustconsole.lib.gctune.serving_process`, as the WSGI module calls it)."""
    from trustconsole.lib import gctune

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    gc.collect()
    if mode == "serving":
        gctune.serving_process()


def _ping() -> None:
    """One shared-cache round trip: between two timed decisions the process waits
    on a socket, as a serving process does for its next request."""
    from trustconsole.lib import sharedcache

    client = sharedcache.redis_client()
    if client is not None:
        client.ping()


def time_calls(org_id: int, events: int, *, idle: bool = False) -> Result:
    """Inbound calls' decisions, back to back (a CPU-bound loop) or, with `idle`,
    with one shared-cache round trip between two of them (not timed)."""
    from trustconsole.policy import state as core_state
    from trustconsole.rules import hooks
    from voicegate import gate

    rng = random.Random(7)
    state = core_state.current(org_id)
    timer = Timer()
    for n in range(events + 500):
        caller = rng.choice(CALLERS)
        facts = gate.CallFacts(
            org_id, None, "telnyx_call_control", uuid.uuid4().hex, "c", caller,
            "+14155550100", attestation=rng.choice("ABC"), verstat="",
        )  # fmt: skip
        if idle:
            _ping()
        timer.start()
        verdict = gate.decide(state, caller)
        verdict = hooks.inbound_call(state, facts, verdict)
        # The rules reading the count the gate's claim returned ("Repeated calls").
        hooks.inbound_call_count(state, facts, verdict, 1 + n % 4)
        timer.stop(keep=n >= 500)  # warm-up: compile, caches
    return timer.result()


def time_chat(org_id: int, events: int, *, trip: bool = False) -> Result:
    """The chat gate's decision: the core and the rules, given the state and the
    velocity count that the gate reads in its one shared-cache round trip before
    (`visitors.gate.chat_state`); with `trip`, that round trip timed too."""
    from trustconsole.core.models import Organisation
    from trustconsole.policy import decide as core
    from trustconsole.policy.vocabulary import Channel
    from trustconsole.rules import hooks
    from visitors.gate import chat_state

    org = Organisation.objects.get(pk=org_id)
    rng = random.Random(7)
    visitor = SimpleNamespace(
        pk=None, public_id=uuid.uuid4(), status="none", trust_score=80,
        display_name="Bench visitor",
    )  # fmt: skip
    timer = Timer()
    for n in range(events + 500):
        text = " ".join(rng.choice(WORDS) for _ in range(8))
        pairs = [("widget", f"w-{n % 500}"), ("email", f"v{n % 500}@mail.example")]
        if trip:
            timer.start()
        state, recent = chat_state(org, pairs[0][1])
        if not trip:
            timer.start()
        ids = core.Identities(widget_ids=(pairs[0][1],), emails=(pairs[1][1],))
        verdict = core.decide(state, Channel.CHAT, ids)
        hooks.chat_message(
            organisation_id=org_id, verdict=verdict, visitor=visitor, body=text,
            widget="bench", pairs=pairs, messages_recent=recent,
        )  # fmt: skip
        timer.stop(keep=n >= 500)
    return timer.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        setup(Path(tmp))
        from django.conf import settings

        from trustconsole.core.models import Organisation
        from trustconsole.rules import engine

        settings.RULES_HITS_FLUSH_SECONDS = 3600  # the flush is not the decision
        settings.RULES_TIME_BUDGET_US = 1_000_000  # nothing is turned off mid-run
        plain = Organisation.objects.create(name="Default rules", slug="plain")
        ruled = Organisation.objects.create(name="200 rules", slug="ruled")
        seed_rules(ruled, "inbound_call", call_condition, {"reject": True})
        seed_rules(ruled, "chat_message", chat_condition, {"block": True})
        rows: list[tuple[str, str, str, Result]] = []
        for label, org in (
            ("default rule set", plain),
            ("100 live + 100 shadow", ruled),
        ):
            for path, run in (
                ("inbound call", time_calls),
                ("chat message", time_chat),
            ):
                for mode in MODES:  # before and after, one after the other
                    collector(mode)
                    rows.append((path, label, mode, run(org.pk, args.events)))
        collector("serving")
        if settings.REDIS_URL:
            for mode in MODES:
                collector(mode)
                rows.append(
                    ("inbound call", "100 + 100, a round trip between calls", mode,
                     time_calls(ruled.pk, args.events, idle=True)),
                )  # fmt: skip
        collector("serving")
        for label, org in (
            ("default set, + the cache round trip", plain),
            ("100 + 100, + the cache round trip", ruled),
        ):
            rows.append(
                ("chat message", label, "serving",
                 time_chat(org.pk, args.events, trip=True)),
            )  # fmt: skip
        counted = Organisation.objects.create(name="Counted", slug="counted")
        seed_rules(counted, "inbound_call", call_condition, {"reject": True})
        from trustconsole.core.actor import Actor
        from trustconsole.rules.services import rule_create

        rule_create(
            actor=Actor.system_for(counted, "bench"), name="velocity",
            channel="inbound_call", condition="caller.calls_10m > 20",
            effect={"reject": True}, mode="shadow",
        )  # fmt: skip
        cache = "Redis" if settings.REDIS_URL else "file cache"
        rows.append(
            ("inbound call", f"+1 rule reading calls_10m ({cache})", "serving",
             time_calls(counted.pk, max(1000, args.events // 10))),
        )  # fmt: skip
        engine.hits_flush()
        print(
            f"{'path':<13} {'rules':<39} {'gc':<8} {'p50':>6} {'p99':>8} "
            f"{'p99.9':>8} {'CPU p99':>8} {'switched':>8} {'p99 kept':>8} "
            f"{'gc in/loop':>10}"
        )
        for path, label, mode, r in rows:
            print(
                f"{path:<13} {label:<39} {mode:<8} {r.p50:>6.1f} {r.p99:>8.1f} "
                f"{r.p999:>8.1f} {r.cpu99:>8.1f} {r.preempted:>8.0%} "
                f"{r.p99_kept_core:>8.1f} {f'{r.gc_timed}/{r.gc_loop}':>10}"
                + (f" ({r.full_timed} full)" if r.full_timed else "")
            )
        print(
            f"load average at the end: {os.getloadavg()[0]:.2f}\n"
            "µs. gc: defaults = CPython's thresholds, nothing frozen (serving "
            "processes before 2026-12-04); serving = trustconsole.lib.gctune "
            "(loaded objects frozen, GC_GEN0_THRESHOLD). switched: share of the "
            "slowest 1 % during which the thread was switched out involuntarily; "
            "p99 kept: p99 of the decisions that kept their core; gc in/loop: "
            "collections inside timed decisions / during the loop.\n"
            "target: decision p99 < 200 µs in process with 100 live + 100 shadow "
            "rules (the 100 live + 100 shadow rows)"
        )


if __name__ == "__main__":
    main()
