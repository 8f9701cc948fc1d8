"""Global search at a million visitors: what one keystroke of the Ctrl-K box costs.

Loads N visitors (default 1,000,000; the Security → Visitors bench's data, see
bench/visitors_search.py), 5,000 customer accounts and 50,000 call decisions into a
PostgreSQL database, then times `trustconsole.core.search.search` (every group:
visitors, accounts, requests, calls) for typical queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tc_search_bench \\
        python bench/global_search.py [--visitors 1000000] [--runs 40] [--reuse]

It refuses a database whose name does not contain "bench": it truncates tables.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported first: it sets the environment up and calls django.setup().
from bench import visitors_search as vs  # noqa: E402

_ip, _phone, load, out, p95, timed = (
    vs.ip_for,
    vs.phone_for,
    vs.load,
    vs.out,
    vs.p95,
    vs.timed,
)

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Account  # noqa: E402
from trustconsole.core.actor import Actor  # noqa: E402
from trustconsole.core.models import Organisation  # noqa: E402
from trustconsole.core.search import search  # noqa: E402
from visitors.models import Visitor  # noqa: E402
from voicegate.models import CallDecision  # noqa: E402


def load_more(org: Organisation, n: int) -> None:
    Account.objects.filter(organisation=org).delete()
    CallDecision.objects.filter(organisation=org).delete()
    Account.objects.bulk_create(
        [
            Account(
                organisation=org,
                company_name=f"Company {i} Ltd",
                email=f"ops{i}@company{i}.example",
                country="GB",
            )
            for i in range(5000)
        ],
        batch_size=2000,
    )
    rng = random.Random(3)
    CallDecision.objects.bulk_create(
        [
            CallDecision(
                organisation=org,
                provider="generic",
                caller_e164=_phone(5 * rng.randint(1, n // 5 - 1)),
                decision="allow",
                reason="not_listed",
            )
            for _ in range(50_000)
        ],
        batch_size=5000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep loaded data")
    args = parser.parse_args()
    if (
        connection.vendor != "postgresql"
        or "bench" not in connection.settings_dict["NAME"]
    ):
        sys.exit("Point DATABASE_URL at a PostgreSQL database named *bench*.")
    call_command("migrate", verbosity=0)
    org, _ = Organisation.objects.get_or_create(
        slug="bench", defaults={"name": "Bench"}
    )
    actor = Actor.system_for(org, "bench")
    n = args.visitors
    if not (args.reuse and Visitor.objects.count() == n):
        started = time.perf_counter()
        load(org.pk, n)
        load_more(org, n)
        out(f"loaded {n:,} visitors in {time.perf_counter() - started:.0f}s")
    with connection.cursor() as cursor:
        for table in (
            "visitors_visitor",
            "visitors_visitoridentifier",
            "accounts_account",
            "voicegate_calldecision",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")  # fmt: skip
    rng = random.Random(11)

    def name() -> str:
        visitor = Visitor.objects.only("name").get(pk=rng.randint(1, n))
        return visitor.name[: len(visitor.name.split()[0]) + 3]

    def email() -> str:
        vid = rng.randint(1, n)
        return Visitor.objects.get(pk=vid).identifiers.get(kind="email").value[:12]

    def public_id() -> str:
        return str(
            Visitor.objects.only("public_id").get(pk=rng.randint(1, n)).public_id
        )

    cases = {
        "visitor name prefix": name,
        "visitor email prefix": email,
        "visitor phone (also calls, accounts)": lambda: _phone(
            5 * rng.randint(1, n // 5 - 1)
        ),
        "visitor IP": lambda: _ip(5 * rng.randint(1, n // 5 - 1)),
        "visitor profile id": public_id,
        "account name prefix": lambda: f"Company {rng.randint(0, 4999)}",
        "account email prefix": lambda: f"ops{rng.randint(0, 4999)}@",
        "a word that matches nothing": lambda: "zzqx",
    }
    out(f"PostgreSQL; {n:,} visitors, 5,000 accounts, 50,000 calls; one search() call")
    out(f"{'query':40} {'p50':>9} {'p95':>9}")
    worst = 0.0
    for label, make in cases.items():
        inputs = iter([make() for _ in range(args.runs + 1)])
        samples, _ = timed(lambda it=inputs: search(actor=actor, q=next(it)), args.runs)
        worst = max(worst, p95(samples))
        out(f"{label:40} {statistics.median(samples):7.1f}ms {p95(samples):7.1f}ms")
    verdict = "meets" if worst < 150 else "MISSES"
    out(f"worst p95: {worst:.1f} ms ({verdict} the 150 ms target)")


if __name__ == "__main__":
    main()
