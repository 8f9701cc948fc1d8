"""Outbound check: the cost of recording rule matches in the match log.

Times `voicegate.policy.services.outbound_check` in one run, on one database,
in four cases, interleaved round by round so machine load hits them alike:
  * no outbound rules (the baseline);
  * a live rule that matches no call (no match to record);
  * a shadow rule that matches every call, with the match log recording it;
  * the same shadow rule with recording switched off (`matchlog.record` a no-op),
    the cost of the engine alone.
For each: checks/s, p50 and p99 in µs, and the database queries per check
(the match log writes in bulk with the hit counts, outside the timed calls).

    python bench/outbound_matchlog.py                 # SQLite + file cache
    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/outbound_matchlog.py
    python bench/outbound_matchlog.py --checks 2000 --rounds 3   # quicker
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OWNED = "+14155550100"
DESTINATIONS = [f"+1415555{n:04d}" for n in range(200, 400)]


def _setup(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
    os.environ["DEBUG"] = "true"
    os.environ["TRUSTCONSOLE_DATA_DIR"] = str(tmp)
    os.environ["LOG_LEVEL"] = "WARNING"
    # The hit counts (and the match log with them) are flushed between rounds.
    os.environ["RULES_HITS_FLUSH_SECONDS"] = "100000"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-matchlog-"))
    _setup(tmp)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Account, AccountNumber
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.rules import engine, matchlog
    from trustconsole.rules.models import Rule, RuleMatch
    from trustconsole.rules.services import rule_create, rule_set_mode
    from voicegate.policy import memory, services

    orgs = {}
    for name in ("none", "unmatched", "recorded", "unrecorded"):
        org = Organisation.objects.create(name=name, slug=f"bench-{name}")
        actor = Actor.system_for(org, "bench")
        account = Account.objects.create(
            organisation=org, company_name="Dialer", email="ops@dialer.example",
            country="US",
        )  # fmt: skip
        AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
        services.policy_settings_update(actor=actor, harassment_limit=10**9)
        # The default rule set's outbound rules off: each case adds only its own.
        for rule in Rule.objects.filter(organisation=org, channel="outbound_check"):
            rule_set_mode(actor=actor, rule=rule, mode="off", reason="bench")
        if name == "unmatched":
            rule_create(
                actor=actor, name="Never", channel="outbound_check",
                condition='destination.country == "GB"',
                effect={"refuse": {"code": "uk"}}, mode="live",
            )  # fmt: skip
        elif name in ("recorded", "unrecorded"):
            rule_create(
                actor=actor, name="Always", channel="outbound_check",
                condition='destination.country == "US"',
                effect={"refuse": {"code": "us"}}, mode="shadow",
            )  # fmt: skip
        orgs[name] = (actor, str(account.public_id))
    memory.states_clear()

    record = matchlog.record

    def run(name: str, count: int) -> list[float]:
        actor, account_id = orgs[name]
        matchlog.record = record if name != "unrecorded" else lambda **kw: None
        latencies = []
        try:
            for i in range(count):
                to = DESTINATIONS[i % len(DESTINATIONS)]
                t0 = time.perf_counter()
                outcome = services.outbound_check(
                    actor=actor, from_number=OWNED, to_number=to, account=account_id
                )
                latencies.append(time.perf_counter() - t0)
                assert outcome.allowed, outcome.answer()
        finally:
            matchlog.record = record
        return latencies

    queries = {}
    for name in orgs:
        run(name, 50)  # warm the copies and the compiled rules
        with CaptureQueriesContext(connection) as captured:
            run(name, 100)
        queries[name] = len(captured.captured_queries) / 100
        engine.hits_flush()
    results: dict[str, list[float]] = {name: [] for name in orgs}
    for _ in range(args.rounds):
        for name in orgs:
            results[name] += run(name, args.checks // args.rounds)
            engine.hits_flush()

    print(
        f"database: {connection.vendor}; cache: {settings.CACHES['default']['BACKEND']}"
    )
    print(f"{args.checks:,} checks per case in {args.rounds} interleaved rounds\n")
    print("| case | checks/s | p50 µs | p99 µs | queries per check |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = None
    for name, latencies in results.items():
        ordered = sorted(latencies)
        p50 = statistics.median(ordered) * 1e6
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e6
        rate = len(ordered) / sum(ordered)
        base = base or rate
        print(
            f"| {name} | {rate:,.0f} ({rate / base:.0%}) | {p50:,.1f} | {p99:,.1f} "
            f"| {queries[name]:g} |"
        )
    logged = RuleMatch.objects.filter(channel="outbound_check").count()
    print(f"\nmatch log rows written (capped per rule and hour): {logged:,}")


if __name__ == "__main__":
    main()
