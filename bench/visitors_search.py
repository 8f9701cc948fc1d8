"""Security → Visitors at a million visitors: indexed page queries vs a naive baseline.

Loads N visitors (default 1,000,000) with ~3 identifiers each into a PostgreSQL
database, then times what the Visitors page runs for one request (identifier
lookup, capped count, the first page of 50 rows, the identifiers of those rows):

    search by email, by phone, by name prefix, by IP;
    filter by status; filter by score range sorted by score; the default list.

The baseline is the same data and the very same ORM queries in a second schema
(`naive`, selected with search_path) with the indexes a competent first version
has: primary keys, an index on each foreign key and unique field (what Django
creates) and the identifiers' unique (organisation, kind, value) constraint —
but none of the composite indexes the Visitors page was given (name prefix,
status / score / last seen ordered by recency).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tc_visitors_bench \\
        python bench/visitors_search.py [--visitors 1000000] [--runs 40] [--reuse]

It refuses a database whose name does not contain "bench": it truncates tables.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
# Production settings (no query log); the key only satisfies the settings check.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
# A fresh Fernet key (url-safe base64 of 32 random bytes): nothing stored needs it.
os.environ.setdefault(
    "ENCRYPTION_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode()
)

import django  # noqa: E402


def _ensure_database() -> None:
    """Create the bench database on first use (connecting to `postgres`)."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(os.environ.get("DATABASE_URL", ""))
    if "postgresql" not in config.get("ENGINE", ""):
        return
    params = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as conn:
        name = config["NAME"]
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not found and "bench" in name:
            conn.execute(f'CREATE DATABASE "{name}"')


_ensure_database()
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import prefetch_related_objects  # noqa: E402

from trustconsole.core.actor import Actor  # noqa: E402
from trustconsole.core.models import Organisation  # noqa: E402
from visitors.choices import band_for  # noqa: E402
from visitors.selectors import phone_status_map, visitor_list  # noqa: E402
from visitors.views import CappedPaginator  # noqa: E402

FIRST = (  # noqa: SIM905
    "amelia olivia isla ava mia ivy lily isabella rosie sophia grace freya "
    "willow florence emily ella poppy evie elsie charlotte evelyn sienna sofia "
    "daisy phoebe sophie alice harper matilda ruby emilia maya millie mila "
    "noah oliver george arthur muhammad leo harry oscar archie henry theodore "
    "freddie jack charlie theo alfie jacob thomas finley arlo william lucas "
    "tommy isaac teddy james max ethan mohammed elijah joshua priya kenji "
    "yusuf mateo zara hannah aisha omar lena felix nina hugo chloe"
).split()
SYLLABLES = (  # noqa: SIM905
    "ab al an ar ba be bo br ca ch co da de di el en er fa fe fi ga ge go ha he "
    "hi ja jo ka ke ki la le li lo ma me mi mo na ne ni no pa pe pi ra re ri ro "
    "sa se si so ta te ti to va ve vi wa we wi ya yo za ze"
).split()
DOMAINS = ["mail.example", "post.example", "inbox.example", "corp.example"]


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).title()


def load(org_id: int, n: int, seed: int = 7) -> None:
    """COPY n visitors and their identifiers into the (truncated) tables."""
    rng = random.Random(seed)
    surnames = [surname(rng) for _ in range(5000)]
    now = time.time()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE visitors_visitoridentifier, visitors_visitor RESTART IDENTITY "
            "CASCADE"
        )
        raw = cursor.cursor
        visitor_cols = (
            "id, public_id, organisation_id, name, name_search, status, status_reason,"
            " trust_score, band, blocked_attempts, created_at, last_seen_at"
        )
        ident_cols = "organisation_id, visitor_id, kind, value, created_at"
        idents: list[tuple] = []
        with raw.copy(f"COPY visitors_visitor ({visitor_cols}) FROM STDIN") as copy:
            for vid in range(1, n + 1):
                first = rng.choice(FIRST).title()
                name = f"{first} {rng.choice(surnames)}"
                roll = rng.random()
                if roll < 0.003:
                    status, score = "blacklisted", rng.randint(0, 30)
                elif roll < 0.005:
                    status, score = "whitelisted", rng.randint(0, 100)
                elif roll < 0.015:
                    status, score = "flagged", rng.randint(0, 30)
                else:
                    status = "none"
                    score = 100 if rng.random() < 0.7 else rng.randint(31, 99)
                seen = now - rng.random() * 365 * 86400
                copy.write_row(
                    (
                        vid, uuid.UUID(int=rng.getrandbits(128), version=4), org_id,
                        name, name.lower(), status, "", score, band_for(score),
                        0, _ts(seen - 86400), _ts(seen),
                    )
                )  # fmt: skip
                created = _ts(seen - 86400)
                idents.append(
                    (org_id, vid, "email", f"{name.lower().replace(' ', '.')}.{vid}"
                     f"@{DOMAINS[vid % 4]}", created)
                )  # fmt: skip
                idents.append((org_id, vid, "widget", f"wv-{vid}", created))
                if vid % 5 < 2:
                    idents.append((org_id, vid, "phone", phone_for(vid), created))
                if vid % 5 < 3:
                    idents.append((org_id, vid, "ip", ip_for(vid), created))
        with raw.copy(
            f"COPY visitors_visitoridentifier ({ident_cols}) FROM STDIN"
        ) as copy:
            for row in idents:
                copy.write_row(row)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('visitors_visitor', 'id'), %s)", [n]
        )


def _ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def phone_for(vid: int) -> str:
    """The phone number of generated visitor `vid`."""
    return f"+447{vid:09d}"


def ip_for(vid: int) -> str:
    """The IP address of generated visitor `vid`."""
    return f"10.{(vid >> 16) & 255}.{(vid >> 8) & 255}.{vid & 255}"


ORDINARY_INDEXES = (
    "ALTER TABLE naive.visitors_visitor ADD PRIMARY KEY (id)",
    "CREATE INDEX ON naive.visitors_visitor (organisation_id)",
    "CREATE UNIQUE INDEX ON naive.visitors_visitor (public_id)",
    "ALTER TABLE naive.visitors_visitoridentifier ADD PRIMARY KEY (id)",
    "CREATE INDEX ON naive.visitors_visitoridentifier (organisation_id)",
    "CREATE INDEX ON naive.visitors_visitoridentifier (visitor_id)",
    "CREATE UNIQUE INDEX ON naive.visitors_visitoridentifier "
    "(organisation_id, kind, value)",
)


def make_naive() -> None:
    """Copies of the two tables in schema `naive` with ordinary indexes only."""
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS naive CASCADE")
        cursor.execute("CREATE SCHEMA naive")
        for table in ("visitors_visitor", "visitors_visitoridentifier"):
            cursor.execute(f"CREATE TABLE naive.{table} AS TABLE public.{table}")
        for statement in ORDINARY_INDEXES:
            cursor.execute(statement)
        for table in ("visitors_visitor", "visitors_visitoridentifier"):
            cursor.execute(f"ANALYZE naive.{table}")


def page_request(actor: Actor, filters: dict) -> int:
    """What the Visitors view does for one request; returns the rows shown."""
    page = CappedPaginator(visitor_list(actor=actor, **filters), 50).get_page(1)
    rows = list(page.object_list)
    prefetch_related_objects(rows, "identifiers")
    return page.paginator.count + len(rows)


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], object]:
    fn()  # warm the plan cache and the buffers once
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def scenarios(n: int, rng: random.Random) -> dict[str, Callable[[], dict]]:
    def some_email() -> dict:
        with connection.cursor() as c:
            c.execute(
                "SELECT value FROM visitors_visitoridentifier WHERE kind='email' "
                "AND visitor_id=%s",
                [rng.randint(1, n)],
            )
            return {"q": c.fetchone()[0].upper()}

    def some_phone() -> dict:
        vid = 5 * rng.randint(1, n // 5 - 1) + rng.choice([0, 1])  # has a phone
        e164 = phone_for(vid)
        return {"q": f"{e164[:3]} {e164[3:7]} {e164[7:]}"}

    def some_name() -> dict:
        with connection.cursor() as c:
            c.execute(
                "SELECT name FROM visitors_visitor WHERE id=%s", [rng.randint(1, n)]
            )
            name = c.fetchone()[0]
        return {"q": name[: len(name.split()[0]) + 3]}

    def some_ip() -> dict:
        vid = 5 * rng.randint(1, n // 5 - 1) + rng.choice([0, 1, 2])  # has an IP
        return {"q": ip_for(vid)}

    def status() -> dict:
        return {"status": rng.choice(["blacklisted", "flagged", "whitelisted"])}

    def score_range() -> dict:
        low = rng.randint(0, 60)
        return {"score_min": low, "score_max": low + 20, "sort": "score"}

    return {
        "search by email": some_email,
        "search by phone": some_phone,
        "search by name prefix": some_name,
        "search by IP": some_ip,
        "filter by status": status,
        "filter by score range, sort by score": score_range,
        "default list (last seen)": dict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--baseline-runs", type=int, default=8)
    parser.add_argument("--reuse", action="store_true", help="keep loaded data")
    args = parser.parse_args()
    settings_db = connection.settings_dict
    if connection.vendor != "postgresql" or "bench" not in settings_db["NAME"]:
        sys.exit("Point DATABASE_URL at a PostgreSQL database named *bench*.")
    call_command("migrate", verbosity=0)
    org, _ = Organisation.objects.get_or_create(
        slug="bench", defaults={"name": "Bench"}
    )
    actor = Actor.system_for(org, "bench")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM visitors_visitor")
        have = cursor.fetchone()[0]
    if not (args.reuse and have == args.visitors):
        started = time.perf_counter()
        load(org.pk, args.visitors)
        make_naive()
        out(
            f"loaded {args.visitors:,} visitors in {time.perf_counter() - started:.0f}s"
        )
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: statistics and the visibility map
        # (which index-only scans need).
        cursor.execute("VACUUM ANALYZE visitors_visitor")
        cursor.execute("VACUUM ANALYZE visitors_visitoridentifier")
        cursor.execute("SELECT count(*) FROM visitors_visitoridentifier")
        idents = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    out(f"PostgreSQL {version}; {args.visitors:,} visitors, {idents:,} identifiers")
    out(f"one Visitors page request = identifier lookup + count (capped at "
        f"{CappedPaginator.cap:,}) + 50 rows + their identifiers")  # fmt: skip
    out()
    header = (
        f"{'query':40} {'indexed p50':>12} {'p95':>8} {'ordinary p50':>10} {'p95':>9}"
    )
    out(header + "   speed-up (p95)")
    out("-" * (len(header) + 17))
    worst = 0.0
    for label, make in scenarios(args.visitors, random.Random(11)).items():
        inputs = [make() for _ in range(args.runs + 1)]
        it = iter(inputs)
        fast, _ = timed(lambda it=it: page_request(actor, next(it)), args.runs)
        it = iter(inputs)
        with connection.cursor() as cursor:
            cursor.execute("SET search_path TO naive, public")
        try:
            slow, _ = timed(
                lambda it=it: page_request(actor, next(it)), args.baseline_runs
            )
            # The same inputs give the same answers on both schemas.
            same = page_request(actor, inputs[1])
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET search_path TO public")
        assert same == page_request(actor, inputs[1]), label
        worst = max(worst, p95(fast))
        out(
            f"{label:40} {statistics.median(fast):10.1f}ms {p95(fast):6.1f}ms "
            f"{statistics.median(slow):8.0f}ms {p95(slow):7.0f}ms   "
            f"{p95(slow) / p95(fast):8.0f}x"
        )
    # The call gate's phone map: one query over blacklisted/whitelisted visitors.
    fast, size = timed(lambda: phone_status_map(organisation_id=org.pk), args.runs)
    with connection.cursor() as cursor:
        cursor.execute("SET search_path TO naive, public")
    try:
        slow, _ = timed(
            lambda: phone_status_map(organisation_id=org.pk), args.baseline_runs
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET search_path TO public")
    label = f"phone_status_map ({len(size):,} numbers)"
    out(
        f"{label:40} {statistics.median(fast):10.1f}ms {p95(fast):6.1f}ms "
        f"{statistics.median(slow):8.0f}ms {p95(slow):7.0f}ms   "
        f"{p95(slow) / p95(fast):8.0f}x"
    )
    out()
    verdict = "meets" if worst < 150 else "MISSES"
    out(f"worst indexed p95: {worst:.1f} ms ({verdict} the 150 ms target)")


if __name__ == "__main__":
    main()
