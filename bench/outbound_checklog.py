"""Outbound check: the cost of keeping every check in the check log.

Times `voicegate.policy.services.outbound_check` in one run, on one database,
in two cases interleaved round by round so machine load hits them alike, each in
its own organisation with the default rule set (the live "Harassment limit"):
  * the check log recording every check (`checklog.record`, in memory);
  * the same with recording switched off (`checklog.record` a no-op).
For each: checks/s, p50 and p99 in µs, and the database queries per check. The
log is written in bulk between rounds (`checklog.flush`, outside the timed
calls); that write is timed on its own, per 1,000 checks. The timed parts run
with DEBUG off, as in production (setup runs with it on, for its defaults).

    python bench/outbound_checklog.py                 # SQLite + file cache
    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/outbound_checklog.py
    python bench/outbound_checklog.py --checks 2000 --rounds 3   # quicker
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
    # The hit counts and the check log are flushed between rounds.
    os.environ["RULES_HITS_FLUSH_SECONDS"] = "100000"
    os.environ["POLICY_CHECK_LOG_PER_HOUR"] = "100000000"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-checklog-"))
    _setup(tmp)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Account, AccountNumber
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.rules import engine
    from voicegate.policy import checklog, memory, services
    from voicegate.policy.models import OutboundCheck

    orgs = {}
    for name in ("recorded", "unrecorded"):
        org = Organisation.objects.create(name=name, slug=f"bench-{name}")
        actor = Actor.system_for(org, "bench")
        account = Account.objects.create(
            organisation=org, company_name="Dialer", email="ops@dialer.example",
            country="US",
        )  # fmt: skip
        AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
        services.policy_settings_update(actor=actor, harassment_limit=10**9)
        orgs[name] = (actor, str(account.public_id))
    memory.states_clear()
    # As in production: no debug cursor formatting every statement (the
    # queries-per-check count below forces one on its own).
    settings.DEBUG = False

    record = checklog.record

    def run(name: str, count: int) -> list[float]:
        actor, account_id = orgs[name]
        checklog.record = record if name == "recorded" else lambda *a, **kw: None
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
            checklog.record = record
        return latencies

    queries = {}
    for name in orgs:
        run(name, 50)  # warm the copies and the compiled rules
        with CaptureQueriesContext(connection) as captured:
            run(name, 100)
        queries[name] = len(captured.captured_queries) / 100
        engine.hits_flush()
        checklog.flush()
    results: dict[str, list[float]] = {name: [] for name in orgs}
    flushes: list[tuple[int, float]] = []
    for _ in range(args.rounds):
        for name in orgs:
            results[name] += run(name, args.checks // args.rounds)
            engine.hits_flush()
            waiting = checklog.pending()
            t0 = time.perf_counter()
            checklog.flush()
            if waiting:
                flushes.append((waiting, time.perf_counter() - t0))

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
    # `checklog.record` alone, on the last check's outcome (no flush).
    actor, account_id = orgs["recorded"]
    outcome = services.outbound_check(
        actor=actor, from_number=OWNED, to_number=DESTINATIONS[0], account=account_id
    )
    checklog.flush()
    org_pk = actor.organisation.pk
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        for _ in range(1000):
            record(outcome, organisation_id=org_pk)
        times.append((time.perf_counter() - t0) / 1000)
        checklog.reset()
    alone = statistics.median(times) * 1e6
    print(f"\ncheck log record alone: {alone:.2f} µs per check")
    rows = sum(n for n, _ in flushes)
    seconds = sum(s for _, s in flushes)
    print(
        f"\ncheck log rows written: {OutboundCheck.objects.count():,}; bulk write "
        f"{seconds / rows * 1e6 * 1000 / 1000:,.1f} µs per check "
        f"({seconds * 1000:,.0f} ms for {rows:,} rows in {len(flushes)} flushes)"
    )


if __name__ == "__main__":
    main()
