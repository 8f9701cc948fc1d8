"""Outbound policy check: throughput with a 10,000,000-number Do-Not-Call list.

Compares, in the same run and on the same database:
  * the real check (`voicegate.policy.services.outbound_check`): in-memory copies
    (DNC as sorted `array('q')` + bisect), one cache round trip for versions and the
    harassment counter, one cache increment for an allowed call;
  * a naive check that asks the database every time (DNC entry, consent, caller ID,
    account and its numbers, settings, blacklisted visitor).
It also times loading the list into memory, reports the memory it takes next to a
Python set of strings, and times the streaming CSV importer.

    python bench/outbound_check.py                 # 10M entries, SQLite + file cache
    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/outbound_check.py
    python bench/outbound_check.py --entries 1000000 --checks 5000   # quicker

With no DATABASE_URL the run uses a throw-away SQLite database in a temporary
directory (deleted at the end unless --keep).
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
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OWNED = "+14155550100"
BASE = 12_015_550_000  # +1 201 555 0000: US numbers, spaced out below


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _setup(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
    os.environ["DEBUG"] = "true"
    os.environ["TRUSTCONSOLE_DATA_DIR"] = str(tmp)
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(list_id: int, entries: int, step: int) -> float:
    """Insert `entries` numbers straight into the table (COPY on PostgreSQL)."""
    from django.db import connection, transaction

    from voicegate.policy.models import DncEntry

    table = DncEntry._meta.db_table
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            with cursor.cursor.copy(
                f"COPY {table} (dnc_list_id, number) FROM STDIN"
            ) as copy:
                for start in range(0, entries, 100_000):
                    stop = min(entries, start + 100_000)
                    copy.write(
                        "".join(
                            f"{list_id}\t{BASE + i * step}\n"
                            for i in range(start, stop)
                        )
                    )
            cursor.execute(f"ANALYZE {table}")
    else:
        sql = f"INSERT INTO {table} (dnc_list_id, number) VALUES (%s, %s)"
        batch = 200_000
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, entries, batch):
                stop = min(entries, start + batch)
                cursor.executemany(
                    sql, [(list_id, BASE + i * step) for i in range(start, stop)]
                )
    return time.perf_counter() - started


def _naive_check(org, account_id: str, from_e164: str, to_e164: str) -> list[str]:
    """The same rules, each asked of the database on every call."""
    from django.utils import timezone

    from accounts.models import Account
    from accounts.selectors import account_owned_numbers, account_voice_allowed
    from visitors.models import VisitorIdentifier
    from voicegate.policy.models import (
        ConsentRecord,
        DncEntry,
        PolicySettings,
        VerifiedCallerId,
    )

    found = []
    rules = PolicySettings.objects.get(organisation=org)
    account = Account.objects.get(organisation=org, public_id=account_id)
    digits = int(to_e164[1:])
    if DncEntry.objects.filter(dnc_list__organisation=org, number=digits).exists():
        now = timezone.now()
        consent = ConsentRecord.objects.filter(
            organisation=org, number=to_e164, account__in=[account]
        ).exclude(expires_at__lte=now)
        if not consent.exists():
            found.append("dnc")
    owned = account_owned_numbers(account=account)
    if (
        from_e164 not in owned
        and not VerifiedCallerId.objects.filter(
            organisation=org, account=account, number=from_e164
        ).exists()
    ):
        found.append("caller_id_not_owned")
    allowed, _ = account_voice_allowed(account=account)
    if not allowed:
        found.append("account_restricted")
    if (
        rules.blacklisted_do_not_contact
        and VisitorIdentifier.objects.filter(
            organisation=org,
            kind="phone",
            value=to_e164,
            visitor__status="blacklisted",
        ).exists()
    ):
        found.append("blacklisted_destination")
    return found


def _timed(fn, items) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - started, latencies


def _row(name: str, total: float, latencies: list[float]) -> str:
    count = len(latencies)
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(count * 0.99) - 1] * 1e6
    return f"| {name} | {count / total:,.0f} | {p50:,.1f} | {p99:,.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--import-rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-outbound-"))
    _setup(tmp)
    from django.conf import settings
    from django.db import connection

    from accounts.models import Account, AccountNumber
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.lib.phones import PhoneNumberError, phone_normalise
    from voicegate.policy import keys, memory, services
    from voicegate.policy.check import check_request_parse
    from voicegate.policy.models import DncList

    settings.POLICY_DNC_IMPORT_DIR = tmp / "imports"
    org = Organisation.objects.create(name="Bench", slug=f"bench-{os.getpid()}")
    actor = Actor.system_for(org, "bench")
    account = Account.objects.create(
        organisation=org,
        company_name="Dialer",
        email="ops@dialer.example",
        country="US",
    )
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    services.policy_settings_update(actor=actor, harassment_limit=10**9)
    # A database (hand-kept) list: the array-per-process design this bench measures;
    # national lists are files, measured by bench/dnc_registry.py.
    dnc_list = services.dnc_list_create(actor=actor, name="Own", kind="internal")
    step = 7
    print(
        f"database: {connection.vendor}; cache: {settings.CACHES['default']['BACKEND']}"
    )
    print(f"filling {args.entries:,} DNC entries …", flush=True)
    fill_seconds = _fill(dnc_list.pk, args.entries, step)
    DncList.objects.filter(pk=dnc_list.pk).update(
        entry_count=args.entries, generation=1
    )
    keys.bump(keys.dnc_key(org.pk))

    # --- Loading the list into memory ----------------------------------------------
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    snap = memory.snapshot(org)
    load_seconds = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    index = snap.dnc
    assert index.size == args.entries, index.size

    sample = min(args.entries, 1_000_000)
    gc.collect()
    tracemalloc.start()
    as_set = {f"+{BASE + i * step}" for i in range(sample)}
    set_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del as_set
    set_estimate = set_bytes * args.entries / sample

    # --- Checks ----------------------------------------------------------------------
    rng = random.Random(7)

    def valid(offset: int) -> list[str]:
        """50 valid US numbers at BASE + k*step + offset (offset 0: on the list)."""
        found: list[str] = []
        while len(found) < 50:
            number = f"+{BASE + rng.randrange(args.entries) * step + offset}"
            try:
                found.append(phone_normalise(number))
            except PhoneNumberError:
                continue
        return found

    on_list, off_list = valid(0), valid(3)
    destinations = [rng.choice(off_list) for _ in range(args.checks)]
    account_id = str(account.public_id)

    def fast(to: str) -> None:
        outcome = services.outbound_check(
            actor=actor, from_number=OWNED, to_number=to, account=account_id
        )
        assert outcome.allowed, outcome.answer()

    def naive(to: str) -> None:
        request = check_request_parse(
            from_number=OWNED, to_number=to, account_id=account_id
        )
        found = _naive_check(org, account_id, request.from_e164, request.to_e164)
        assert not found, found

    fast(destinations[0])  # warm the copies
    naive_checks = destinations[: max(1, args.checks // 4)]
    fast_total, fast_lat = _timed(fast, destinations)
    naive_total, naive_lat = _timed(naive, naive_checks)

    digits = [int(d[1:]) for d in (on_list + off_list) * 200]
    mem_total, mem_lat = _timed(index.lists_with, digits)
    from voicegate.policy.models import DncEntry

    def db_lookup(n: int) -> None:
        DncEntry.objects.filter(dnc_list__organisation=org, number=n).exists()

    db_digits = digits[: len(digits) // 4]
    db_total, db_lat = _timed(db_lookup, db_digits)
    assert all(index.lists_with(int(d[1:])) for d in on_list)
    assert not any(index.lists_with(int(d[1:])) for d in off_list)

    # --- Streaming import ---------------------------------------------------------
    import_line = ""
    if args.import_rows:
        path = tmp / "import.csv"
        with path.open("w") as out:
            out.write("number\n")
            out.writelines(f"+1{3015550000 + i}\n" for i in range(args.import_rows))
        target = services.dnc_list_create(actor=actor, name="Imported")
        with path.open("rb") as upload:
            job = services.dnc_import_start(
                actor=actor,
                dnc_list=target,
                upload=upload,
                file_name="import.csv",
                enqueue=False,
            )
        gc.collect()
        rss_before = _rss()
        t0 = time.perf_counter()
        job = services.dnc_import_process(import_id=job.pk)
        import_seconds = time.perf_counter() - t0
        rss_growth = (_rss() - rss_before) / 1e6
        import_line = (
            f"| streaming CSV import of {args.import_rows:,} rows "
            f"({path.stat().st_size / 1e6:.0f} MB file) | {import_seconds:.1f} s = "
            f"{args.import_rows / import_seconds:,.0f} rows/s, RSS +{rss_growth:.1f} "
            f"MB, {job.added:,} added |"
        )

    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"DNC entries: {args.entries:,}; checks: {args.checks:,} (allowed calls)")
    print(f"machine load average at the end (1, 5, 15 min): {load}")
    print()
    print("| check | checks/s | p50 µs | p99 µs |")
    print("|---|---:|---:|---:|")
    print(_row("in-memory copies (the check)", fast_total, fast_lat))
    print(_row("naive: database on every check", naive_total, naive_lat))
    print(_row("DNC lookup alone: array + bisect", mem_total, mem_lat))
    print(_row("DNC lookup alone: database query", db_total, db_lat))
    print()
    print("| memory and loading | value |")
    print("|---|---:|")
    print(f"| DNC array (8 bytes a number) | {index.nbytes / 1e6:,.1f} MB |")
    print(f"| peak Python memory while loading | {traced_peak / 1e6:,.1f} MB |")
    print(
        f"| Python set of E.164 strings (measured on {sample:,}, scaled) | "
        f"{set_estimate / 1e6:,.0f} MB |"
    )
    print(f"| load {args.entries:,} numbers from the database | {load_seconds:.1f} s |")
    print(f"| fill the table (bench setup) | {fill_seconds:.1f} s |")
    if import_line:
        print(import_line)
    print(
        f"\nspeed-up of the check over the naive check: "
        f"{(len(fast_lat) / fast_total) / (len(naive_lat) / naive_total):.1f}×"
    )
    if not args.keep:
        import shutil

        connection.close()
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")


if __name__ == "__main__":
    main()
