"""Benchmark: a 2,000-number remediation batch, and one poller tick over 10,000.

    python bench/remediation.py [--runs 15]
    DATABASE_URL=postgres://… python bench/remediation.py

Creates a scratch database (Django's test database for the configured one),
migrates it, measures, and drops it again. Each case runs against a naive baseline
in the same run:

* submit — `services.remediation_submit` with 2,000 owned numbers: validation,
  ownership, in-flight and cooldown checks, the request row, 2,000 number rows and
  the audit entry, in one transaction (the Celery enqueue after commit is replaced
  by a no-op). Baseline: what a competent first version does — parse and validate
  each number with phonenumbers, one batched ownership query and one batched
  in-flight query (`e164 IN (…)`), the request row, one `bulk_create` of the
  number rows.
* tick — `poller.tick` with 10,000 in-flight requests of which 2,000 are due:
  claims the first 200 due ones (REMEDIATION_TICK_BATCH). Baseline: one query for
  the 200 oldest due, unclaimed requests (`SELECT … FOR UPDATE SKIP LOCKED` where
  the database has it, on the model's ordinary indexes) and one UPDATE claiming
  them by id.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("TRUSTCONSOLE_DATA_DIR", "var/bench")

import django  # noqa: E402

django.setup()

import phonenumbers  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from remediation import poller, services, tasks  # noqa: E402
from remediation.choices import IN_FLIGHT_STATUSES, GateStatus  # noqa: E402
from remediation.models import (  # noqa: E402
    Enterprise,
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
)
from trustconsole.core.actor import Actor  # noqa: E402
from trustconsole.core.models import Organisation  # noqa: E402

BATCH = 2000
IN_FLIGHT = 10_000
DUE = 2_000
TICK_BATCH = 200


def median_ms(fn: Callable[[], object], reset: Callable[[], None], runs: int) -> float:
    timings = []
    for _ in range(runs):
        reset()
        start = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def setup_enterprise() -> tuple[Actor, Enterprise, list[str]]:
    org = Organisation.objects.create(name="Bench", slug="bench")
    enterprise = Enterprise.objects.create(
        organisation=org,
        name="Bench Enterprise",
        reputation_status=GateStatus.APPROVED,
        loa_status=GateStatus.APPROVED,
        terms_accepted_at=timezone.now(),
    )
    numbers = [f"+1202{5550000 + i:07d}" for i in range(BATCH)]
    # Owned numbers beyond the batch, so lookups are not against a tiny table.
    extra = [f"+1312{5550000 + i:07d}" for i in range(20_000)]
    OwnedNumber.objects.bulk_create(
        [
            OwnedNumber(
                organisation=org, enterprise=enterprise, e164=n, spam_risk="high"
            )
            for n in numbers + extra
        ],
        batch_size=2000,
    )
    return Actor(organisation=org, role="admin", system="bench"), enterprise, numbers


def free_numbers() -> None:
    RemediationNumber.objects.filter(in_flight=True).update(in_flight=False)


def naive_submit(actor: Actor, enterprise: Enterprise, numbers: list[str]) -> None:
    with transaction.atomic():
        for number in numbers:
            parsed = phonenumbers.parse(number, None)
            if not phonenumbers.is_valid_number(parsed):
                raise ValueError(number)
        owned = set(
            OwnedNumber.objects.filter(
                enterprise=enterprise, e164__in=numbers
            ).values_list("e164", flat=True)
        )
        if len(owned) != len(set(numbers)):
            raise ValueError("not owned")
        if RemediationNumber.objects.filter(
            enterprise=enterprise, e164__in=numbers, in_flight=True
        ).exists():
            raise ValueError("in flight")
        request = RemediationRequest.objects.create(
            organisation=actor.organisation,
            enterprise=enterprise,
            call_purpose="Bench",
            phone_numbers_count=len(numbers),
            phone_numbers_submitted=len(numbers),
            phone_numbers_ineligible=0,
            created_by="bench",
            provider="sandbox",
        )
        RemediationNumber.objects.bulk_create(
            [
                RemediationNumber(
                    request=request,
                    enterprise=enterprise,
                    e164=number,
                    position=position,
                    eligible=True,
                    in_flight=True,
                )
                for position, number in enumerate(numbers)
            ],
            batch_size=1000,
        )


def setup_in_flight(actor: Actor, enterprise: Enterprise) -> None:
    now = timezone.now()
    rows = []
    for i in range(IN_FLIGHT):
        due = i % (IN_FLIGHT // DUE) == 0
        rows.append(
            RemediationRequest(
                organisation=actor.organisation,
                enterprise=enterprise,
                status=IN_FLIGHT_STATUSES[i % 2],
                call_purpose="Bench",
                phone_numbers_count=1,
                phone_numbers_submitted=1,
                phone_numbers_ineligible=0,
                created_by="bench",
                provider="sandbox",
                upstream_id=f"up-{i}",
                next_check_at=now - dt.timedelta(seconds=i % 97)
                if due
                else now + dt.timedelta(minutes=5 + i % 60),
            )
        )
    RemediationRequest.objects.bulk_create(rows, batch_size=2000)


def release_claims() -> None:
    RemediationRequest.objects.exclude(claim_token="").update(
        claim_token="", claimed_until=None
    )


def naive_tick() -> int:
    now = timezone.now()
    with transaction.atomic():
        due = (
            RemediationRequest.objects.filter(
                status__in=IN_FLIGHT_STATUSES, next_check_at__lte=now
            )
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_check_at")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:TICK_BATCH])
        return RemediationRequest.objects.filter(pk__in=ids).update(
            claim_token="naive", claimed_until=now + dt.timedelta(minutes=2)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    tasks.enqueue_process = lambda request_id: None  # no broker in a benchmark
    creation = connection.creation
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        actor, enterprise, numbers = setup_enterprise()

        def ours_submit() -> None:
            services.remediation_submit(
                actor=actor,
                enterprise=enterprise,
                phone_numbers=numbers,
                call_purpose="Outbound appointment reminders.",
            )

        submit_ours = median_ms(ours_submit, free_numbers, args.runs)
        submit_naive = median_ms(
            lambda: naive_submit(actor, enterprise, numbers),
            free_numbers,
            args.runs,
        )
        RemediationRequest.objects.all().delete()
        setup_in_flight(actor, enterprise)
        claimed = poller.tick(limit=TICK_BATCH)
        assert len(claimed.requests) == TICK_BATCH
        release_claims()
        tick_ours = median_ms(
            lambda: poller.tick(limit=TICK_BATCH), release_claims, args.runs
        )
        assert naive_tick() == TICK_BATCH
        tick_naive = median_ms(naive_tick, release_claims, args.runs)
    finally:
        creation.destroy_test_db(creation.connection.settings_dict["NAME"], verbosity=0)

    vendor = connection.vendor
    print(
        f"database: {vendor}; median of {args.runs} runs; load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'case':<52} {'ours ms':>9} {'naive ms':>9} {'speed-up':>9}")
    rows = [
        (f"submit {BATCH:,} numbers (validate + store)", submit_ours, submit_naive),
        (
            f"poller tick: claim {TICK_BATCH} of {DUE:,} due / {IN_FLIGHT:,} in flight",
            tick_ours,
            tick_naive,
        ),
    ]
    for name, ours, naive in rows:
        print(f"{name:<52} {ours:>9.1f} {naive:>9.1f} {naive / ours:>8.1f}×")
    print(
        f"target: submit median < 300 ms -> {'met' if submit_ours < 300 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
