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
import statistics
import sys
import tempfile
import time
import uuid
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


def _percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return (
        statistics.median(samples) / 1000,
        samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000,
    )


class Timer:
    """Wall-clock and this thread's CPU time per timed decision (ns); CPU time
    leaves out the time the process waited for a core on a busy machine."""

    def __init__(self) -> None:
        self.wall: list[int] = []
        self.cpu: list[int] = []
        self._at = (0, 0)

    def start(self) -> None:
        self._at = (time.perf_counter_ns(), time.thread_time_ns())

    def stop(self, *, keep: bool) -> None:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        if keep:
            self.wall.append(wall - self._at[0])
            self.cpu.append(cpu - self._at[1])

    def result(self) -> tuple[float, float, float, float]:
        return (*_percentiles(self.wall), *_percentiles(self.cpu))


def time_calls(org_id: int, events: int) -> tuple[float, float, float, float]:
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
        timer.start()
        verdict = gate.decide(state, caller)
        verdict = hooks.inbound_call(state, facts, verdict)
        # The rules reading the count the gate's claim returned ("Repeated calls").
        hooks.inbound_call_count(state, facts, verdict, 1 + n % 4)
        timer.stop(keep=n >= 500)  # warm-up: compile, caches
    return timer.result()


def time_chat(
    org_id: int, events: int, *, trip: bool = False
) -> tuple[float, float, float, float]:
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
        gc.collect()
        gc.freeze()
        rows = []
        for label, org in (
            ("default rule set", plain),
            ("100 live + 100 shadow", ruled),
        ):
            rows.append(("inbound call", label, *time_calls(org.pk, args.events)))
            rows.append(("chat message", label, *time_chat(org.pk, args.events)))
        for label, org in (
            ("default set, + the cache round trip", plain),
            ("100 + 100, + the cache round trip", ruled),
        ):
            rows.append(
                ("chat message", label, *time_chat(org.pk, args.events, trip=True))
            )
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
            ("inbound call", f"+1 rule reading calls_10m ({cache})",
             *time_calls(counted.pk, max(1000, args.events // 10))),
        )  # fmt: skip
        engine.hits_flush()
        print(
            f"{'path':<14} {'rules':<40} {'p50 µs':>9} {'p99 µs':>9} "
            f"{'CPU p50':>9} {'CPU p99':>9}"
        )
        for path, label, p50, p99, cpu50, cpu99 in rows:
            print(
                f"{path:<14} {label:<40} {p50:>9.1f} {p99:>9.1f} "
                f"{cpu50:>9.1f} {cpu99:>9.1f}"
            )
        print(
            f"load average at the end: {os.getloadavg()[0]:.2f}\n"
            "target: decision p99 < 200 µs in process with 100 live + 100 shadow "
            "rules (rows 3 and 4)"
        )


if __name__ == "__main__":
    main()
