"""Demo data of the outbound policy check (idempotent): two Do-Not-Call lists, one
imported from a generated registry file, verified caller IDs, consent, and a few
refused calls so the Policy page has something to show."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.http import Http404

from trustconsole.core.actor import Actor
from voicegate.policy import services
from voicegate.policy.models import DncList

NATIONAL = "US National DNC (sample)"


def seed(*, actor: Actor) -> None:
    """Create the demo lists and records once; running it again changes nothing."""
    from accounts import demo as accounts_demo

    # Customer accounts are seeded after voice; make sure the demo calls have some.
    accounts_demo.seed(actor=actor)
    if DncList.objects.filter(organisation=actor.organisation, name=NATIONAL).exists():
        return
    national = services.dnc_list_create(
        actor=actor,
        name=NATIONAL,
        kind="national",
        country="US",
        description="A generated sample of a national registry download.",
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "national-sample.csv"
        with path.open("w") as out:
            out.write("phone_number,added_on\n")
            out.writelines(
                f"{2015550000 + i * 37},2026-01-{1 + i % 28:02d}\n" for i in range(5000)
            )
            out.write("555-0100,2026-02-01\n")  # too short: shown as unusable
        with path.open("rb") as upload:
            job = services.dnc_import_start(
                actor=actor,
                dnc_list=national,
                upload=upload,
                file_name="national-sample.csv",
                region="US",
                enqueue=False,
            )
    services.dnc_import_process(import_id=job.pk)
    own = services.dnc_list_create(
        actor=actor, name="Opted out", description="Asked us not to call again."
    )
    for number in ("+14155550123", "+442079460999", "+12025550188"):
        services.dnc_number_add(actor=actor, dnc_list=own, number=number)
    services.caller_id_verify(
        actor=actor, number="+14155550100", method="document", note="Main line"
    )
    services.consent_record(
        actor=actor, number="+12025550188", evidence="Web form opt-in, ticket 4411"
    )
    _accounts_part(actor)


def _accounts_part(actor: Actor) -> None:
    """Caller IDs and refused calls of the demo customer accounts, if there are any."""
    from accounts.models import Account

    accounts = list(
        Account.objects.filter(organisation=actor.organisation).order_by("id")[:3]
    )
    for index, account in enumerate(accounts):
        number = f"+1415555016{index}"
        services.caller_id_verify(
            actor=actor, number=number, account=account, method="call"
        )
        for destination, caller in (
            ("+14155550123", number),  # on the own DNC list
            ("+14155550150", "+14155550999"),  # spoofed caller ID
            ("911", number),  # emergency number
        ):
            try:
                services.outbound_check(
                    actor=actor,
                    from_number=caller,
                    to_number=destination,
                    account=str(account.public_id),
                )
            except (ValidationError, Http404):
                continue
