"""Call log retention: batched prune against one DELETE of the same rows.

Fills `CallDecision` with `--rows` rows older than the retention (spread over the
30 days before the cutoff, in two organisations) plus a tenth as many recent ones,
then deletes the old ones in one of two ways, interleaved round by round so machine
load hits them alike:
  * batched: `voicegate.retention.prune` (batches of `--batch` keys, each its own
    transaction);
  * single: one `DELETE … WHERE created_at < cutoff` in one transaction (what
    `checklog.prune` and `matchlog.prune` do), the baseline.
For each: rows deleted per second, and the longest transaction (the time row locks
are held and vacuum is held back). On PostgreSQL it prints the plan of the batch's
key selection (it must walk the (organisation, created_at) index).

    python bench/retention.py                                   # SQLite
    DATABASE_URL=postgres://… python bench/retention.py --rows 50000 --rounds 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
    os.environ["DEBUG"] = "true"
    os.environ["TRUSTCONSOLE_DATA_DIR"] = str(tmp)
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(orgs: list, rows: int, cutoff: dt.datetime) -> None:
    """`rows` old decisions and a tenth as many recent ones."""
    from voicegate.choices import Decision, Provider, Reason
    from voicegate.models import CallDecision

    def make(n: int, at: dt.datetime) -> CallDecision:
        return CallDecision(
            organisation=orgs[n % len(orgs)],
            provider=Provider.GENERIC,
            caller=f"+1202555{n % 10_000:04d}",
            caller_e164=f"+1202555{n % 10_000:04d}",
            decision=Decision.ALLOW,
            reason=Reason.NOT_LISTED,
            created_at=at,
        )

    span = 30 * 86400 / max(rows, 1)
    old = [make(n, cutoff - dt.timedelta(seconds=1 + n * span)) for n in range(rows)]
    recent = [make(n, cutoff + dt.timedelta(days=1)) for n in range(rows // 10)]
    times = [row.created_at for row in old]
    created = CallDecision.objects.bulk_create(old + recent, batch_size=2000)
    # auto_now_add stamped them now: give the old ones their times back.
    for row, at in zip(created, times, strict=False):
        row.created_at = at
    CallDecision.objects.bulk_update(created[:rows], ["created_at"], batch_size=500)


def _plan(org_id: int, cutoff: dt.datetime, batch: int) -> str:
    from django.db import connection

    from voicegate.models import CallDecision

    rows = CallDecision.objects.filter(organisation_id=org_id, created_at__lt=cutoff)
    query = rows.order_by("created_at").values_list("pk", "created_at")[:batch]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE voicegate_calldecision")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(f"    {line}" for (line,) in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    _setup(tmp)
    from django.db import connection, transaction
    from django.utils import timezone

    from tests.core.factories import OrganisationFactory
    from voicegate import retention
    from voicegate.models import CallDecision

    print(f"load average at start: {os.getloadavg()}")
    orgs = [OrganisationFactory(slug=f"bench-ret-{n}-{time.time_ns()}") for n in "ab"]
    now = timezone.now()
    cutoff = now - dt.timedelta(days=retention.CALLS.keep_days())
    timings: dict[str, list[tuple[int, float, float]]] = {"batched": [], "single": []}
    original = retention._batch
    batches: list[float] = []

    def timed(*a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            batches.append(time.perf_counter() - started)

    for _ in range(args.rounds):
        for case in ("batched", "single"):
            CallDecision.objects.filter(organisation__in=orgs).delete()
            _fill(orgs, args.rows, cutoff)
            batches.clear()
            t0 = time.perf_counter()
            if case == "batched":
                retention._batch = timed  # type: ignore[assignment]
                try:
                    gone = sum(
                        retention.prune(
                            retention.CALLS, now=now, batch=args.batch
                        ).values()
                    )
                finally:
                    retention._batch = original
                longest = max(batches)
            else:
                with transaction.atomic():
                    gone, _ = CallDecision.objects.filter(
                        organisation__in=orgs, created_at__lt=cutoff
                    ).delete()
                longest = time.perf_counter() - t0
            timings[case].append((gone, time.perf_counter() - t0, longest))

    print(
        f"database: {connection.vendor}; {args.rows:,} old rows "
        f"(+{args.rows // 10:,} recent) per round, batch {args.batch:,}, "
        f"{args.rounds} interleaved rounds\n"
    )
    print("| case | rows deleted/s | total s | longest transaction ms |")
    print("| --- | ---: | ---: | ---: |")
    for case, runs in timings.items():
        rows = sum(g for g, _, _ in runs)
        seconds = sum(s for _, s, _ in runs)
        longest = max(m for _, _, m in runs)
        print(
            f"| {case} | {rows / seconds:,.0f} | {seconds:.2f} "
            f"| {longest * 1000:,.1f} |"
        )
    if connection.vendor == "postgresql":
        _fill(orgs, args.rows, cutoff)
        print("\nplan of a batch's key selection:")
        print(_plan(orgs[0].pk, cutoff, args.batch))
        CallDecision.objects.filter(organisation__in=orgs).delete()
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
